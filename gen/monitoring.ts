// What the alert rules (render/monitoring.ts) give the manual: a table of every alert, with the
// notice the admin room gets (its templates shown as ‹label›) and the expression behind it.
import { keyTable } from "../config/keys";
import { MonitoringSettings, tierMonitoring } from "../config/monitoring";
import { alertRules } from "../render/monitoring";
import { synapseDatabaseName } from "../render/postgres";

/** The rules as a solo stack with every default gets them (the memory alert names each tier's host). */
export function alertTable(): string {
  const m: MonitoringSettings = {
    interval: String(keyTable.monitoringInterval.default), alertFor: String(keyTable.monitoringAlertFor.default),
    retention: { time: tierMonitoring.solo.retentionTime, size: tierMonitoring.solo.retentionSize }, botUser: String(keyTable.monitoringBotUser.default),
  };
  const rules = alertRules(m, { tier: "solo", growthAlertMiB: Number(keyTable.databaseGrowthAlertMiB.default), backups: true, databaseName: synapseDatabaseName });
  const shown = (template: string) => template
    .replace(/\{\{ with printf[\s\S]*?\{\{ end \}\}/g, "‹the time left at the last hour's rate›")
    .replace(/\{\{ \$labels\.(\w+) \}\}/g, "‹$1›").replace(/\{\{ \$value[^}]*\}\}/g, "‹value›").replace(/\|/g, "\\|");
  return [
    "| alert | severity, waits | the notice | expression |", "|---|---|---|---|",
    ...rules.map((r) => `| \`${r.alert}\` | ${r.labels.severity}, ${r.for} | **${shown(r.annotations.summary)}**: ${shown(r.annotations.description)} | \`${r.expr.replace(/\|/g, "\\|")}\` |`),
    "",
  ].join("\n");
}
