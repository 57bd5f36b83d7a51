// What the key table (config/keys.ts) gives the project's files: Pulumi.yaml's `config:` block
// (what the engine checks before the program runs) and the config reference, by section.
import YAML from "yaml";
import { ConfigKey, configKeys, declaredInProject, sections } from "../config/keys";
import { processCount, processMemoryMiB, serviceMemoryMiB, tierHostMiB, tierWorkers } from "../config/workers";
import { tierMonitoring } from "../config/monitoring";
import { Sizing, tierNames, tiers } from "../config/tiers";
import { tierFederationLimits } from "../config/federationLimits";
import { loaderRules } from "../config/loaderRules";
import { workerCountKeys } from "../config/keys";
import { workerKinds } from "../config/workers";
import { workerPlan } from "../render/workers";

/** The entries of Pulumi.yaml's `config:` block, two spaces in: every key the engine may declare. */
export function pulumiYamlConfig(): string {
  const entries = Object.fromEntries(configKeys.filter(declaredInProject).map((k) => [k.name, {
    type: k.type,
    ...(k.type === "array" ? { items: { type: "string" } } : {}),
    description: k.description,
    ...(k.default !== undefined ? { default: k.default } : {}),
    ...(k.secret ? { secret: true } : {}),
  }]));
  return YAML.stringify(entries, { lineWidth: 0 });
}

const shownDefault = (k: ConfigKey) =>
  k.required ? "*(required)*" : k.default === undefined ? "*(none)*" : "`" + (typeof k.default === "string" ? JSON.stringify(k.default).replace(/^"(.+)"$/, "$1") : JSON.stringify(k.default)) + "`";

/** The config reference: a table per section, every key with its type, default and description. */
export function configReference(): string {
  return sections.map((section) => {
    const rows = configKeys.filter((k) => k.section === section)
      .map((k) => `| \`${k.name}\`${k.secret ? " (secret)" : ""} | ${k.type} | ${shownDefault(k)} | ${k.description.replace(/\|/g, "\\|")} |`);
    return [`### ${section}`, "", "| key | type | default | description |", "|---|---|---|---|", ...rows, ""].join("\n");
  }).join("\n");
}

const knobs: { knob: keyof Sizing; what: string }[] = [
  { knob: "cacheFactor", what: "`cacheFactor` (Synapse `caches.global_factor`)" },
  { knob: "dbPoolMin", what: "`dbPoolMin` (Synapse `cp_min`, per process)" },
  { knob: "dbPoolMax", what: "`dbPoolMax` (Synapse `cp_max`, per process)" },
  { knob: "maxUploadSize", what: "`maxUploadSize` (Synapse and nginx)" },
  { knob: "postgresSharedBuffers", what: "`postgresSharedBuffers`" },
  { knob: "postgresEffectiveCacheSize", what: "`postgresEffectiveCacheSize`" },
  { knob: "postgresWorkMem", what: "`postgresWorkMem`" },
  { knob: "postgresMaintenanceWorkMem", what: "`postgresMaintenanceWorkMem`" },
  { knob: "postgresMaxConnections", what: "`postgresMaxConnections`" },
];

/** The tiers side by side: every sizing knob, the workers, the host and the memory budgets. */
export function tierTable(): string {
  const row = (what: string, cell: (t: (typeof tierNames)[number]) => string | number) => `| ${what} | ${tierNames.map(cell).join(" | ")} |`;
  return [
    `| | ${tierNames.join(" | ")} |`, `|---|${tierNames.map(() => "---").join("|")}|`,
    row("the host it is sized for", (t) => `${tierHostMiB[t] / 1024} GiB`),
    ...knobs.map(({ knob, what }) => row(what, (t) => String(tiers[t][knob]))),
    row("Synapse processes (main + workers)", (t) => processCount(tierWorkers[t])),
    ...workerKinds.map((kind) => row(`\`${workerCountKeys[kind].key}\``, (t) => tierWorkers[t][kind])),
    row("memory budget: main process / each worker (workers' systemd `MemoryHigh`)",
      (t) => `${processMemoryMiB[t].main} MiB / ${processCount(tierWorkers[t]) > 1 ? `${processMemoryMiB[t].worker} MiB` : "–"}`),
    row("with `turn`: coturn's memory budget", () => `${serviceMemoryMiB.turn} MiB`),
    row("with `monitoring`: Prometheus's memory budget (its `MemoryHigh`) / the rest of monitoring",
      (t) => `${tierMonitoring[t].prometheusMemoryMiB} MiB / ${serviceMemoryMiB.monitoringRest} MiB`),
    row("with `monitoring`: Prometheus keeps samples for (`monitoringRetention`), at most (`monitoringRetentionSize`)",
      (t) => `${tierMonitoring[t].retentionTime}, ${tierMonitoring[t].retentionSize}`),
    "",
  ].join("\n");
}

/** The tiers in brief, for the README: the host, the processes and which workers, the upload size. */
export function tierSummary(): string {
  const workers = (t: (typeof tierNames)[number]) => {
    const byKind = new Map<string, number>();
    for (const { name } of workerPlan(tierWorkers[t])) {
      const kind = name.replace(/\d+$/, "");
      byKind.set(kind, (byKind.get(kind) ?? 0) + 1);
    }
    return byKind.size === 0 ? "none: one process" : [...byKind].map(([kind, n]) => `${n} × \`${kind}\``).join(", ");
  };
  return [
    "| tier | sized for a host of | Synapse processes | workers | uploads up to |", "|---|---|---|---|---|",
    ...tierNames.map((t) => `| \`${t}\` | ${tierHostMiB[t] / 1024} GiB | ${processCount(tierWorkers[t])} | ${workers(t)} | ${tiers[t].maxUploadSize} |`),
    "",
  ].join("\n");
}

/** Inbound federation's limits per tier (config/federationLimits.ts). */
export function federationLimitTable(): string {
  const row = (what: string, cell: (t: (typeof tierNames)[number]) => string) => `| ${what} | ${tierNames.map(cell).join(" | ")} |`;
  const rc = (t: (typeof tierNames)[number]) => tierFederationLimits[t].rc;
  return [
    `| per tier | ${tierNames.join(" | ")} |`, `|---|${tierNames.map(() => "---").join("|")}|`,
    row("nginx: requests/s per origin, burst (`federationOriginRate`, `federationOriginBurst`)",
      (t) => `${tierFederationLimits[t].originRate}, ${tierFederationLimits[t].originBurst}`),
    row("`rc_federation`: sleep after / reject after (per window), window, delay",
      (t) => `${rc(t).sleep_limit} / ${rc(t).reject_limit}, ${rc(t).window_size} ms, ${rc(t).sleep_delay} ms`),
    row("`rc_federation`: requests of one server processed at once (`rcFederationConcurrent`)", (t) => String(rc(t).concurrent)),
    "",
  ].join("\n");
}

/** The loaders' rules (config/loaderRules.ts): each with its keys, whose it is and how it is kept. */
export function loaderRuleTable(): string {
  const cell = (text: string) => text.replace(/\|/g, "\\|");
  return [
    "| rule | what | keys | whose | how it is kept |", "|---|---|---|---|---|",
    ...loaderRules.map((r) => `| \`${r.id}\` | ${cell(r.rule)} | ${r.keys.map((k) => `\`${k}\``).join(", ")} | ${cell(r.source)} | ${r.kept} (\`${r.where}\`) |`),
    "",
  ].join("\n");
}
