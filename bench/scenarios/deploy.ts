// 1. Provisioning: a bare VPS to a homeserver answering through nginx (solo tier, `pulumi up`
//    with the dev stack), against the floor: `apt-get update` and one `apt-get install` of exactly
//    the Debian packages the program installed, on an identical fresh VPS. Where the time goes:
//    each resource's duration from the engine's event log.
//    With --before REV, the program at an earlier commit is deployed in the same rounds too, so
//    the ratio before and after a change is measured side by side.
// 2. Re-apply: `pulumi up` again unchanged (resources that run again: must be 0), and with one
//    key changed (backupKeep), against the first apply.
import * as fs from "node:fs";
import { downVps } from "../../tests/sandbox/sandbox";
import { bootVps, changes, devStack, expectClean, httpsClient, Vps } from "../../tests/e2e/support/stack";
import { checkoutOf } from "../checkout";
import { Comparison, compare, measured } from "../stats";
import { eventDurations, updatePhases } from "../events";

/** Bench VPS numbers (the e2e suite uses 1–14). */
const OURS = 20;
const FLOOR = 21;
const BEFORE = 24;

const manualPackages = async (vps: Vps) => (await vps.sh("apt-mark showmanual")).stdout.trim().split("\n").filter(Boolean).sort();

/** The apt transactions on a VPS (from apt's own history log): what ran, and for how long. */
async function aptTransactions(vps: Vps): Promise<{ command: string; seconds: number }[]> {
  const log = (await vps.sh("cat /var/log/apt/history.log 2>/dev/null || true")).stdout;
  return log.split(/\n\s*\n/).filter((e) => e.includes("Start-Date:") && e.includes("End-Date:")).map((e) => {
    const at = (key: string) => Date.parse(e.match(new RegExp(`${key}: (\\S+)\\s+(\\S+)`))!.slice(1, 3).join("T"));
    return { command: (e.match(/Commandline: (.*)/)?.[1] ?? "?").replace(/^apt-get (-q )?(-o \S+ )*/, ""), seconds: (at("End-Date") - at("Start-Date")) / 1000 };
  });
}

async function timedSh(vps: Vps, command: string): Promise<number> {
  const t0 = performance.now();
  await vps.sh(command);
  return (performance.now() - t0) / 1000;
}

export interface DeployResult {
  comparisons: Comparison[];
  notes: string[];
  /** The slowest resources of the last first apply, in seconds. */
  slowest: { resource: string; seconds: number }[];
  /** The last first apply's wall time around its packages step, in seconds. */
  phases?: ReturnType<typeof updatePhases>;
  /** The apt transactions of the last first apply. */
  apt: { command: string; seconds: number }[];
  packages: string[];
}

/** A first `pulumi up` of the solo dev stack on a fresh VPS: seconds, and the VPS for more checks. */
async function deployFresh(n: number, stackName: string, fixture?: string) {
  const vps = await bootVps(n);
  const before = await manualPackages(vps);
  const ws = await devStack(vps, stackName, {}, fixture);
  const up = await ws.update("up");
  expectClean(up);
  const https = await httpsClient(vps);
  const versions = await https.get("https://matrix.sandbox.test/_matrix/client/versions");
  await https.close();
  if (versions.status !== 200) throw new Error(`the homeserver does not answer through nginx: ${versions.status}`);
  const packages = (await manualPackages(vps)).filter((p) => !before.includes(p));
  return { vps, ws, up, packages, apt: await aptTransactions(vps) };
}

