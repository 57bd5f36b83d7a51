// The e2e suite's view of one sandbox VPS and of a user's checkout of this program pointed at
// it: the real Pulumi CLI typing the README's commands, plus ssh and HTTPS clients and a record
// of how long each scenario took.
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { sshExec, upVps, VpsLimits } from "../../sandbox/sandbox";
import { request, sandboxAgent } from "../clients/https";
import { PulumiWorkspace, repoRoot, UpdateResult } from "./pulumi";

export const root = repoRoot;
export const outputDir = path.join(root, "test-output", "e2e");

export interface Vps {
  n: number;
  host: string;
  privateKey: string;
  privateKeyPath: string;
  /** Runs a command as root on the VPS; throws with its output unless it exits 0 (or `allowFail`). */
  sh(command: string, opts?: { stdin?: string | Buffer; allowFail?: boolean }): Promise<{ code: number; stdout: string; stderr: string }>;
}

export async function bootVps(n: number, image: "base" | "packages" = "base", limits: VpsLimits = {}): Promise<Vps> {
  const v = await upVps(n, image, limits);
  return {
    n, host: v.host, privateKey: v.privateKey, privateKeyPath: v.privateKeyPath,
    async sh(command, opts = {}) {
      const r = await sshExec(n, command, opts.stdin);
      if (r.code !== 0 && !opts.allowFail) {
        throw new Error(`vps${n}: '${command}' exited ${r.code}\n${r.stdout}\n${r.stderr}`);
      }
      return r;
    },
  };
}

/**
 * A user's checkout with the dev stack (Pulumi.dev.yaml) pointed at a sandbox VPS, set up with
 * the README's commands: `pulumi stack init dev`, `pulumi config set --secret sshPrivateKey <
 * key`, and `pulumi config set host` when the VPS is not the dev stack's 10.231.1.2. `fixture`: a
 * project directory to check out instead of this working tree (the bench deploys an earlier commit).
 */
export async function devStack(vps: Vps, name: string, config: Record<string, string> = {}, fixture?: string): Promise<PulumiWorkspace> {
  const dir = path.join(outputDir, name);
  const ws = await PulumiWorkspace.create(path.join(dir, "checkout"), { logDir: dir, fixture });
  await ws.pulumi(["stack", "init", "dev"]);
  await ws.pulumi(["config", "set", "--secret", "sshPrivateKey"], { stdin: fs.readFileSync(vps.privateKeyPath, "utf8") });
  if (vps.host !== "10.231.1.2") await ws.configSet("host", vps.host);
  // The state compressor (on by default) compiles for minutes on each new homeserver: only
  // compressor.test.ts, which is about it, keeps it on; every other scenario turns it off.
  for (const [k, v] of Object.entries({ stateCompressor: "false", ...config })) await ws.configSet(k, v);
  return ws;
}

/** The resources an update changed (anything but "same"), as `name:op`, sorted. */
export function changes(r: { steps: { op: string; name: string; type: string }[] }): string[] {
  return r.steps
    .filter((s) => s.op !== "same" && s.type !== "pulumi:pulumi:Stack" && !s.type.startsWith("pulumi:providers:"))
    .map((s) => `${s.name}:${s.op}`)
    .sort();
}

/** Fails the test with the CLI's output unless the update succeeded without a warning. */
export function expectClean(r: UpdateResult): void {
  if (r.code !== 0) throw new Error(`pulumi exited ${r.code}\n${r.stdout.slice(-8000)}\n${r.stderr.slice(-4000)}`);
  const noisy = r.diagnostics.filter((d) => d.severity === "warning" || d.severity === "error");
  if (noisy.length > 0) throw new Error(`the update printed warnings:\n${noisy.map((d) => `${d.severity}: ${d.message}`).join("\n")}`);
}

