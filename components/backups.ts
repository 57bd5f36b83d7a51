import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import { backup, renderBackupConf } from "../render/maintenance";
import { maintenanceTool } from "./maintenanceTool";
import { SshConnectionArgs } from "./remote";

export interface BackupsArgs {
  /** The Synapse VPS: it has Synapse's passfile, the signing key, the config and the media. */
  connection: SshConnectionArgs;
  /** systemd OnCalendar expression. */
  schedule: pulumi.Input<string>;
  /** The newest runs kept. */
  keep: pulumi.Input<number>;
  /** local: mirror the media store; none: media is in a bucket. */
  media: pulumi.Input<"local" | "none">;
}

/**
 * Nightly backups on the Synapse VPS (`synapse-backup`): the database dump, checked by reading it
 * back, the signing key, the config and this program's state, each 0600, and an incremental
 * mirror of local media. A failed run fails its unit; `synapse-backup --status` says how old the
 * last good one is.
 */
export class Backups extends pulumi.ComponentResource {
  public readonly timer: command.remote.Command;

  constructor(name: string, args: BackupsArgs, opts?: pulumi.ComponentResourceOptions) {
    super("synapse:index:Backups", name, {}, opts);
    this.timer = maintenanceTool(`${name}-timer`, {
      connection: args.connection,
      toolName: backup.name,
      tool: pulumi.all([args.schedule, args.keep, args.media]).apply(([schedule, keep, media]) => ({
        ...backup, description: "Synapse backup: database, signing key, config, media", schedule, conf: renderBackupConf(keep, media),
        after: ["matrix-synapse.service", "postgresql.service"],
      })),
    }, { parent: this });
    this.registerOutputs({});
  }
}
