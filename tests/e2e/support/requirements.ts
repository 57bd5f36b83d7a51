// What an e2e file needs from the machine, and what happens when it is missing. A file states its
// needs once (`suiteNeeding("sandbox", "engine")`) instead of choosing between describe and
// describe.skip itself, so no file can skip itself into a pass:
// - in CI (CI=true) and whenever the suite runs as root (who can install everything, as .ci/run
//   does), a missing need fails the file, with the reason and the fix;
// - otherwise (a developer without root) the file is skipped with the reason, and the summary
//   reporter counts the skipped tests.
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { sandboxAvailable } from "../../sandbox/sandbox";
import { nginxFound } from "./loopbackNginx";
import { engineAvailable, serverBinary } from "./pulumi";
import { sshdUnavailable } from "./sshd";

export type Requirement = "sandbox" | "engine" | "nginx" | "sshd" | "cargo" | "pebble" | "versitygw";

/** Why each requirement is not met here, or undefined when it is. */
const missing: Record<Requirement, () => string | undefined> = {
  sandbox: () => { const s = sandboxAvailable(); return s.ok ? undefined : `the sandbox cannot run: ${s.reason}`; },
  engine: () => engineAvailable().reason,
  nginx: () => (nginxFound ? undefined : "nginx is not installed (apt-get install nginx; .ci/run installs it)"),
  sshd: () => sshdUnavailable(),
  cargo: () => (spawnSync("cargo", ["--version"]).status === 0 ? undefined : "cargo is not installed (rustup, or apt-get install cargo)"),
  pebble: () => built("pebble"),
  versitygw: () => built("versitygw"),
};

function built(server: string): string | undefined {
  return existsSync(serverBinary(server)) ? undefined : `${server} is not built: run tests/engine/build.sh`;
}

/** Whether a missing requirement is a failure (CI, or root) rather than a skip. */
export function requirementsAreStrict(): boolean {
  return process.env.CI === "true" || (typeof process.getuid === "function" && process.getuid() === 0);
}

/** Reasons the given requirements are not met, each once. */
export function unmet(needs: Requirement[]): string[] {
  return [...new Set(needs)].map((n) => missing[n]()).filter((r): r is string => r !== undefined);
}

/**
 * `describe` when every need is met. Otherwise, in strict mode, throws (jest reports the file as
 * failed with this message); else `describe.skip`, with the reason on the console.
 */
export function suiteNeeding(...needs: Requirement[]): jest.Describe {
  const reasons = unmet(needs);
  if (reasons.length === 0) return describe;
  const why = reasons.join("; ");
  if (requirementsAreStrict()) {
    throw new Error(`this e2e file cannot run here: ${why}. In CI and as root a missing requirement fails the suite instead of skipping it.`);
  }
  console.warn(`skipped (not root, not CI): ${why}`);
  return describe.skip;
}
