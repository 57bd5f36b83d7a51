// The database maintenance the homeserver runs by itself: tools installed on the Synapse VPS and
// the systemd timers that run them (their output goes to the journal).
import * as fs from "node:fs";
import * as path from "node:path";

export const hostToolsDir = path.join(__dirname, "..", "host-tools");
export const dbReportTool = "/usr/local/sbin/synapse-db-report";
export const dbReportConf = "/etc/synapse-deploy/db-report.conf";

/** A tool from host-tools/, as installed: a real .sh file, shellchecked like the scripts. */
export function hostTool(name: string): string {
  return fs.readFileSync(path.join(hostToolsDir, `${name}.sh`), "utf8");
}

export function renderDbReportConf(alertMiB: number): string {
  return `# Managed by the synapse Pulumi program.\n# A report exits 2 (a failed unit) when the database grew faster than this, in MiB per day.\nalert_mib=${alertMiB}\n`;
}

export function renderDbReportService(): string {
  return [
    "# Managed by the synapse Pulumi program.",
    "[Unit]",
    "Description=Synapse database report: size, largest tables, state, media, growth (synapse-deploy)",
    "After=network-online.target matrix-synapse.service",
    "",
    "[Service]",
    "Type=oneshot",
    `ExecStart=${dbReportTool}`,
    "Nice=10",
    "IOSchedulingClass=idle",
    "",
  ].join("\n");
}

/** `schedule` is a systemd OnCalendar expression; Persistent catches up a run missed while down. */
export function renderDbReportTimer(schedule: string): string {
  return [
    "# Managed by the synapse Pulumi program.",
    "[Unit]",
    "Description=Synapse database report (synapse-deploy)",
    "",
    "[Timer]",
    `OnCalendar=${schedule}`,
    "Persistent=true",
    "RandomizedDelaySec=1h",
    "",
    "[Install]",
    "WantedBy=timers.target",
    "",
  ].join("\n");
}
