import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import { OffsiteSettings } from "../config/backups";
import { backup, offsiteEnvPath, renderBackupConf, renderOffsiteEnv, restoreTool } from "../render/backup";
import { renderHostTool } from "../render/maintenance";
import { componentPackages, packagesParam } from "../render/packages";
import { maintenanceTool } from "./maintenanceTool";
import { scriptStep, SshConnectionArgs, stagedFile } from "./remote";

export interface BackupsArgs {
  /** The Synapse VPS: it has Synapse's passfile, the signing key, the config and the media. */
  connection: SshConnectionArgs;
  /** systemd OnCalendar expression. */
  schedule: pulumi.Input<string>;
  /** The newest runs kept (here and off-host). */
  keep: pulumi.Input<number>;
  /** local: mirror the media store; none: media is in a bucket. */
  media: pulumi.Input<"local" | "none">;
  /** The encrypted off-host copy (the secret access key in it is made secret here). */
  offsite?: OffsiteSettings;
  /** What the timer is enabled after (Synapse, once it has made its database and key); the files are staged meanwhile. */
  enableAfter?: pulumi.Resource[];
}

/**
 * Nightly backups on the Synapse VPS (`synapse-backup`): the database dump, checked by reading it
 * back, the signing key, the config and this program's state, each 0600, and an incremental
 * mirror of local media; with `offsite`, each run and the new media also go to a bucket,
 * encrypted with age. A failed run fails its unit; `synapse-backup --status` says how old the
 * last good one is. `synapse-restore` is installed next to it for `npm run admin -- restore`.
 */
export class Backups extends pulumi.ComponentResource {
  public readonly timer: command.remote.Command;

  constructor(name: string, args: BackupsArgs, opts?: pulumi.ComponentResourceOptions) {
    super("synapse:index:Backups", name, {}, opts);
    const conn = args.connection;
    // age encrypts the copies, rclone ships them; both from Debian, in one apt transaction.
    const packages = scriptStep(`${name}-packages`, {
      connection: conn, script: "ensure-packages",
      params: { PACKAGES: packagesParam([...componentPackages.age, ...(args.offsite ? componentPackages.rclone : [])]) },
    }, { parent: this });
    const offsiteEnv = args.offsite ? [stagedFile(`${name}-offsite-env`, {
      connection: conn, path: offsiteEnvPath, content: pulumi.secret(renderOffsiteEnv(args.offsite)), mode: "0600", owner: "root:root",
    }, { parent: this })] : [];
    stagedFile(`${name}-restore-tool`, {
      connection: conn, path: restoreTool.toolPath, content: renderHostTool(restoreTool.name, backup.confPath), mode: "0755", owner: "root:root",
    }, { parent: this, dependsOn: [packages] });
    const offsite = !!args.offsite;
    this.timer = maintenanceTool(`${name}-timer`, {
      connection: conn,
      toolName: backup.name,
      tool: pulumi.all([args.schedule, args.keep, args.media]).apply(([schedule, keep, media]) => ({
        ...backup, description: "Synapse backup: database, signing key, config, media", schedule, conf: renderBackupConf(keep, media, offsite),
        after: ["matrix-synapse.service", "postgresql.service"],
      })),
    }, { parent: this, dependsOn: [packages, ...offsiteEnv, ...(args.enableAfter ?? [])] });
    this.registerOutputs({});
  }
}
