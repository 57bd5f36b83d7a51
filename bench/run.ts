// npm run bench [-- --rounds 5] [--only evaluation,deploy,performance,profile,growth,trap] [--setups …] [--smoke] [--out DIR]
// The benchmark suite (root, on the sandbox): every figure a ratio against a baseline measured in
// the same run, medians over interleaved rounds, written to bench/results/<date>.json, .md, .svg.
// --smoke: one round of what runs in a few minutes (CI runs it so the suite cannot rot).
import * as fs from "node:fs";
import * as path from "node:path";
import { Command } from "commander";
import { BenchResults, machine, writeResults } from "./report";
import { compare, measured } from "./stats";
import { deployScenario } from "./scenarios/deploy";
import { evaluationScenario } from "./scenarios/evaluation";
import { growthScenario } from "./scenarios/growth";
import { performanceScenario } from "./scenarios/performance";
import { profileScenario } from "./scenarios/profile";
import { trapScenario } from "./scenarios/trap";
import { buildGoldenImages } from "../tests/sandbox/sandbox";

const scenarios = ["evaluation", "deploy", "performance", "profile", "growth", "trap"] as const;
type Scenario = (typeof scenarios)[number];

async function main(): Promise<void> {
  const cli = new Command("npm run bench --")
    .option("--rounds <n>", "interleaved rounds per figure (medians)", "5")
    .option("--only <list>", `comma-separated scenarios (${scenarios.join(", ")})`, scenarios.join(","))
    .option("--setups <list>", "performance: the setups compared (distro, hand, solo, community, or a variant <tier>+<key>=<value>[+…])", "distro,hand,solo,community")
    .option("--before <rev>", "deploy the program at this git revision too, in the same rounds (provisioning before and after a change)")
    .option("--smoke", "one round of the quick scenarios, to check the suite works")
    .option("--out <dir>", "where results go (default bench/results; test-output/bench-smoke with --smoke)")
    .option("--rerender <json>", "recompute medians and ratios of a results file from its runs, and write its table and chart again")
    .option("--combine <jsons>", "comma-separated results files of separate runs (one scenario each, say): one day's results with every section, each naming its run")
    .parse();
  const o = cli.opts<{ rounds: string; only: string; setups: string; before?: string; smoke?: boolean; out?: string; rerender?: string; combine?: string }>();
  if (o.combine) {
    const parts = o.combine.split(",").map((f) => JSON.parse(fs.readFileSync(f.trim(), "utf8")) as BenchResults);
    if (parts.some((p) => p.smoke)) throw new Error("--combine: a smoke run's results are not for comparison");
    const combined: BenchResults = {
      date: parts.map((p) => p.date).sort().at(-1)!, machine: parts[0].machine, rounds: Math.max(...parts.map((p) => p.rounds)), smoke: false,
      minutes: parts.reduce((t, p) => t + p.minutes, 0), combined: true,
      sections: parts.flatMap((p) => p.sections.map((s) => ({ ...s, run: s.run ?? { date: p.date, rounds: p.rounds, minutes: p.minutes } }))),
    };
    for (const f of await writeResults(combined, o.out ?? path.join(__dirname, "..", "bench", "results"))) console.error(`bench: wrote ${f}`);
    return;
  }
  if (o.rerender) {
    const old = JSON.parse(fs.readFileSync(o.rerender, "utf8")) as BenchResults;
    for (const s of old.sections) {
      s.comparisons = s.comparisons.map((c) => {
        // Files written before comparisons kept their direction: read it from the verdict they had.
        const better = c.better ?? (c.verdict === "better" || c.verdict === "worse" ? ((c.verdict === "better") === c.ratio < 1 ? "lower" : "higher") : undefined);
        return compare(c.what, measured(c.figure.name, c.figure.unit, c.figure.runs), measured(c.baseline.name, c.baseline.unit, c.baseline.runs), c.id, better);
      });
    }
    for (const f of await writeResults(old, o.out ?? path.dirname(o.rerender))) console.error(`bench: wrote ${f}`);
    return;
  }
  const smoke = !!o.smoke;
  const rounds = smoke ? 1 : Number(o.rounds);
  if (!Number.isInteger(rounds) || rounds < 1) throw new Error(`--rounds: given ${o.rounds}, expected an integer >= 1`);
  const only = o.only.split(",").map((s) => s.trim()) as Scenario[];
  for (const s of only) if (!scenarios.includes(s)) throw new Error(`--only: unknown scenario ${s} (expected ${scenarios.join(", ")})`);
  // The smoke runs only what needs no VPS.
  const selected = smoke ? only.filter((s) => s === "evaluation") : only;

  const t0 = Date.now();
  // Scenarios boot VPSes in parallel: every golden image first, so no boot has one to build.
  if (selected.some((s) => s !== "evaluation")) await buildGoldenImages();
  const results: BenchResults = {
    date: new Date().toISOString().slice(0, 10), machine: machine(), rounds, smoke, minutes: 0, sections: [],
  };
  const out = o.out ?? path.join(__dirname, "..", smoke ? "test-output/bench-smoke" : "bench/results");
  try {
    if (selected.includes("evaluation")) {
      console.error("bench: program evaluation");
      const r = await evaluationScenario(rounds, smoke);
      results.sections.push({ title: "Program evaluation (Pulumi mocks)", ...r });
    }
    if (selected.includes("deploy")) {
      console.error("bench: provisioning and re-apply (sandbox VPSes)");
      const r = await deployScenario(rounds, o.before);
      results.sections.push({
        title: "Provisioning and re-apply (sandbox VPS, solo tier)", comparisons: r.comparisons,
        notes: [...r.notes, `packages installed by the program (the floor installs the same): ${r.packages.join(" ")}`,
          `slowest resources of the last first apply: ${r.slowest.map((s) => `${s.resource} ${s.seconds} s`).join(", ")}`],
        extra: { slowest: r.slowest, phases: r.phases, packages: r.packages, apt: r.apt },
      });
    }
    if (selected.includes("performance")) {
      console.error("bench: performance, like for like (sandbox VPSes, one booted at a time)");
      const r = await performanceScenario(rounds, o.setups.split(",").map((x) => x.trim()));
      results.sections.push(...r.sections);
    }
    if (selected.includes("profile")) {
      console.error("bench: where PostgreSQL's time goes (sandbox VPS, pg_stat_statements)");
      const r = await profileScenario(rounds);
      results.sections.push({ title: "Where PostgreSQL's time goes per message (pg_stat_statements; sandbox VPS, solo tier)", ...r });
    }
    if (selected.includes("growth")) {
      // One pass whatever --rounds says: its row counts are deterministic.
      console.error("bench: database growth under state churn (sandbox VPS)");
      const r = await growthScenario();
      results.sections.push({ title: "Database growth under state churn (sandbox VPS, solo tier)", ...r });
    }
    if (selected.includes("trap")) {
      // One pass: its counts are deterministic, and it takes a while.
      console.error("bench: the database trap, treated and untreated side by side (sandbox VPSes)");
      const r = await trapScenario();
      results.sections.push({ title: "The database trap: a big room, treated and untreated (sandbox VPSes, solo tier)", chartName: "trap", ...r });
    }
  } catch (e) {
    // What finished is kept, apart from the results the docs are made from: a scenario can take an hour.
    results.minutes = (Date.now() - t0) / 60_000;
    if (results.sections.length > 0) {
      for (const f of await writeResults(results, path.join(out, "incomplete"))) console.error(`bench: wrote ${f} (incomplete: a later scenario failed)`);
    }
    throw e;
  }
  results.minutes = (Date.now() - t0) / 60_000;
  for (const f of await writeResults(results, out)) console.error(`bench: wrote ${f}`);
}

main().catch((e) => {
  console.error(`bench: ${e instanceof Error ? e.message : e}`);
  process.exit(1);
});
