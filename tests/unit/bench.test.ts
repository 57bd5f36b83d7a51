// The benchmark suite's arithmetic and its report (the suite itself: npm run bench).
import { spawnSync } from "node:child_process";
import * as path from "node:path";
import { BenchResults, renderMarkdown } from "../../bench/report";
import { compare, interleaved, measured, median, percentile } from "../../bench/stats";

const root = path.join(__dirname, "..", "..");

it("takes nearest-rank percentiles and medians, and ratios of medians", () => {
  const xs = [5, 1, 4, 2, 3];
  expect([median(xs), percentile(xs, 95), percentile(xs, 1), percentile([7], 99)]).toEqual([3, 5, 1, 7]);
  expect(percentile(Array.from({ length: 100 }, (_, i) => i + 1), 99)).toBe(99);
  expect(median([4, 1, 3, 2])).toBe(2.5);
  expect(() => median([])).toThrow("median of an empty sample");
  expect(() => percentile([], 50)).toThrow("percentile of an empty sample");
  const c = compare("up", measured("ours", "s", [10, 30, 20]), measured("floor", "s", [5, 5, 50]));
  expect(c.ratio).toBe(4);
});

it("interleaves rounds", async () => {
  const order: string[] = [];
  const runs = await interleaved(2, { a: async () => { order.push("a"); return 1; }, b: async () => { order.push("b"); return 2; } });
  expect(order).toEqual(["a", "b", "a", "b"]);
  expect(runs).toEqual({ a: [1, 1], b: [2, 2] });
});

it("writes a Markdown table and an SVG chart of each figure against its baseline", async () => {
  const r: BenchResults = {
    date: "2026-11-27", machine: { cpus: 2, cpuModel: "cpu", memoryGiB: 24, kernel: "6.1" }, rounds: 3, smoke: false, minutes: 12.5,
    sections: [{ title: "Provisioning", notes: ["a note"], comparisons: [compare("bare VPS → homeserver", measured("pulumi up", "s", [120, 130, 125]), measured("apt-get", "s", [50, 50, 50]))] }],
  };
  expect(renderMarkdown(r)).toContain("| bare VPS → homeserver | pulumi up: 125 s | apt-get: 50.0 s | **2.50×** |");
  // Vega is ESM only, which jest's CommonJS runtime cannot import: tsx runs it, as npm run bench does.
  const chart = spawnSync(path.join(root, "node_modules", ".bin", "tsx"), ["-e",
    `import { renderChart } from "./bench/report.ts"; renderChart(${JSON.stringify(r)}).then((svg) => process.stdout.write(svg));`], { cwd: root, encoding: "utf8" });
  expect(chart.stderr).toBe("");
  const svg = chart.stdout;
  expect(svg).toMatch(/^<svg /);
  expect(svg).toContain("bare VPS → homeserver");
});
