// The benchmark suite's arithmetic and its report (the suite itself: npm run bench).
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { BenchResults, renderMarkdown, chartRows } from "../../bench/report";
import { cpuShares, histogramQuantile } from "../../bench/performance/measure";
import { eventDurations, updatePhases } from "../../bench/events";
import { compare, interleaved, measured, median, percentile, verdict } from "../../bench/stats";

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

it("gives each ratio the spread of the rounds' own ratios, and calls a difference only beyond the spread", () => {
  const c = compare("cpu", measured("solo", "s", [1, 2, 3]), measured("distro", "s", [4, 4, 2]), "x", "lower");
  expect(c.ratioRange).toEqual([0.25, 1.5]);
  expect(c.verdict).toBe("within the spread");
  expect(verdict([1, 2], [3, 4], "lower")).toBe("better");
  expect(verdict([1, 2], [3, 4], "higher")).toBe("worse");
  expect(verdict([5, 6], [3, 4], "higher")).toBe("better");
  expect(verdict([4, 6], [3, 4], "higher")).toBe("within the spread");
  expect(verdict([1], [3], "lower")).toBe("one round: not called");
  // Unpaired runs (a host size against rounds): no range.
  expect(compare("memory", measured("solo", "MiB", [900, 1000]), measured("host", "MiB", [2048])).ratioRange).toBeUndefined();
});

it("reads quantiles from what a Prometheus histogram gained between two readings, as histogram_quantile does", () => {
  const before = new Map([[0.005, 10], [0.01, 10], [0.05, 10], [Infinity, 10]]);
  const after = new Map([[0.005, 10], [0.01, 60], [0.05, 110], [Infinity, 110]]);
  // 100 new requests: 50 in (5 ms, 10 ms], 50 in (10 ms, 50 ms].
  expect(histogramQuantile(before, after, 0.5)).toBeCloseTo(10, 6);
  expect(histogramQuantile(before, after, 0.25)).toBeCloseTo(7.5, 6);
  expect(histogramQuantile(before, after, 0.99)).toBeCloseTo(49.2, 6);
  expect(histogramQuantile(after, after, 0.5)).toBeNaN();
});

it("splits the VPS's CPU between Synapse, PostgreSQL, nginx and the rest of its cgroup", () => {
  const before = { total: 100, synapse: 60, postgres: 20, nginx: 5, redis: 0, other: 1 };
  const after = { total: 110, synapse: 66, postgres: 23, nginx: 5.5, redis: 0, other: 1 };
  const s = cpuShares(before, after);
  expect(s.synapse).toBeCloseTo(0.6, 9);
  expect(s.postgres).toBeCloseTo(0.3, 9);
  expect(s.nginx).toBeCloseTo(0.05, 9);
  // The rest is the cgroup's total less the three, whatever the processes' own readings say.
  expect(s.other).toBeCloseTo(0.05, 9);
  expect(cpuShares(before, before).synapse).toBeNaN();
});

it("tells from the engine's event log how long each step took and where an update's time went", () => {
  const urn = (type: string, name: string) => `urn:pulumi:dev::synapse::synapse:index:X$${type}::${name}`;
  const events = [
    { timestamp: 100, resourcePreEvent: { metadata: { type: "pulumi:pulumi:Stack", urn: "urn:stack" } } },
    { timestamp: 104, resourcePreEvent: { metadata: { type: "command:remote:Command", urn: urn("command:remote:Command", "version") } } },
    { timestamp: 107, resOutputsEvent: { metadata: { urn: urn("command:remote:Command", "version") } } },
    { timestamp: 107, resourcePreEvent: { metadata: { type: "command:remote:Command", urn: urn("command:remote:Command", "host-packages-synapse") } } },
    { timestamp: 137, resOutputsEvent: { metadata: { urn: urn("command:remote:Command", "host-packages-synapse") } } },
    { timestamp: 138, resourcePreEvent: { metadata: { type: "synapse:index:SynapseHost", urn: "urn:component" } } },
    { timestamp: 138, resourcePreEvent: { metadata: { type: "command:remote:Command", urn: urn("command:remote:Command", "synapse-activate") } } },
    { timestamp: 145, resOutputsEvent: { metadata: { urn: urn("command:remote:Command", "synapse-activate") } } },
    { timestamp: 146, summaryEvent: {} },
  ];
  const log = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "events-")), "events.json");
  fs.writeFileSync(log, events.map((e) => JSON.stringify(e)).join("\n") + "\n");
  expect(eventDurations(log)).toEqual([
    { resource: "host-packages-synapse", seconds: 30 }, { resource: "synapse-activate", seconds: 7 }, { resource: "version", seconds: 3 }]);
  // 50 s in the CLI: 7 before the packages, 30 in them, 8 after them to the last resource, 4 outside the log.
  expect(updatePhases(log, "host-packages-synapse", 50)).toEqual({ before: 7, during: 30, after: 8, outside: 4 });
  expect(() => updatePhases(log, "nginx-activate", 50)).toThrow("no resource nginx-activate");
});

