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
  sections: { title: string; comparisons: Comparison[]; notes: string[]; extra?: Record<string, unknown>; chart?: object; chartName?: string }[];
}

export function machine(): BenchResults["machine"] {
  return { cpus: os.cpus().length, cpuModel: os.cpus()[0]?.model ?? "unknown", memoryGiB: Math.round(os.totalmem() / 2 ** 30), kernel: os.release() };
}

const fmt = (x: number) => (Math.abs(x) >= 100 ? x.toFixed(0) : Math.abs(x) >= 10 ? x.toFixed(1) : x.toFixed(2));

export function renderMarkdown(r: BenchResults): string {
  const lines = [
    `# Benchmarks, ${r.date}${r.smoke ? " (smoke: one round, not for comparison)" : ""}`,
    "",
    `Machine: ${r.machine.cpus} × ${r.machine.cpuModel}, ${r.machine.memoryGiB} GiB RAM, Linux ${r.machine.kernel}. ` +
      `Medians of ${r.rounds} interleaved rounds; every ratio is figure ÷ baseline, both measured in this run (${r.minutes.toFixed(1)} min).`,
  ];
  for (const s of r.sections) {
    lines.push("", `## ${s.title}`, "", "| what | figure (median) | baseline (median) | ratio |", "|---|---|---|---|");
    for (const c of s.comparisons) {
      lines.push(`| ${c.what} | ${c.figure.name}: ${fmt(c.figure.median)} ${c.figure.unit} | ${c.baseline.name}: ${fmt(c.baseline.median)} ${c.baseline.unit} | **${fmt(c.ratio)}×** |`);
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

/** A grouped bar chart: each figure next to its baseline (medians, in each row's own unit). */
export async function renderChart(r: BenchResults): Promise<string> {
  const vega = await import("vega");
  const vegaLite = await import("vega-lite");
  // Rows in the table's order, each labelled with its unit and ratio.
  const label = (c: Comparison, i: number) =>
    `${String(i + 1).padStart(2, "0")}. ${fmt(c.ratio)}× (${c.figure.unit}) ${c.what.length > 52 ? `${c.what.slice(0, 51)}…` : c.what}`;
  const values = r.sections.flatMap((s) => s.comparisons).flatMap((c, i) => [
    { what: label(c, i), kind: "figure", name: c.figure.name, value: c.figure.median },
    { what: label(c, i), kind: "baseline", name: c.baseline.name, value: c.baseline.median },
  ]);
  const spec = vegaLite.compile({
    $schema: "https://vega.github.io/schema/vega-lite/v5.json",
    title: `synapse benchmarks ${r.date}: figure vs baseline (medians)`,
    data: { values },
    facet: { row: { field: "what", type: "nominal", header: { labelAngle: 0, labelAlign: "left", labelLimit: 480 }, title: null } },
    spec: {
      width: 360, height: 40,
      layer: [
        { mark: "bar", encoding: {
          y: { field: "kind", type: "nominal", title: null, sort: ["figure", "baseline"] },
          x: { field: "value", type: "quantitative", title: null },
          color: { field: "kind", type: "nominal", scale: { domain: ["figure", "baseline"], range: ["#4c78a8", "#bab0ac"] } },
          tooltip: [{ field: "name" }, { field: "value" }],
        } },
        { mark: { type: "text", align: "left", dx: 3 }, encoding: {
          y: { field: "kind", type: "nominal", sort: ["figure", "baseline"] },
          x: { field: "value", type: "quantitative" },
          text: { field: "value", type: "quantitative", format: ".3~r" },
        } },
      ],
    },
    resolve: { scale: { x: "independent" } },
  } as any).spec;
  const view = new vega.View(vega.parse(spec), { renderer: "none" });
  return view.toSVG();
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
