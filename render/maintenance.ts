// The database maintenance the homeserver runs by itself: tools installed on the Synapse VPS and
// the systemd timers that run them (their output goes to the journal).
import * as fs from "node:fs";
import * as path from "node:path";
import hostLayout from "../config/hostLayout.json";
import { backupDir } from "./backup";
import { deployConfigDir, deployStateDir, mediaStorePath, synapseConfigDir, synapseLocalUrl } from "./paths";
import { shellQuote } from "./script";

export const hostToolsDir = path.join(__dirname, "..", "host-tools");

/** A tool from host-tools/, as installed: a real .sh file, shellchecked like the scripts (or a file named with its extension, .py). */
export function hostTool(name: string): string {
  return fs.readFileSync(path.join(hostToolsDir, /\.\w+$/.test(name) ? name : `${name}.sh`), "utf8");
}

/** The admin's access token, for the tools that use the admin API (0600, root). */
export const adminTokenPath = `${deployConfigDir}/admin-token`;

/**
 * Where things are on the host, as every installed tool sees it (the tools use these names):
 * rendered in after the tool's leading comment, from config/hostLayout.json and render/.
 * `conf`: the tool's own settings file.
 */
export function hostToolLayout(conf?: string): string {
  const places: Record<string, string> = {
    SYNAPSE_URL: synapseLocalUrl, SYNAPSE_ETC: synapseConfigDir, SYNAPSE_MEDIA: mediaStorePath,
    DEPLOY_STATE: deployStateDir, DEPLOY_CONFIG: deployConfigDir,
    ADMIN_TOKEN: adminTokenPath, BACKUP_DIR: backupDir,
    BACKUP_RUN_FORMAT: hostLayout.backupRunName.strftime, BACKUP_RUN_PATTERN: hostLayout.backupRunName.pattern,
    ...(conf ? { TOOL_CONF: conf } : {}),
  };
  return [
    "# Where things are on this host (rendered by the synapse Pulumi program from config/hostLayout.json).",
    "# shellcheck disable=SC2034 # not every tool uses every place",
    `declare ${Object.entries(places).map(([k, v]) => `${k}=${shellQuote(v)}`).join(" \\\n  ")}`,
    "",
  ].join("\n");
}

/** A tool from host-tools/ as installed: its leading comment, where things are on the host, the rest. */
export function renderHostTool(name: string, conf?: string): string {
  const text = hostTool(name);
  const body = text.search(/^(?!#|$)/m);
  return text.slice(0, body) + hostToolLayout(conf) + text.slice(body);
}

/** What one maintenance tool installs: the tool, its config, a oneshot service and its timer. */
export interface MaintenanceTool {
  name: string;
  description: string;
  /** Where it is installed, and where its config goes. */
  toolPath: string;
  confPath: string;
  conf: string;
  /** systemd OnCalendar expression. */
  schedule: string;
  /** Units the service runs after (default: Synapse). */
  after?: string[];
  /** The timer's random delay (default 1h: spreads hosts apart). */
  randomizedDelay?: string;
}

export const dbReport = { name: "synapse-db-report", toolPath: "/usr/local/sbin/synapse-db-report", confPath: "/etc/synapse-deploy/db-report.conf" };
export const purgeHistory = { name: "synapse-purge-history", toolPath: "/usr/local/sbin/synapse-purge-history", confPath: "/etc/synapse-deploy/purge-history.conf" };
export const purgeEmptyRooms = { name: "synapse-purge-empty-rooms", toolPath: "/usr/local/sbin/synapse-purge-empty-rooms", confPath: "/etc/synapse-deploy/purge-empty-rooms.conf" };
export const purgeRemoteMedia = { name: "synapse-purge-remote-media", toolPath: "/usr/local/sbin/synapse-purge-remote-media", confPath: "/etc/synapse-deploy/purge-remote-media.conf" };

export function renderDbReportConf(alertMiB: number): string {
  return `# Managed by the synapse Pulumi program.\n# A report exits 2 (a failed unit) when the database grew faster than this, in MiB per day.\nalert_mib=${alertMiB}\n`;
}

export function renderPurgeEmptyRoomsConf(keepSeconds: number): string {
  return `# Managed by the synapse Pulumi program.\n# Rooms no local user is in and nothing happened in for this many seconds are deleted (emptyRoomRetention).\nkeep_seconds=${keepSeconds}\n`;
}

export function renderPurgeRemoteMediaConf(keepSeconds: number): string {
  return `# Managed by the synapse Pulumi program.\n# Cached remote media not accessed for this many seconds is deleted (mediaRetentionRemote).\nkeep_seconds=${keepSeconds}\n`;
}

/** One `room_id seconds-to-keep` per line. */
export function renderPurgeHistoryConf(rooms: { roomId: string; keepSeconds: number }[]): string {
  return ["# Managed by the synapse Pulumi program: room, seconds of history kept.", ...rooms.map((r) => `${r.roomId} ${r.keepSeconds}`), ""].join("\n");
}

export function renderToolService(t: MaintenanceTool): string {
  return [
    "# Managed by the synapse Pulumi program.",
    "[Unit]",
    `Description=${t.description} (synapse-deploy)`,
    `After=network-online.target ${(t.after ?? ["matrix-synapse.service"]).join(" ")}`,
    "",
    "[Service]",
    "Type=oneshot",
    `ExecStart=${t.toolPath}`,
    "Nice=10",
    "IOSchedulingClass=idle",
    "",
  ].join("\n");
}

/** Persistent catches up a run missed while the host was down; the delay spreads hosts apart. */
export function renderToolTimer(t: MaintenanceTool): string {
  return [
    "# Managed by the synapse Pulumi program.",
    "[Unit]",
    `Description=${t.description} (synapse-deploy)`,
    "",
    "[Timer]",
    `OnCalendar=${t.schedule}`,
    "Persistent=true",
    `RandomizedDelaySec=${t.randomizedDelay ?? "1h"}`,
    // The same delay after every reload: a re-apply never moves the next run.
    "FixedRandomDelay=true",
    "",
    "[Install]",
    "WantedBy=timers.target",
    "",
  ].join("\n");
}
