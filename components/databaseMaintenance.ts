import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import { stagedDir } from "../render/paths";
import {
  adminTokenPath, dbReport, hostTool, MaintenanceTool, purgeHistory, renderDbReportConf, renderPurgeHistoryConf, renderToolService,
  renderToolTimer,
} from "../render/maintenance";
import { scriptStep, sha256, SshConnectionArgs, stagedFile } from "./remote";

export interface DatabaseMaintenanceArgs {
  /** The Synapse VPS: it has Synapse's passfile (the database's address and credentials) and the media. */
  connection: SshConnectionArgs;
  /** systemd OnCalendar expression for the report. */
  reportSchedule: pulumi.Input<string>;
  /** The report fails (exit 2) above this growth, in MiB per day. */
  growthAlertMiB: pulumi.Input<number>;
  /** Rooms whose history older than keepSeconds is purged on `schedule`, with the admin's token. */
  purgeHistory?: { schedule: string; rooms: { roomId: string; keepSeconds: number }[]; adminToken: pulumi.Input<string> };
}

/**
 * What keeps the database in view and small, on timers: the database report
 * (`synapse-db-report`: size, largest tables, state, media, growth with an alert) and, for rooms
 * named in config, scheduled history purges (`synapse-purge-history`).
 */
export class DatabaseMaintenance extends pulumi.ComponentResource {
  public readonly report: command.remote.Command;

  constructor(name: string, args: DatabaseMaintenanceArgs, opts?: pulumi.ComponentResourceOptions) {
    super("synapse:index:DatabaseMaintenance", name, {}, opts);
    this.report = this.install(`${name}-report`, dbReport.name, args.connection, pulumi.all([args.reportSchedule, args.growthAlertMiB]).apply(([schedule, mib]) => ({
      ...dbReport, description: "Synapse database report: size, largest tables, state, media, growth", schedule, conf: renderDbReportConf(mib),
    })), []);
    if (args.purgeHistory && args.purgeHistory.rooms.length > 0) {
      const p = args.purgeHistory;
      const token = stagedFile(`${name}-admin-token`, {
        connection: args.connection, path: adminTokenPath, mode: "0600", owner: "root:root", content: pulumi.secret(p.adminToken),
      }, { parent: this });
      this.install(`${name}-purge-history`, purgeHistory.name, args.connection, pulumi.output({
        ...purgeHistory, description: "Synapse history purges of the rooms named in stack config", schedule: p.schedule,
        conf: renderPurgeHistoryConf(p.rooms),
      }), [token]);
    }
    this.registerOutputs({});
  }

  /** Stages the tool, its config, service and timer, then maintenance-install puts them in place. */
  private install(name: string, toolName: string, connection: SshConnectionArgs, tool: pulumi.Output<MaintenanceTool>,
    dependsOn: pulumi.Resource[]): command.remote.Command {
    const files: Record<string, pulumi.Input<string>> = {
      tool: hostTool(toolName), conf: tool.apply((t) => t.conf), service: tool.apply(renderToolService), timer: tool.apply(renderToolTimer),
    };
    const staged = Object.entries(files).map(([file, content]) => stagedFile(`${name}-${file}`, {
      connection, path: `${stagedDir}/maintenance/${toolName}/${file}`, content, mode: "0644", owner: "root:root",
    }, { parent: this }));
    return scriptStep(name, {
      connection,
      script: "maintenance-install",
      params: pulumi.all([tool, pulumi.all(Object.values(files))]).apply(([t, contents]) => ({
        NAME: t.name, TOOL: t.toolPath, CONF: t.confPath, CONTENT_SHA256: sha256(contents.join("\0")).slice(0, 16),
      })),
    }, { parent: this, dependsOn: [...staged, ...dependsOn] });
  }
}
