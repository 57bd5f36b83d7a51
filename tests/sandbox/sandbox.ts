// Typed wrapper around tests/sandbox/sandbox.sh for the e2e tests: throwaway Debian sid "VPS"es
// (systemd-nspawn + overlayfs + veth), reachable as root@10.231.N.2 with a per-run ed25519 key.
// Needs root; see README.md beside this file.
import { execFile, execFileSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import * as path from "node:path";

export const SANDBOX_SCRIPT = path.join(__dirname, "sandbox.sh");

export type SandboxImage = "base" | "packages";

export interface SandboxVps {
  n: number;
  host: string;
  port: 22;
  user: "root";
  privateKeyPath: string;
  privateKey: string;
}

export interface ExecResult {
  /** Exit code of the remote command (255: ssh itself failed; -1: killed by a signal or timeout). */
  code: number;
  stdout: string;
  stderr: string;
}

export interface SshExecOptions {
  /** Kill ssh after this many milliseconds (default 10 minutes). */
  timeoutMs?: number;
}

const MAX_BUFFER = 256 * 1024 * 1024;

export function sandboxHome(): string {
  return path.resolve(process.env.SANDBOX_HOME ?? "/var/lib/synapse-sandbox");
}

export function privateKeyPath(): string {
  return path.join(sandboxHome(), "run", "id_ed25519");
}

export function vpsHost(n: number): string {
  checkN(n);
  return `10.231.${n}.2`;
}

function checkN(n: number): void {
  if (!Number.isInteger(n) || n < 1 || n > 250) {
    throw new RangeError(`sandbox VPS number must be an integer 1..250, got ${n}`);
  }
}

/** Whether sandbox VPSes can run here (root, systemd-nspawn, nft, ssh, overlayfs, cgroup2...). */
export function sandboxAvailable(): { ok: boolean; reason?: string } {
  if (process.platform !== "linux") return { ok: false, reason: "the sandbox needs Linux" };
  if (typeof process.getuid === "function" && process.getuid() !== 0) {
    return { ok: false, reason: "the sandbox needs root (it mounts overlays, creates veths and nftables rules)" };
  }
  try {
    execFileSync("bash", [SANDBOX_SCRIPT, "check"], { stdio: ["ignore", "pipe", "pipe"], encoding: "utf8" });
    return { ok: true };
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    const reason = (e.stderr ?? "").trim() || e.message;
    return { ok: false, reason };
  }
}

interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

function run(args: string[], opts: { stdin?: string | Buffer; timeoutMs?: number } = {}): Promise<RunResult> {
  return new Promise((resolve) => {
    const child = execFile(
      "bash",
      [SANDBOX_SCRIPT, ...args],
      { encoding: "utf8", maxBuffer: MAX_BUFFER, timeout: opts.timeoutMs ?? 0, killSignal: "SIGKILL" },
      (error, stdout, stderr) => {
        let code = 0;
        if (error) {
          const c = (error as { code?: unknown }).code;
          code = typeof c === "number" ? c : -1;
        }
        resolve({ code, stdout, stderr });
      },
    );
    // Always close stdin, or a remote command reading it would wait forever.
    child.stdin?.on("error", () => undefined);
    child.stdin?.end(opts.stdin ?? "");
  });
}

async function runOk(args: string[], timeoutMs: number): Promise<RunResult> {
  const r = await run(args, { timeoutMs });
  if (r.code !== 0) {
    throw new Error(`sandbox.sh ${args.join(" ")} failed (exit ${r.code}):\n${r.stderr.trim()}`);
  }
  return r;
}

/**
 * Boots VPS n (a stale one from a crashed run is cleaned up first) and resolves once
 * `ssh root@10.231.n.2` works. Builds the golden image first if it is missing (about 1 min each).
 */
export async function upVps(n: number, image: SandboxImage = "base", limits: VpsLimits = {}): Promise<SandboxVps> {
  checkN(n);
  bootedHere.add(n);
  const r = await runOk(["up", String(n), "--image", image, ...limitArgs(limits)], 15 * 60 * 1000);
  const host = r.stdout.trim().split("\n").pop() ?? "";
  if (host !== vpsHost(n)) {
    throw new Error(`sandbox.sh up ${n} printed an unexpected address '${host}'`);
  }
  const keyPath = privateKeyPath();
  return { n, host, port: 22, user: "root", privateKeyPath: keyPath, privateKey: readFileSync(keyPath, "utf8") };
}

/** Confinement through the VPS's cgroups: host CPUs to pin it to ("1"), a memory cap ("2G"). */
export interface VpsLimits { cpus?: string; memory?: string }

const limitArgs = (l: VpsLimits) => [...(l.cpus ? ["--cpus", l.cpus] : []), ...(l.memory ? ["--memory", l.memory] : [])];

/** Shuts VPS n down keeping its disk. */
export async function stopVps(n: number): Promise<void> {
  checkN(n);
  await runOk(["stop", String(n)], 5 * 60 * 1000);
}

/** Boots a stopped VPS n again (with these limits), once `ssh` works. */
export async function startVps(n: number, limits: VpsLimits = {}): Promise<void> {
  checkN(n);
  await runOk(["start", String(n), ...limitArgs(limits)], 5 * 60 * 1000);
}

/** `sandbox.sh stats`: CPU seconds, memory (page cache included) and OOM kills since it booted. */
export interface VpsStats { cpuSeconds: number; /** cpuacct.usage (ns): read it to time a window exactly. */ cpuUsageFile: string; memoryBytes: number; memoryPeakBytes: number; memoryLimitBytes: number; oomKills: number; swapBytes: number }

const keyValues = (out: string): Record<string, string> => Object.fromEntries(out.trim().split("\n").map((l) => l.split(/=(.*)/s).slice(0, 2)));

export async function vpsStats(n: number): Promise<VpsStats> {
  checkN(n);
  const v = keyValues((await runOk(["stats", String(n)], 60_000)).stdout);
  return { cpuSeconds: Number(v.cpu_seconds), cpuUsageFile: v.cpu_usage_file, memoryBytes: Number(v.memory_bytes), memoryPeakBytes: Number(v.memory_peak_bytes),
    memoryLimitBytes: Number(v.memory_limit_bytes), oomKills: Number(v.oom_kills), swapBytes: Number(v.swap_bytes) };
}

/** `sandbox.sh pss`: the PSS of the VPS's processes now (KiB), read from the host. */
export interface VpsPss { total: number; synapse: number; postgres: number; nginx: number; redis: number }

export async function vpsPss(n: number): Promise<VpsPss> {
  checkN(n);
  const v = keyValues((await runOk(["pss", String(n)], 60_000)).stdout);
  return { total: Number(v.pss_kib_total), synapse: Number(v.pss_kib_synapse), postgres: Number(v.pss_kib_postgres), nginx: Number(v.pss_kib_nginx), redis: Number(v.pss_kib_redis) };
}

/** `sandbox.sh cpu`: the CPU seconds the VPS has used so far, in all (its cgroup) and by process role. */
export interface VpsCpu { total: number; synapse: number; postgres: number; nginx: number; redis: number; other: number }

export async function vpsCpu(n: number): Promise<VpsCpu> {
  checkN(n);
  const v = keyValues((await runOk(["cpu", String(n)], 60_000)).stdout);
  const tick = (role: string) => Number(v[`cpu_ticks_${role}`]) / Number(v.clock_ticks_per_s);
  return { total: Number(v.cpu_ns_total) / 1e9, synapse: tick("synapse"), postgres: tick("postgres"), nginx: tick("nginx"), redis: tick("redis"), other: tick("other") };
}

/**
 * Builds every golden image that is missing or out of date (about a minute each). A rebuild is
 * refused while VPSes run on the image, so a run that boots VPSes in parallel calls this first:
 * then no boot has an image to build.
 */
export async function buildGoldenImages(): Promise<void> {
  await runOk(["golden"], 30 * 60 * 1000);
}

/**
 * The VPSes this process booted (and has not torn down). Several test runs may share the sandbox
 * (a developer's e2e file beside a benchmark); each checks and cleans up only its own.
 */
const bootedHere = new Set<number>();

/** The VPSes this process booted that still exist. */
export function vpsesBootedHere(): number[] {
  return runningVpses().filter((n) => bootedHere.has(n));
}

/** The numbers of the VPSes that exist (running, or left behind by a crash), from the run directory. */
export function runningVpses(): number[] {
  const run = path.join(sandboxHome(), "run");
  if (!existsSync(run)) return [];
  return readdirSync(run).map((d) => /^vps(\d+)$/.exec(d)).filter((m): m is RegExpExecArray => m !== null)
    .map((m) => Number(m[1])).sort((a, b) => a - b);
}

/** Tears down the given VPSes, or all of them when called without arguments. Idempotent. */
export async function downVps(...ns: number[]): Promise<void> {
  ns.forEach(checkN);
  await runOk(["down", ...ns.map(String)], 5 * 60 * 1000);
  if (ns.length === 0) bootedHere.clear();
  ns.forEach((n) => bootedHere.delete(n));
}

/**
 * Runs `command` (a shell command line) as root on VPS n. Resolves with its exit code and
 * output whatever the code; rejects only if the VPS is not running.
 */
export async function sshExec(
  n: number,
  command: string,
  stdin?: string | Buffer,
  opts: SshExecOptions = {},
): Promise<ExecResult> {
  checkN(n);
  const r = await run(["ssh", String(n), command], { stdin, timeoutMs: opts.timeoutMs ?? 10 * 60 * 1000 });
  if (r.code !== 0 && r.stderr.includes(`sandbox: error: vps${n} is not running`)) {
    throw new Error(r.stderr.trim());
  }
  return r;
}