it("interleaves rounds", async () => {
  const order: string[] = [];
  const runs = await interleaved(2, { a: async () => { order.push("a"); return 1; }, b: async () => { order.push("b"); return 2; } });
  expect(order).toEqual(["a", "b", "a", "b"]);
  expect(runs).toEqual({ a: [1, 1], b: [2, 2] });
});

it("writes a Markdown table and an SVG chart of each figure against its baseline", async () => {
  const longLabel = "server CPU per 1,000 messages through nginx and TLS ÷ at Synapse's listener: community (workers) ÷ distribution package, defaults (SQLite)";
  const r: BenchResults = {
    date: "2026-11-27", machine: { cpus: 2, cpuModel: "cpu", memoryGiB: 24, kernel: "6.1" }, rounds: 3, smoke: false, minutes: 12.5,
    sections: [{ title: "Provisioning", notes: ["a note"], comparisons: [
      compare("bare VPS → homeserver", measured("pulumi up", "s", [120, 130, 125]), measured("apt-get", "s", [50, 50, 50]), "deploy.first"),
      compare(longLabel, measured("a", "s", [2, 2, 2]), measured("b", "s", [1, 1, 1]), "perf.steady.cpu.community-distro"),
    ] }],
  };
  expect(renderMarkdown(r)).toContain("| bare VPS → homeserver | pulumi up: 125 (120–130) s | apt-get: 50.0 (50.0–50.0) s | **2.50×** (2.40–2.60) |  |");
  // Vega is ESM only, which jest's CommonJS runtime cannot import: tsx runs it, as npm run bench does.
  const chart = spawnSync(path.join(root, "node_modules", ".bin", "tsx"), ["-e",
    `import { renderChart } from "./bench/report.ts"; renderChart(${JSON.stringify(r)}).then((svg) => process.stdout.write(svg));`], { cwd: root, encoding: "utf8" });
  expect(chart.stderr).toBe("");
  const svg = chart.stdout;
  expect(svg).toMatch(/^<svg /);
  expect(svg).toContain("bare VPS → homeserver");
  // Every label in full: a cut one ("…") hid which two setups a ratio compares.
  // (the text drawn, not the aria-label beside it, which is always whole)
  expect(svg).toContain(`>${longLabel}</text>`);
  // One axis of ratios with the 1.0× line, grouped by section.
  expect(svg).toContain("ratio, figure ÷ baseline (log scale; 1.0× = the same)");
  expect(svg).toContain("Provisioning");
});

it("charts the figures a reader decides on, each once (the first run's), not the experiments or the details", () => {
  const fig = (what: string, id: string, ratio: number) => compare(what, measured("a", "s", [ratio]), measured("b", "s", [1]), id);
  const newer = { title: "Performance: steady (one core)", notes: [], comparisons: [
    fig("CPU: solo ÷ package", "perf.steady.cpu.solo-distro", 1.5),
    fig("CPU: solo ÷ solo at 1234abc", "perf.steady.cpu.solo-solo@1234abc", 0.9),
    fig("CPU: solo with jemalloc ÷ solo", "perf.steady.cpu.solo!jemalloc-solo", 1.1),
    fig("CPU: solo with cacheFactor=2 ÷ solo", "perf.steady.cpu.solo+cacheFactor=2-solo", 1.1),
    fig("send p99: solo ÷ package", "perf.steady.send.p99.solo-distro", 2),
    fig("Synapse's own CPU: solo ÷ package", "perf.split.steady.synapse.solo-distro", 1),
  ] };
  const older = { title: "Performance: steady (one core)", notes: [], comparisons: [
    fig("CPU: solo ÷ package", "perf.steady.cpu.solo-distro", 1.7),
    fig("CPU: community ÷ solo", "perf.steady.cpu.community-solo", 1.1),
  ] };
  const deploy = { title: "Provisioning (solo)", notes: [], comparisons: [fig("first apply ÷ apt", "deploy.first", 1.6), fig("unchanged", "deploy.unchanged", 0.1)] };
  const evaluation = { title: "Program evaluation", notes: [], comparisons: [fig("evaluate, solo", "eval.solo", 2), fig("the unit suite", "", 3)] };
  const r: BenchResults = { date: "2026-12-05", machine: { cpus: 2, cpuModel: "cpu", memoryGiB: 24, kernel: "6.1" }, rounds: 5, smoke: false, minutes: 1, sections: [evaluation, deploy, newer, older] };
  expect(chartRows(r).map((row) => [row.group, row.what, row.ratio])).toEqual([
    ["Program evaluation", "evaluate, solo", 2],
    ["Provisioning", "first apply ÷ apt", 1.6],
    ["steady", "CPU: solo ÷ package", 1.5],
    ["steady", "CPU: solo ÷ solo at 1234abc", 0.9],
    ["steady", "CPU: community ÷ solo", 1.1],
  ]);
});
