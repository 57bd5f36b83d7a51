import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import {
  adminTokenPath, dbReport, purgeHistory, renderDbReportConf, renderPurgeHistoryConf,
} from "../render/maintenance";
import { maintenanceTool } from "./maintenanceTool";
import { SshConnectionArgs, stagedFile } from "./remote";
import { StateCompressor, StateCompressorArgs } from "./stateCompressor";

export interface DatabaseMaintenanceArgs {
  /** The Synapse VPS: it has Synapse's passfile (the database's address and credentials) and the media. */
  connection: SshConnectionArgs;
  /** systemd OnCalendar expression for the report. */
  reportSchedule: pulumi.Input<string>;
  /** The report fails (exit 2) above this growth, in MiB per day. */
  growthAlertMiB: pulumi.Input<number>;
  /** Rooms whose history older than keepSeconds is purged on `schedule`, with the admin's token. */
  purgeHistory?: { schedule: string; rooms: { roomId: string; keepSeconds: number }[]; adminToken: pulumi.Input<string> };
  /** synapse_auto_compressor on the database host, on a timer; omitted: off. */
  stateCompressor?: StateCompressorArgs;
}

/**
 * What keeps the database in view and small, on timers: the database report
 * (`synapse-db-report`: size, largest tables, state, media, growth with an alert), state
 * compression on the database host (`synapse-compress-state`) and, for rooms named in config,
 * scheduled history purges (`synapse-purge-history`).
 */
export class DatabaseMaintenance extends pulumi.ComponentResource {
  public readonly report: command.remote.Command;
  public readonly stateCompressor?: StateCompressor;

  constructor(name: string, args: DatabaseMaintenanceArgs, opts?: pulumi.ComponentResourceOptions) {
    super("synapse:index:DatabaseMaintenance", name, {}, opts);
    this.report = maintenanceTool(`${name}-report`, {
      connection: args.connection,
      toolName: dbReport.name,
      tool: pulumi.all([args.reportSchedule, args.growthAlertMiB]).apply(([schedule, mib]) => ({
        ...dbReport, description: "Synapse database report: size, largest tables, state, media, growth", schedule, conf: renderDbReportConf(mib),
      })),
    }, { parent: this });
    if (args.purgeHistory && args.purgeHistory.rooms.length > 0) {
      const p = args.purgeHistory;
      const token = stagedFile(`${name}-admin-token`, {
        connection: args.connection, path: adminTokenPath, mode: "0600", owner: "root:root", content: pulumi.secret(p.adminToken),
      }, { parent: this });
      maintenanceTool(`${name}-purge-history`, {
        connection: args.connection,
        toolName: purgeHistory.name,
        tool: {
          ...purgeHistory, description: "Synapse history purges of the rooms named in stack config", schedule: p.schedule,
          conf: renderPurgeHistoryConf(p.rooms),
        },
      }, { parent: this, dependsOn: [token] });
    }
    if (args.stateCompressor) {
      this.stateCompressor = new StateCompressor(`${name}-compressor`, args.stateCompressor, { parent: this });
    }
    this.registerOutputs({});
  }
}
