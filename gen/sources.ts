// What each generated block holds, by the block's name. Figures come from the files runs wrote
// (docs/results/e2e.json by a complete e2e run, bench/results/ by npm run bench); nothing here
// is typed by hand.
import * as fs from "node:fs";
import * as path from "node:path";
import { configReference, federationLimitTable, loaderRuleTable, pulumiYamlConfig, tierSummary, tierTable } from "./config";
import { alertTable } from "./monitoring";

export const repoRoot = path.join(__dirname, "..");
export const e2eResultsFile = path.join(repoRoot, "docs", "results", "e2e.json");

/** One figure an e2e run measured. */
export interface Figure {
  value: number | string;
  unit?: string;
  /** What it is, in words (for the results page). */
  what: string;
}

export interface E2eResults {
  date: string;
  machine: string;
  /** Wall time of the whole e2e run, in seconds. */
  seconds: number;
  figures: Record<string, Figure>;
  /** Tables of seconds the suite recorded (test-output/e2e/<table>.json). */
  tables: Record<string, Record<string, number>>;
}

export function readE2eResults(file = e2eResultsFile): E2eResults {
  if (!fs.existsSync(file)) throw new Error(`${path.relative(repoRoot, file)} is missing: it is written by a complete, passing npm run test:e2e`);
  return JSON.parse(fs.readFileSync(file, "utf8"));
}

/** A figure as prose: "274 MiB", "7.3 s", "61". */
export function formatFigure(f: Figure): string {
  if (typeof f.value === "string") return f.value;
  const digits = Number.isInteger(f.value) ? 0 : Math.abs(f.value) < 10 ? 1 : 0;
  const n = f.value.toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits });
  return f.unit ? `${n} ${f.unit}` : n;
}

/** The newest non-smoke bench results (bench/results/<date>.md and .json). */
function latestBench(): { date: string; markdown: string; json: any } {
  const dir = path.join(repoRoot, "bench", "results");
  const dates = fs.readdirSync(dir).map((f) => /^(\d{4}-\d{2}-\d{2})\.md$/.exec(f)?.[1]).filter((d): d is string => !!d).sort();
  const date = dates.at(-1);
  if (!date) throw new Error("bench/results holds no results: run npm run bench");
  return { date, markdown: fs.readFileSync(path.join(dir, `${date}.md`), "utf8"), json: JSON.parse(fs.readFileSync(path.join(dir, `${date}.json`), "utf8")) };
}

/** A figure of the newest bench results that has an id: `<id>.ratio`, `<id>.figure` or `<id>.baseline`. */
function benchFigure(ref: string): string {
  const [id, part] = ref.split(/\.(?=ratio$|figure$|baseline$)/);
  const { json } = latestBench();
  const c = json.sections.flatMap((s: any) => s.comparisons).find((x: any) => x.id === id);
  if (!c) throw new Error(`gen:bench:${ref}: the newest bench results have no figure '${id}' (does a scenario still give it that id?)`);
  const n = (x: number) => (Math.abs(x) >= 100 ? x.toFixed(0) : Math.abs(x) >= 10 ? x.toFixed(1) : x.toFixed(2));
  if (part === "ratio") return `${n(c.ratio)}×`;
  const m = part === "baseline" ? c.baseline : c.figure;
  return `${n(m.median)} ${m.unit}`;
}

/** Blocks the code writes (gen/config.ts), by name. */
const codeTables = {
  "config": pulumiYamlConfig, "config-reference": configReference, "tiers": tierTable, "tiers-summary": tierSummary,
  "federation-limits": federationLimitTable, "config-rules": loaderRuleTable, "alerts": alertTable,
};

/**
 * The content of the block called `name`:
 * - `e2e:<figure>`: one figure of the last complete e2e run, inline;
 * - `e2e-excerpt:<figure>`: a text figure (an excerpt of a run's output) as a code block;
 * - `e2e-run`: when and where that run was;
 * - `bench-results`: the newest bench results' tables, without their title;
 * - `bench:<id>.ratio|figure|baseline`: one figure of them, inline; `bench-date`: their date;
 * - `bench-chart`: their chart, `bench-chart:<name>`: a scenario's own chart of them, as an image
 *   linked from the file;
 * - `alerts`: every alert rule, its notice and its expression (gen/monitoring.ts);
 * - `config`: Pulumi.yaml's config block; `config-reference`: the docs' table of every key;
 *   `tiers`: the tiers side by side, `tiers-summary`: the tiers in brief, `federation-limits`: inbound
 *   federation's limits per tier, `config-rules`: the rules of the loaders (gen/config.ts).
 */
export function renderSource(name: string, file = path.join(repoRoot, "README.md")): string {
  const [kind, arg] = name.split(/:(.*)/s);
  switch (kind) {
    case "e2e":
    case "e2e-excerpt": {
      const f = readE2eResults().figures[arg];
      if (!f) throw new Error(`gen:${name}: docs/results/e2e.json has no figure '${arg}' (is a test still recording it?)`);
      return kind === "e2e" ? formatFigure(f) : `\`\`\`\n${String(f.value).trimEnd()}\n\`\`\``;
    }
    case "e2e-run": {
      const r = readE2eResults();
      return `${r.date}, ${r.machine}, the whole suite in ${Math.round(r.seconds / 60)} min`;
    }
    case "bench-results":
      return latestBench().markdown.replace(/^# .*\n+/, "");
    case "bench":
      return benchFigure(arg);
    case "bench-date":
      return latestBench().date;
    case "bench-chart": {
      // The run's chart of every figure against its baseline (bench/results/<date>.svg), or a
      // section's own, named by the scenario (<date>-<name>.svg); linked from this file.
      const { date, json } = latestBench();
      const link = (svg: string) => path.relative(path.dirname(file), path.join(repoRoot, "bench", "results", svg));
      if (arg === undefined) return `![figures against their baselines, ${date}](${link(`${date}.svg`)})`;
      const section = json.sections.find((s: any) => s.chartName === arg);
      if (!section) throw new Error(`gen:bench-chart:${arg}: the newest bench results have no chart '${arg}'`);
      return `![${section.chart.title ?? arg}](${link(`${date}-${arg}.svg`)})`;
    }
    default:
      if (kind in codeTables) return codeTables[kind as keyof typeof codeTables]();
      throw new Error(`unknown generated block gen:${name}`);
  }
}
