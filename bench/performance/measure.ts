// Running the benchmark's clients and reading the server's own figures: its CPU time (the VPS's
// cgroup, read by the clients at their measured window's edges), its memory (PSS of every process,
// sampled from the host so that measuring costs the VPS nothing), and Synapse's own latency
// histograms (synapse_http_server_response_time_seconds, per servlet).
import { spawn } from "node:child_process";
import * as path from "node:path";
import { vpsCpu, VpsCpu, vpsPss, VpsPss } from "../../tests/sandbox/sandbox";
import { Target } from "./setups";

const root = path.join(__dirname, "..", "..");
/** The host CPU the load generator runs on (the VPS under test has the other). */
export const loadCpu = "0";

/** Runs a bench client (bench/clients/<script>) on the load core; resolves with its JSON line. */
export function runClient<T>(script: string, env: Record<string, string>, timeoutMs = 10 * 60_000): Promise<T> {
  const child = spawn("taskset", ["-c", loadCpu, process.execPath, path.join(root, "bench", "clients", script)], {
    cwd: root, env: { ...process.env, ...env },
  });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (d) => { stdout += d; });
  child.stderr.on("data", (d) => { stderr += d; });
  const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
  return new Promise((resolve, reject) => child.on("close", (code) => {
    clearTimeout(timer);
    if (code !== 0) reject(new Error(`${script} exited ${code}: ${stderr.slice(-3000)}`));
    else resolve(JSON.parse(stdout.trim().split("\n").pop()!));
  }));
}

export const targetEnv = (t: Target) => JSON.stringify(t);

/** Peak PSS (KiB) of the VPS's processes while `during` runs, sampled every 2 s from the host. */
export async function peakPss<T>(n: number, during: () => Promise<T>): Promise<{ result: T; peak: VpsPss }> {
  const peak: VpsPss = { total: 0, synapse: 0, postgres: 0, nginx: 0, redis: 0 };
  let done = false;
  const sampler = (async () => {
    while (!done) {
      const p = await vpsPss(n).catch(() => undefined);
      if (p) for (const k of Object.keys(peak) as (keyof VpsPss)[]) peak[k] = Math.max(peak[k], p[k]);
      await new Promise((r) => setTimeout(r, 2000));
    }
  })();
  try {
    return { result: await during(), peak };
  } finally {
    done = true;
    await sampler;
  }
}

/** Where a measurement's server CPU went: Synapse's processes, PostgreSQL's, nginx's, and the rest. */
export const cpuRoles = ["synapse", "postgres", "nginx", "other"] as const;
export type CpuSplit = Record<(typeof cpuRoles)[number], number>;

/**
 * Each role's share of the CPU the VPS used between two readings (the rest: everything else in
 * its cgroup, Redis and processes that exited to init included). NaN when the VPS used none.
 */
export function cpuShares(before: VpsCpu, after: VpsCpu): CpuSplit {
  const total = after.total - before.total;
  const share = (x: number) => (total > 0 ? Math.max(0, x) / total : NaN);
  const [synapse, postgres, nginx] = (["synapse", "postgres", "nginx"] as const).map((r) => after[r] - before[r]);
  return { synapse: share(synapse), postgres: share(postgres), nginx: share(nginx), other: share(total - synapse - postgres - nginx) };
}

/** Runs `during` and says how the VPS's CPU split between the roles meanwhile (read from the host). */
export async function cpuSplitDuring<T>(n: number, during: () => Promise<T>): Promise<{ result: T; shares: CpuSplit }> {
  const before = await vpsCpu(n);
  const result = await during();
  return { result, shares: cpuShares(before, await vpsCpu(n)) };
}

/** Cumulative bucket counts of one servlet's response-time histogram, summed over processes. */
export type Histogram = Map<number, number>;

/** Synapse's response-time histogram for `servlet` (and `method`), from every metrics port. */
export async function responseTimes(address: string, ports: number[], servlet: string, method: string): Promise<Histogram> {
  const h: Histogram = new Map();
  // The text format, one bucket a line (no parser library: this is one regular line shape).
  const line = new RegExp(`^synapse_http_server_response_time_seconds_bucket\\{([^}]*)\\} ([0-9.e+-]+)$`);
  for (const port of ports) {
    const text = await (await fetch(`http://${address}:${port}/_synapse/metrics`)).text();
    for (const l of text.split("\n")) {
      const m = line.exec(l);
      if (!m || !m[1].includes(`servlet="${servlet}"`) || !m[1].includes(`method="${method}"`)) continue;
      const le = /le="([^"]+)"/.exec(m[1])?.[1];
      const bound = le === "+Inf" ? Infinity : Number(le);
      h.set(bound, (h.get(bound) ?? 0) + Number(m[2]));
    }
  }
  return h;
}

/**
 * A quantile (0..1) of what a histogram gained between two readings, in ms, interpolated inside
 * its bucket as Prometheus's histogram_quantile does. NaN when nothing was recorded.
 */
export function histogramQuantile(before: Histogram, after: Histogram, q: number): number {
  const bounds = [...after.keys()].sort((a, b) => a - b);
  const counts = bounds.map((b) => (after.get(b) ?? 0) - (before.get(b) ?? 0));
  const total = counts[counts.length - 1] ?? 0;
  if (!(total > 0)) return NaN;
  const rank = q * total;
  for (let i = 0; i < bounds.length; i++) {
    if (counts[i] >= rank) {
      const lower = i === 0 ? 0 : bounds[i - 1];
      const below = i === 0 ? 0 : counts[i - 1];
      if (bounds[i] === Infinity) return lower * 1000;
      return (lower + (bounds[i] - lower) * ((rank - below) / Math.max(counts[i] - below, 1e-9))) * 1000;
    }
  }
  return NaN;
}
