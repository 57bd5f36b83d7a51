// The suite's results: bench/results/<date>.json (everything, every run), <date>.md (the tables)
// and <date>.svg (a chart of each figure against its baseline, made with Vega-Lite).
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { Comparison } from "./stats";

export interface BenchResults {
  date: string;
  machine: { cpus: number; cpuModel: string; memoryGiB: number; kernel: string };
  rounds: number;
  smoke: boolean;
  minutes: number;
  /** A section may bring a chart of its own (a Vega-Lite spec over its data), written as <date>-<chartName>.svg. */
  sections: { title: string; comparisons: Comparison[]; notes: string[]; extra?: Record<string, unknown>; chart?: object; chartName?: string; run?: SectionRun }[];
  /** Set when the sections come from several runs (npm run bench -- --combine): each section then names its own. */
  combined?: boolean;
}

/** The run a section came from, kept when results of several runs are combined into one day's file. */
export interface SectionRun { date: string; rounds: number; minutes: number }

export function machine(): BenchResults["machine"] {
  return { cpus: os.cpus().length, cpuModel: os.cpus()[0]?.model ?? "unknown", memoryGiB: Math.round(os.totalmem() / 2 ** 30), kernel: os.release() };
}

const fmt = (x: number) => (!Number.isFinite(x) ? "–" : Math.abs(x) >= 100 ? x.toFixed(0) : Math.abs(x) >= 10 ? x.toFixed(1) : x.toFixed(2));
const range = (xs: number[]) => (xs.length > 1 ? ` (${fmt(Math.min(...xs))}–${fmt(Math.max(...xs))})` : "");

export function renderMarkdown(r: BenchResults): string {
  const lines = [
    `# Benchmarks, ${r.date}${r.smoke ? " (smoke: one round, not for comparison)" : ""}`,
    "",
    `Machine: ${r.machine.cpus} × ${r.machine.cpuModel}, ${r.machine.memoryGiB} GiB RAM, Linux ${r.machine.kernel}. ` +
      (r.combined
        ? "Each section comes from its own run (named under its title); within a section, medians of that run's interleaved rounds, "
        : `Medians of ${r.rounds} interleaved rounds, `) +
      "with the smallest and largest round in brackets; every ratio is figure ÷ baseline, " +
      `both measured in the same run${r.combined ? "" : ` (${r.minutes.toFixed(1)} min)`}, its brackets the smallest and largest of the rounds' own ratios. ` +
      "A difference is called better or worse only when every round of one lies beyond every round of the other.",
  ];
  for (const s of r.sections) {
    lines.push("", `## ${s.title}`);
    if (r.combined && s.run) lines.push("", `From a run on ${s.run.date}: ${s.run.rounds} round(s), ${s.run.minutes.toFixed(1)} min.`);
    lines.push("", "| what | figure | baseline | ratio | |", "|---|---|---|---|---|");
    for (const c of s.comparisons) {
      const ratioRange = c.ratioRange ? ` (${fmt(c.ratioRange[0])}–${fmt(c.ratioRange[1])})` : "";
      lines.push(`| ${c.what} | ${c.figure.name}: ${fmt(c.figure.median)}${range(c.figure.runs)} ${c.figure.unit} | ` +
        `${c.baseline.name}: ${fmt(c.baseline.median)}${range(c.baseline.runs)} ${c.baseline.unit} | **${fmt(c.ratio)}×**${ratioRange} | ${c.verdict ?? ""} |`);
    }
    for (const n of s.notes) lines.push("", `- ${n}`);
  }
  return `${lines.join("\n")}\n`;
}

/** A Vega-Lite spec rendered to SVG, headless. */
export async function renderSpec(spec: object): Promise<string> {
  const vega = await import("vega");
  const vegaLite = await import("vega-lite");
  const compiled = vegaLite.compile({ $schema: "https://vega.github.io/schema/vega-lite/v5.json", ...spec } as any).spec;
  return new vega.View(vega.parse(compiled), { renderer: "none" }).toSVG();
}

/**
 * The figures the chart carries, by id: what a reader decides on, so that it fits one screen.
 * The program's evaluation per tier; provisioning against the apt floor and against the program
 * before; per scenario, the tiers' efficiency and one latency against the defaults and against
 * each other (a setup at an earlier revision, `@rev`, too); memory against the host; the trap's
 * database, treated against untreated.
 * Every other figure, and every tuning experiment (a setup with + or !), is in the tables.
 */
