// 5. Program evaluation: how long Pulumi takes to evaluate the whole program for each tier (under
// Pulumi's mocks, with providers that answer at once), against the floor: a one-resource program
// under the same mocks in the same process. And the unit suite's wall time against jest running
// one empty test file (the framework's own start-up).
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import { tierNames } from "../../config/tiers";
import { Comparison, compare, interleaved, measured } from "../stats";

const root = path.join(__dirname, "..", "..");

/** Registers resources at once: what is measured is the program and Pulumi's runtime, not a provider. */
async function instantMocks(config: Record<string, string>): Promise<{ count: () => number }> {
  let count = 0;
  await pulumi.runtime.setMocks({
    newResource: async (args) => {
      count++;
      const state: Record<string, unknown> = { ...args.inputs };
      if (args.type === "random:index/randomPassword:RandomPassword") state.result = `bench-${args.name}-0123456789abcdef`;
      if (args.type === "command:remote:Command") {
        state.stdout = args.name.endsWith("admin-user") ? JSON.stringify({ user_id: "@admin:example.org", access_token: "syt_bench" }) : "";
        state.stderr = "";
      }
      return { id: `${args.name}-id`, state };
    },
    call: (args) => args.inputs,
  }, "synapse", "bench", false);
  pulumi.runtime.setAllConfig(Object.fromEntries(Object.entries(config).map(([k, v]) => [`synapse:${k}`, v])), ["synapse:sshPrivateKey"]);
  return { count: () => count };
}

/** Evaluates `program` to its outputs; returns milliseconds and the resources registered. */
async function evaluate(config: Record<string, string>, program: () => Record<string, unknown>): Promise<{ ms: number; resources: number }> {
  const mocks = await instantMocks(config);
  const t0 = performance.now();
  const outputs = program();
  await Promise.all(Object.values(outputs).map((v) => (pulumi.Output.isInstance(v) ? new Promise((r) => (v as pulumi.Output<unknown>).apply(r)) : v)));
  // Registrations nothing awaits: wait until the count settles.
  for (let settled = -1; settled !== mocks.count();) {
    settled = mocks.count();
    await new Promise((r) => setImmediate(r));
    await new Promise((r) => setTimeout(r, 1));
  }
  return { ms: performance.now() - t0, resources: mocks.count() };
}

function floorProgram(): Record<string, unknown> {
  return { password: new random.RandomPassword("floor", { length: 16 }).result };
}

export async function evaluationScenario(rounds: number, smoke: boolean): Promise<{ comparisons: Comparison[]; notes: string[] }> {
  const { generateKeyPairSync } = await import("node:crypto");
  const key = generateKeyPairSync("ed25519").privateKey.export({ type: "pkcs8", format: "pem" }).toString();
  const base = { serverName: "example.org", host: "203.0.113.10", sshPrivateKey: key, tlsMode: "self-signed", packageSource: "debian" };
  const { synapseProgram } = require("../../program") as typeof import("../../program");
  const resources: Record<string, number> = {};
  const fns: Record<string, () => Promise<number>> = {
    floor: async () => (await evaluate(base, floorProgram)).ms,
  };
  for (const tier of tierNames) {
    fns[tier] = async () => {
      const r = await evaluate({ ...base, tier }, synapseProgram);
      resources[tier] = r.resources;
      return r.ms;
    };
  }
  // One warm-up each: the first evaluation loads modules.
  for (const fn of Object.values(fns)) await fn();
  const evaluations = Math.max(rounds, 3) * 3;
  const runs = await interleaved(evaluations, fns);
  const floor = measured("a one-resource program", "ms", runs.floor);
  const comparisons = tierNames.map((tier) =>
    compare(`evaluate the program, ${tier} tier (${resources[tier]} resources)`, measured(`${tier} tier`, "ms", runs[tier]), floor, `eval.${tier}`));

  const notes: string[] = [`each evaluation ${evaluations} times, interleaved, after one warm-up each (module loading)`];
  if (!smoke) {
    const jest = (args: string[]) => {
      const t0 = performance.now();
      const r = spawnSync(process.execPath, [path.join(root, "node_modules", "jest", "bin", "jest.js"), ...args], { cwd: root, encoding: "utf8" });
      if (r.status !== 0) throw new Error(`jest ${args.join(" ")} failed:\n${r.stderr.slice(-2000)}`);
      return (performance.now() - t0) / 1000;
    };
    const empty = fs.mkdtempSync(path.join(os.tmpdir(), "bench-jest-"));
    fs.writeFileSync(path.join(empty, "empty.test.js"), "test('nothing', () => expect(1).toBe(1));\n");
    fs.writeFileSync(path.join(empty, "jest.config.js"), "module.exports = { testEnvironment: 'node' };\n");
    try {
      const suite = await interleaved(rounds, {
        empty: async () => jest(["--rootDir", empty, "--config", path.join(empty, "jest.config.js")]),
        unit: async () => jest(["--selectProjects", "unit", "--maxWorkers=2", "--silent"]),
      });
      comparisons.push(compare("the unit suite (npm test's jest run)", measured("unit suite", "s", suite.unit), measured("jest with one empty test", "s", suite.empty)));
    } finally {
      fs.rmSync(empty, { recursive: true, force: true });
    }
  } else {
    notes.push("smoke: the unit suite's wall time was not measured");
  }
  return { comparisons, notes };
}
