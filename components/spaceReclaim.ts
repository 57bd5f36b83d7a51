import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import type { ReclaimSettings } from "../config";
import { componentPackages } from "../render/packages";
import { reclaimTool } from "../render/reclaim";
import { maintenanceTool } from "./maintenanceTool";
import { scriptStep, SshConnectionArgs } from "./remote";

export interface SpaceReclaimArgs {
  /** The database host: pg_repack runs there, as postgres, over the local socket. */
  connection: SshConnectionArgs;
  database: pulumi.Input<string>;
  /** The PostgreSQL cluster ("major/name") serving it: pg_repack is per major. */
  cluster: pulumi.Input<string>;
  settings: pulumi.Input<ReclaimSettings>;
}

/**
 * synapse-reclaim on the database host: pg_repack for the PostgreSQL that serves Synapse (its
 * install step says whether the distribution packages it for that major version), the tool, and
 * its timer. The compressor's runs end with it too.
 */
export class SpaceReclaim extends pulumi.ComponentResource {
  /** Its stdout names the pg_repack installed, or why there is none. */
  public readonly install: command.remote.Command;
  public readonly timer: command.remote.Command;

  constructor(name: string, args: SpaceReclaimArgs, opts?: pulumi.ComponentResourceOptions) {
    super("synapse:index:SpaceReclaim", name, {}, opts);
    this.install = scriptStep(`${name}-install`, {
      connection: args.connection,
      script: "reclaim-install",
      params: pulumi.output(args.cluster).apply((cluster) => ({ PG_CLUSTER: cluster, PACKAGE: componentPackages.reclaim[0] })),
    }, { parent: this });
    this.timer = maintenanceTool(`${name}-timer`, {
      connection: args.connection,
      toolName: "synapse-reclaim",
      tool: pulumi.all([args.database, args.cluster, args.settings]).apply(([database, cluster, s]) => reclaimTool(database, cluster, s)),
    }, { parent: this, dependsOn: [this.install] });
    this.registerOutputs({ install: this.install.stdout });
  }
}
