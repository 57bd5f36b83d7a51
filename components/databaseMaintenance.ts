import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import { stagedDir } from "../render/paths";
import {
  dbReportConf, dbReportTool, hostTool, renderDbReportConf, renderDbReportService, renderDbReportTimer,
} from "../render/maintenance";
import { scriptStep, sha256, SshConnectionArgs, stagedFile } from "./remote";

export interface DatabaseMaintenanceArgs {
  /** The Synapse VPS: it has Synapse's passfile (the database's address and credentials) and the media. */
  connection: SshConnectionArgs;
  /** systemd OnCalendar expression for the report. */
  reportSchedule: pulumi.Input<string>;
  /** The report fails (exit 2) above this growth, in MiB per day. */
  growthAlertMiB: pulumi.Input<number>;
}

/**
 * What keeps the database in view and small, on timers: today the database report
 * (`synapse-db-report`: size, largest tables, state, media, growth with an alert).
 */
export class DatabaseMaintenance extends pulumi.ComponentResource {
  public readonly report: command.remote.Command;

  constructor(name: string, args: DatabaseMaintenanceArgs, opts?: pulumi.ComponentResourceOptions) {
    super("synapse:index:DatabaseMaintenance", name, {}, opts);
    const tool = "synapse-db-report";
    const files: Record<string, pulumi.Input<string>> = {
      tool: hostTool(tool),
      conf: pulumi.output(args.growthAlertMiB).apply(renderDbReportConf),
      service: renderDbReportService(),
      timer: pulumi.output(args.reportSchedule).apply(renderDbReportTimer),
    };
    const staged = Object.entries(files).map(([file, content]) => stagedFile(`${name}-report-${file}`, {
      connection: args.connection, path: `${stagedDir}/maintenance/${tool}/${file}`, content, mode: "0644", owner: "root:root",
    }, { parent: this }));
    this.report = scriptStep(`${name}-report`, {
      connection: args.connection,
      script: "maintenance-install",
      params: pulumi.all(Object.values(files)).apply((contents) => ({
        NAME: tool, TOOL: dbReportTool, CONF: dbReportConf, CONTENT_SHA256: sha256(contents.join("\0")).slice(0, 16),
      })),
    }, { parent: this, dependsOn: staged });
    this.registerOutputs({});
  }
}