export async function deployScenario(rounds: number, beforeRev?: string): Promise<DeployResult> {
  const previous = beforeRev ? checkoutOf(beforeRev) : undefined;
  const ours: number[] = [];
  const earlier: number[] = [];
  let earlierApt: DeployResult["apt"] = [];
  const floor: number[] = [];
  let packages: string[] = [];
  let slowest: DeployResult["slowest"] = [];
  let phases: DeployResult["phases"];
  let apt: DeployResult["apt"] = [];
  const notes: string[] = [];
  const reapply: { unchanged: number[]; unchangedRuns: number[]; changed: number[]; changedRuns: number[] } = { unchanged: [], unchangedRuns: [], changed: [], changedRuns: [] };

  for (let round = 0; round < rounds; round++) {
    // Ours first in the first round: it tells the floor which packages to install.
    const order = ["ours", ...(previous ? ["before"] : []), "floor"];
    if (round % 2 === 1) order.reverse();
    for (const which of order) {
      if (which === "ours") {
        try {
          const { ws, up, packages: installed, apt: transactions } = await deployFresh(OURS, `bench-vps${OURS}-round${round + 1}`);
          ours.push(up.seconds);
          packages = installed;
          slowest = eventDurations(up.eventLog).slice(0, 12);
          phases = updatePhases(up.eventLog, "host-packages-synapse", up.seconds);
          apt = transactions;
          if (round === rounds - 1) {
            // Re-apply on the last round's stack.
            for (let i = 0; i < Math.max(rounds, 2); i++) {
              const again = await ws.update("up");
              expectClean(again);
              reapply.unchanged.push(again.seconds);
              reapply.unchangedRuns.push(changes(again).length);
            }
            for (const keep of ["5", "6"].slice(0, Math.max(1, Math.min(rounds, 2)))) {
              await ws.configSet("backupKeep", keep);
              const changed = await ws.update("up");
              expectClean(changed);
              reapply.changed.push(changed.seconds);
              reapply.changedRuns.push(changes(changed).length);
            }
          }
        } finally {
          await downVps(OURS);
        }
      } else if (which === "before") {
        try {
          const r = await deployFresh(BEFORE, `bench-vps${BEFORE}-${previous!.commit}-round${round + 1}`, previous!.dir);
          earlier.push(r.up.seconds);
          earlierApt = r.apt;
        } finally {
          await downVps(BEFORE);
        }
      } else {
        const vps = await bootVps(FLOOR);
        try {
          if (packages.length === 0) throw new Error("no package list yet");
          floor.push(await timedSh(vps, `apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends ${packages.join(" ")} >/dev/null`));
        } finally {
          await downVps(FLOOR);
        }
      }
    }
  }
  const firstApply = measured("pulumi up on a bare VPS (solo)", "s", ours);
  const floorRun = measured(`apt-get update + install of the same ${packages.length} packages`, "s", floor);
  const comparisons = [
    compare("provisioning: bare VPS → homeserver answering through nginx (solo)", firstApply, floorRun, "deploy.first"),
    ...(previous ? [
      compare(`provisioning before (the program at ${previous.commit}) against the same floor`, measured(`pulumi up on a bare VPS (solo), ${previous.commit}`, "s", earlier), floorRun, "deploy.before"),
      compare(`provisioning now against before (${previous.commit})`, firstApply, measured(`pulumi up on a bare VPS (solo), ${previous.commit}`, "s", earlier), "deploy.now-before", "lower"),
    ] : []),
    compare(`re-apply, config unchanged (resources run: ${reapply.unchangedRuns.join(", ")})`, measured("pulumi up, unchanged", "s", reapply.unchanged), firstApply, "deploy.unchanged"),
    compare(`re-apply, backupKeep changed (resources run: ${reapply.changedRuns.join(", ")})`, measured("pulumi up, one key changed", "s", reapply.changed), firstApply, "deploy.one-key"),
  ];
  if (reapply.unchangedRuns.some((n) => n !== 0)) notes.push(`an unchanged re-apply ran resources: ${reapply.unchangedRuns.join(", ")}`);
  notes.push(`apt transactions in the first apply: ${apt.length}, ${apt.reduce((t, a) => t + a.seconds, 0).toFixed(0)} s in all ` +
    `(${apt.map((a) => `${a.command.slice(0, 60)}: ${a.seconds.toFixed(0)} s`).join("; ")})`);
  if (phases) {
    notes.push(`where the last first apply's ${(phases.before + phases.during + phases.after + phases.outside).toFixed(0)} s went (engine events, whole seconds): ` +
      `${phases.before} s before the packages (the engine and the program starting, the version steps), ${phases.during} s the packages step, ` +
      `${phases.after} s after it until the last resource finished, ${phases.outside.toFixed(1)} s outside the event log (the CLI starting and exiting)`);
  }
  if (previous) {
    notes.push(`apt transactions in the first apply at ${previous.commit}: ${earlierApt.length}, ${earlierApt.reduce((t, a) => t + a.seconds, 0).toFixed(0)} s in all`);
    fs.rmSync(previous.dir, { recursive: true, force: true });
  }
  return { comparisons, notes, slowest, phases, packages, apt };
}