/**
 * What the README tells users after an interrupted update: the dead CLI's lock goes with
 * `pulumi cancel`, and operations it left pending with `pulumi refresh --clear-pending-creates`
 * (an interrupted create would otherwise be warned about on every later update; the next
 * `pulumi up` runs it again, and every step is safe to repeat).
 */
export async function recoverFromInterruptedUpdate(ws: PulumiWorkspace): Promise<void> {
  await ws.pulumi(["cancel", "--yes"]);
  await ws.pulumi(["refresh", "--clear-pending-creates", "--yes", "--skip-preview"]);
}

/** The state as `pulumi stack export` gives it (secrets in clear with showSecrets). */
export async function exportedState(ws: PulumiWorkspace, showSecrets = false): Promise<any> {
  const r = await ws.pulumi(["stack", "export", ...(showSecrets ? ["--show-secrets"] : [])]);
  return JSON.parse(r.stdout);
}

/** A command resource of the state, by name: its inputs (create, stdin…) and outputs. */
export async function commandResource(ws: PulumiWorkspace, name: string, showSecrets = false): Promise<{ inputs: any; outputs: any }> {
  const state = await exportedState(ws, showSecrets);
  const r = state.deployment.resources.find((x: any) => x.type === "command:remote:Command" && x.urn.endsWith(`::${name}`));
  if (!r) throw new Error(`no command ${name} in the state`);
  return { inputs: r.inputs, outputs: r.outputs };
}

/** An HTTPS client that trusts the VPS's certificates and resolves every name to it. */
export async function httpsClient(vps: Vps) {
  const ca = (await vps.sh("cat /etc/synapse-deploy/tls/*/fullchain.pem")).stdout;
  const agent = sandboxAgent({ address: vps.host, ca });
  return {
    ca,
    get: (url: string, token?: string) => request(agent, url, { token }),
    post: (url: string, body: unknown, token?: string) => request(agent, url, { body, token }),
    put: (url: string, body: unknown, token?: string) => request(agent, url, { method: "PUT", body, token }),
    upload: (url: string, bytes: Buffer, contentType: string, token: string) => request(agent, url, { raw: { bytes, contentType }, token }),
    close: () => agent.close(),
  };
}

/** Records the wall time of each scenario as JSON and Markdown under test-output/e2e. */
export async function timed<T>(scenario: string, fn: () => Promise<T>): Promise<T> {
  const t0 = Date.now();
  try {
    return await fn();
  } finally {
    record("timings", scenario, (Date.now() - t0) / 1000);
  }
}

/** Adds one measured figure (seconds) to test-output/e2e/<table>.{json,md}. */
export function record(table: string, what: string, seconds: number): void {
  fs.mkdirSync(outputDir, { recursive: true });
  const file = path.join(outputDir, `${table}.json`);
  const all = fs.existsSync(file) ? JSON.parse(fs.readFileSync(file, "utf8")) : {};
  all[what] = seconds;
  fs.writeFileSync(file, JSON.stringify(all, null, 2) + "\n");
  const rows = Object.entries(all).map(([s, sec]) => `| ${s} | ${(sec as number).toFixed(1)} |`);
  fs.writeFileSync(path.join(outputDir, `${table}.md`), `| what | seconds |\n|---|---|\n${rows.join("\n")}\n`);
}

/**
 * Records a figure the docs quote (test-output/e2e/figures.json; docs/results/e2e.json after a
 * complete run, then `gen:e2e:<name>` blocks): a number with its unit, or a text excerpt.
 */
export function figure(name: string, value: number | string, what: string, unit?: string): void {
  fs.mkdirSync(outputDir, { recursive: true });
  const file = path.join(outputDir, "figures.json");
  const all = fs.existsSync(file) ? JSON.parse(fs.readFileSync(file, "utf8")) : {};
  all[name] = { value, ...(unit ? { unit } : {}), what };
  fs.writeFileSync(file, JSON.stringify(all, null, 2) + "\n");
}

export interface ChatResult { sent: number; received: number; inOrder: boolean; [k: string]: unknown }

