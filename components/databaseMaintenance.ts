import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import {
  adminTokenPath, dbReport, purgeEmptyRooms, purgeHistory, purgeRemoteMedia, renderDbReportConf, renderPurgeEmptyRoomsConf, renderPurgeHistoryConf,
  renderPurgeRemoteMediaConf,
} from "../render/maintenance";
import { maintenanceTool } from "./maintenanceTool";
import { SshConnectionArgs, stagedFile } from "./remote";
import { SpaceReclaim, SpaceReclaimArgs } from "./spaceReclaim";
import { StateCompressor, StateCompressorArgs } from "./stateCompressor";

export interface DatabaseMaintenanceArgs {
  /** The Synapse VPS: it has Synapse's passfile (the database's address and credentials) and the media. */
  connection: SshConnectionArgs;
  /** systemd OnCalendar expression for the report. */
  reportSchedule: pulumi.Input<string>;
  /** The report fails (exit 2) above this growth, in MiB per day. */
  growthAlertMiB: pulumi.Input<number>;
  /** The admin's access token, for the tools that use the admin API; without it they are not installed. */
  adminToken?: pulumi.Input<string>;
  /** Rooms whose history older than keepSeconds is purged on `schedule`. */
  purgeHistory?: { schedule: string; rooms: { roomId: string; keepSeconds: number }[] };
  /** Cached remote media not accessed for keepSeconds is deleted on `schedule`. */
  remoteMediaPurge?: { schedule: string; keepSeconds: number };
  /** Rooms without local members, quiet for keepSeconds, are deleted on `schedule`. */
  emptyRoomPurge?: { schedule: string; keepSeconds: number };
  /** synapse_auto_compressor on the database host, on a timer; omitted: off. */
  stateCompressor?: Omit<StateCompressorArgs, "reclaim">;
  /** synapse-reclaim on the database host, on its timer and after each compressor run; omitted: off. */
  reclaim?: SpaceReclaimArgs;
}

/**
 * What keeps the database in view and small, on timers: the database report
 * (`synapse-db-report`: size, largest tables, state, media, growth with an alert), state
 * compression and the space it frees given back online on the database host
 * (`synapse-compress-state`, `synapse-reclaim`), the remote media cache purge
 * (`synapse-purge-remote-media`) and, for rooms named in config, scheduled history purges
 * (`synapse-purge-history`); the purges use the admin API with the admin's token.
 */
export class DatabaseMaintenance extends pulumi.ComponentResource {
  public readonly report: command.remote.Command;
  public readonly stateCompressor?: StateCompressor;
  public readonly reclaim?: SpaceReclaim;

  constructor(name: string, args: DatabaseMaintenanceArgs, opts?: pulumi.ComponentResourceOptions) {
    super("synapse:index:DatabaseMaintenance", name, {}, opts);
    this.report = maintenanceTool(`${name}-report`, {
      connection: args.connection,
      toolName: dbReport.name,
      tool: pulumi.all([args.reportSchedule, args.growthAlertMiB]).apply(([schedule, mib]) => ({
        ...dbReport, description: "Synapse database report: size, largest tables, state, media, growth", schedule, conf: renderDbReportConf(mib),
      })),
    }, { parent: this });
    const wantsToken = (args.purgeHistory?.rooms.length ?? 0) > 0 || args.remoteMediaPurge !== undefined || args.emptyRoomPurge !== undefined;
    const token = args.adminToken !== undefined && wantsToken
      ? stagedFile(`${name}-admin-token`, {
        connection: args.connection, path: adminTokenPath, mode: "0600", owner: "root:root", content: pulumi.secret(args.adminToken),
      }, { parent: this })
      : undefined;
    if (token && args.purgeHistory && args.purgeHistory.rooms.length > 0) {
      const p = args.purgeHistory;
      maintenanceTool(`${name}-purge-history`, {
        connection: args.connection,
        toolName: purgeHistory.name,
        tool: {
          ...purgeHistory, description: "Synapse history purges of the rooms named in stack config", schedule: p.schedule,
          conf: renderPurgeHistoryConf(p.rooms),
        },
      }, { parent: this, dependsOn: [token] });
    }
    if (token && args.remoteMediaPurge) {
      maintenanceTool(`${name}-purge-remote-media`, {
        connection: args.connection,
        toolName: purgeRemoteMedia.name,
        tool: {
          ...purgeRemoteMedia, description: "Synapse remote media cache purge", schedule: args.remoteMediaPurge.schedule,
          conf: renderPurgeRemoteMediaConf(args.remoteMediaPurge.keepSeconds),
        },
      }, { parent: this, dependsOn: [token] });
    }
    if (token && args.emptyRoomPurge) {
      maintenanceTool(`${name}-purge-empty-rooms`, {
        connection: args.connection,
        toolName: purgeEmptyRooms.name,
        tool: {
          ...purgeEmptyRooms, description: "Synapse deletion of rooms no local user is in any more", schedule: args.emptyRoomPurge.schedule,
          conf: renderPurgeEmptyRoomsConf(args.emptyRoomPurge.keepSeconds),
        },
      }, { parent: this, dependsOn: [token] });
    }
    if (args.reclaim) {
      this.reclaim = new SpaceReclaim(`${name}-reclaim`, args.reclaim, { parent: this });
    }
    if (args.stateCompressor) {
      this.stateCompressor = new StateCompressor(`${name}-compressor`, { ...args.stateCompressor, reclaim: this.reclaim !== undefined },
        { parent: this, dependsOn: this.reclaim ? [this.reclaim] : [] });
    }
    this.registerOutputs({});
  }
}