export const chartIds = [
  /^eval\.[a-z]+$/,
  /^deploy\.(first|now-before)$/,
  /^perf\.(steady\.cpu|steady\.rate|initial\.p50|big\.join|media\.thumbnail|fed\.cpu|memory)\.[^+!]+$/,
  /^trap\.database$/,
];

/** The chart's rows: the figures chartIds names, grouped by section title (runs of one scenario together). */
export function chartRows(r: BenchResults) {
  // Combined runs can give the same figure twice (solo ÷ the package in two runs): the first run's
  // is drawn (runs are combined newest first), the tables keep both.
  const seen = new Set<string>();
  return r.sections.flatMap((s) => s.comparisons
    .filter((c) => c.id && chartIds.some((re) => re.test(c.id!)) && Number.isFinite(c.ratio) && !seen.has(c.id))
    .map((c) => {
      seen.add(c.id!);
      return {
        group: s.title.replace(/ \(.*\)$/, "").replace(/^Performance: /, ""), what: c.what, ratio: c.ratio,
        low: c.ratioRange?.[0] ?? c.ratio, high: c.ratioRange?.[1] ?? c.ratio, verdict: c.verdict ?? "no direction",
      };
    }));
}

/**
 * Every charted ratio (chartIds) on one log axis, the 1.0× line marked, grouped by scenario, each with the
 * spread of its rounds' own ratios as an error bar and coloured by the verdict.
 */
export async function renderChart(r: BenchResults): Promise<string> {
  const rows = chartRows(r);
  const groups = [...new Set(rows.map((v) => v.group))];
  // One x domain for every group (log, padded, always showing 1.0×): the same axis throughout.
  const lows = rows.map((v) => Math.min(v.low, v.ratio, 1)).filter((x) => x > 0);
  const highs = rows.map((v) => Math.max(v.high, v.ratio, 1));
  const domain = [Math.min(1, ...lows) / 1.25, Math.max(1, ...highs) * 1.6];
  const x = { type: "quantitative", scale: { type: "log", domain }, title: "ratio, figure ÷ baseline (log scale; 1.0× = the same)" } as const;
  const color = { field: "verdict", type: "nominal", scale: { domain: ["better", "worse", "within the spread", "one round: not called", "no direction"], range: ["#2a9d3a", "#c2412d", "#777777", "#b0b0b0", "#4c78a8"] }, legend: { orient: "top", title: null, labelLimit: 0 } };
  return renderSpec({
    title: { text: `synapse benchmarks ${r.date}: medians, and the range of the rounds' own ratios`, anchor: "start" },
    spacing: 8,
    vconcat: groups.map((g, i) => ({
      // Over the plot's left edge, so every group's title starts at the same place.
      title: { text: g, anchor: "start", frame: "group", fontSize: 12 },
      data: { values: rows.filter((v) => v.group === g).concat() },
      width: 360,
      height: { step: 17 },
      // labelLimit 0: no limit, every label in full (a cut label hid which setups a ratio compares).
      encoding: { y: { field: "what", type: "nominal", sort: null, title: null, axis: { labelLimit: 0 } } },
      layer: [
        { mark: { type: "rule", strokeWidth: 1.5 }, encoding: { x: { field: "low", ...x, axis: i === groups.length - 1 ? {} : null }, x2: { field: "high" }, color } },
        { mark: { type: "point", filled: true, size: 40 }, encoding: { x: { field: "ratio", ...x }, color } },
        { mark: { type: "text", align: "left", dx: 6, fontSize: 10 }, encoding: { x: { field: "high", ...x }, text: { field: "ratio", type: "quantitative", format: ".2f" } } },
        { data: { values: [{ one: 1 }] }, mark: { type: "rule", color: "#888", strokeDash: [3, 2] }, encoding: { x: { field: "one", ...x }, y: null } },
      ],
    })),
  });
}

export async function writeResults(r: BenchResults, dir: string): Promise<string[]> {
  fs.mkdirSync(dir, { recursive: true });
  const base = path.join(dir, r.smoke ? `${r.date}-smoke` : r.date);
  fs.writeFileSync(`${base}.json`, `${JSON.stringify(r, null, 2)}\n`);
  fs.writeFileSync(`${base}.md`, renderMarkdown(r));
  fs.writeFileSync(`${base}.svg`, await renderChart(r));
  const written = [`${base}.json`, `${base}.md`, `${base}.svg`];
  for (const s of r.sections) {
    if (!s.chart || !s.chartName) continue;
    fs.writeFileSync(`${base}-${s.chartName}.svg`, await renderSpec(s.chart));
    written.push(`${base}-${s.chartName}.svg`);
  }
  return written;
}