/**
 * A real Matrix client (a script of clients/, matrix-js-sdk) run against the VPS: `env` says what it
 * does. Resolves with the JSON of its last line; throws with its output when it fails or outlives
 * `timeoutMs`.
 */
export async function matrixClient<T>(script: string, vps: Vps, env: Record<string, string>, timeoutMs = 240_000): Promise<T> {
  const child = spawn(process.execPath, [path.join(__dirname, "..", "clients", script)], {
    cwd: repoRoot, env: { ...process.env, ADDRESS: vps.host, ...env },
  });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (d) => { stdout += d; });
  child.stderr.on("data", (d) => { stderr += d; });
  const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
  const code = await new Promise<number | null>((resolve) => child.on("close", resolve));
  clearTimeout(timer);
  if (code !== 0) throw new Error(`${script} exited ${code}: ${stderr}\n${stdout}`);
  return JSON.parse(stdout.trim().split("\n").pop()!);
}

/**
 * The real Matrix client (clients/chat.mjs, matrix-js-sdk) as `user`: a new room, `count`
 * messages sent and read back through /sync. Throws with the client's output when it fails.
 */
export function chat(vps: Vps, opts: { baseUrl: string; caFile: string; user: string; password: string; count: number; timeoutMs?: number }): Promise<ChatResult> {
  return matrixClient<ChatResult>("chat.mjs", vps, {
    BASE_URL: opts.baseUrl, CA_FILE: opts.caFile, USER_ID: opts.user, PASSWORD: opts.password, COUNT: String(opts.count),
  }, opts.timeoutMs);
}

/** Lifts Synapse's message rate limit for `userId` (as an admin would for a bot), through the admin API on the host. */
export async function exemptFromRateLimit(vps: Vps, userId: string, adminToken: string): Promise<void> {
  await vps.sh(`curl -sf -X POST -H @- -d '{"messages_per_second": 0, "burst_count": 0}' 'http://127.0.0.1:8008/_synapse/admin/v1/users/${userId}/override_ratelimit'`,
    { stdin: `Authorization: Bearer ${adminToken}\n` });
}

/** `npm run admin -- <args>` in the user's checkout, as they would type it. */
export async function runAdmin(ws: PulumiWorkspace, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const child = spawn("npm", ["run", "--silent", "admin", "--", ...args], { cwd: ws.dir, env: ws.env });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (d) => { stdout += d; });
  child.stderr.on("data", (d) => { stderr += d; });
  const code = await new Promise<number>((resolve) => child.on("close", (c) => resolve(c ?? 1)));
  return { code, stdout, stderr };
}

/**
 * An excerpt of `pulumi preview --diff` for the docs: of each resource named in `resources`, its
 * header and URN lines and the lines matching `keys`, with "…" where lines were left out. Every
 * line is the run's own, unchanged.
 */
export function previewExcerpt(diff: string, resources: string[], keys: RegExp): string {
  const lines = diff.split("\n");
  const header = /^\s*[~+-] \S+: \(\w+\)$/;
  const out: string[] = [];
  for (let i = 0; i < lines.length; i++) {
    if (!header.test(lines[i])) continue;
    let j = i + 1;
    const meta: string[] = [];
    while (j < lines.length && /^\s*\[\w+=/.test(lines[j])) meta.push(lines[j++]);
    const urn = meta.find((l) => /^\s*\[urn=/.test(l)) ?? "";
    if (!resources.some((r) => urn.trimEnd().endsWith(`::${r}]`))) continue;
    out.push(lines[i], urn);
    let skipped = false;
    for (; j < lines.length && !header.test(lines[j]) && lines[j].trim() !== ""; j++) {
      if (keys.test(lines[j])) {
        if (skipped) out.push(`${/^\s*/.exec(lines[j])![0]}…`);
        out.push(lines[j]);
        skipped = false;
      } else {
        skipped = true;
      }
    }
  }
  return out.join("\n");
}
