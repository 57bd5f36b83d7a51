// The real Pulumi CLI, as a user runs it: a checkout of a Pulumi project (a copy of this one, or a
// test fixture) with its own local state backend and passphrase secrets provider, and the engine
// that tests/engine/build.sh built (CLI, Node.js language host, random provider, the command
// provider's test stand-in) installed as plugins so the CLI never downloads anything.
import { ChildProcess, execFileSync, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import YAML from "yaml";

export const repoRoot = path.join(__dirname, "..", "..", "..");

const engineCache = () => process.env.SYNAPSE_ENGINE_CACHE ?? "/var/cache/synapse-engine";
/** Where tests/engine/build.sh put the CLI and the language host (on PATH, as an install would). */
export const engineBinDir = () => path.join(engineCache(), "bin");
/** …and the provider plugins: never on PATH, where the CLI would prefer them (with a warning). */
export const enginePluginDir = () => path.join(engineCache(), "plugins");
/** …and the real servers the tests run (tests/servers/): the S3 store. */
export const serverBinary = (name: string) => path.join(engineCache(), "servers", name);

/** The plugins the program needs, at the versions its package.json resolves to. */
export const plugins = [
  { kind: "resource", name: "random", version: "4.21.2", binary: "pulumi-resource-random" },
  { kind: "resource", name: "command", version: "1.2.1", binary: "pulumi-resource-command" },
] as const;

export function engineAvailable(): { ok: boolean; reason?: string } {
  const needed = [...["pulumi", "pulumi-language-nodejs"].map((b) => path.join(engineBinDir(), b)),
    ...plugins.map((p) => path.join(enginePluginDir(), p.binary))];
  for (const file of needed) {
    if (!fs.existsSync(file)) return { ok: false, reason: `${file} is missing: run tests/engine/build.sh` };
  }
  return { ok: true };
}

/** Not the state-map crate's local build (cargo test), which is no part of a checkout. */
const checkedOut = (src: string) => !/\/compressor\/state-map\/(target|Cargo\.lock)$/.test(src);
/** The files of this project a user's checkout has (what `pulumi up` reads). */
const projectEntries = ["Pulumi.yaml", "Pulumi.dev.yaml", "index.ts", "program.ts", "package.json", "tsconfig.json", "components", "config", "render", "scripts", "host-tools", "compressor", "admin"];

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
  seconds: number;
}

export interface RunOptions {
  stdin?: string;
  /** Resolve on a non-zero exit instead of throwing. */
  allowFail?: boolean;
  timeoutMs?: number;
}

/** One step of a preview or an update, from the engine's own plan or event log. */
export interface Step {
  op: string;
  urn: string;
  type: string;
  name: string;
  /** Input keys that differ (preview only). */
  diffs?: string[];
}

export interface UpdateResult extends CliResult {
  /** Resource steps the engine performed (events with their op; "same" = nothing ran). */
  steps: Step[];
  /** Warnings and errors the engine reported (diagnostic events), colour codes removed. */
  diagnostics: { severity: string; message: string; urn?: string }[];
  /** The engine's change summary, e.g. { same: 30 } or { update: 5, same: 25 }. */
  summary: Record<string, number>;
  /** The engine's event log of this update (JSON lines). */
  eventLog: string;
}

const ansi = /\u001b\[[0-9;]*[A-Za-z]/g;
export const stripAnsi = (s: string) => s.replace(ansi, "");

function stepOf(op: string, urn: string, extra: Partial<Step> = {}): Step {
  const parts = urn.split("::");
  return { op, urn, type: (parts[2] ?? "").split("$").pop() ?? "", name: parts[3] ?? "", ...extra };
}

/** Parses an engine event log (`--event-log`): one JSON event per line. */
export function readEventLog(file: string): Pick<UpdateResult, "steps" | "diagnostics" | "summary"> {
  const steps: Step[] = [];
  const diagnostics: UpdateResult["diagnostics"] = [];
  let summary: Record<string, number> = {};
  if (!fs.existsSync(file)) return { steps, diagnostics, summary };
  for (const line of fs.readFileSync(file, "utf8").split("\n")) {
    if (!line.trim()) continue;
    const e = JSON.parse(line);
    if (e.resourcePreEvent) steps.push(stepOf(e.resourcePreEvent.metadata.op, e.resourcePreEvent.metadata.urn));
    if (e.diagnosticEvent) {
      diagnostics.push({ severity: e.diagnosticEvent.severity, message: stripAnsi(e.diagnosticEvent.message).trim(), urn: e.diagnosticEvent.urn });
    }
    if (e.summaryEvent) summary = e.summaryEvent.resourceChanges ?? {};
  }
  return { steps, diagnostics, summary };
}

/**
 * A checkout of a Pulumi project with its own engine home, backend and passphrase. `pulumi()`
 * runs the real CLI in it; the helpers type the commands the README gives.
 */
export class PulumiWorkspace {
  readonly env: NodeJS.ProcessEnv;
  readonly stateDir: string;
  readonly passphrase = randomBytes(16).toString("hex");
  private events = 0;

  private constructor(readonly dir: string, readonly logDir: string) {
    this.stateDir = path.join(logDir, "state");
    // A new checkout starts with a new backend and transcript.
    fs.rmSync(this.stateDir, { recursive: true, force: true });
    fs.rmSync(path.join(logDir, "transcript.log"), { force: true });
    fs.mkdirSync(this.stateDir, { recursive: true });
    this.env = {
      ...process.env,
      PATH: [engineBinDir(), path.dirname(process.execPath), process.env.PATH].join(":"),
      PULUMI_HOME: pulumiHome(),
      PULUMI_SKIP_UPDATE_CHECK: "true",
      PULUMI_CONFIG_PASSPHRASE: this.passphrase,
      // PULUMI_HOME (and with it the current login) is shared by the run's checkouts: each one
      // names its own backend, whatever `pulumi login` another checkout typed last.
      PULUMI_BACKEND_URL: `file://${this.stateDir}`,
      PULUMI_DIY_BACKEND_NO_LEGACY_WARNING: "true",
      // Tests run several CLIs over the project's lifetime; never prompt.
      PULUMI_NONINTERACTIVE: "true",
    };
  }

  /**
   * A copy of this project (what a user's checkout holds, node_modules linked), or of a fixture
   * directory, under `dir`. Logged in to a file backend of its own.
   */
  static async create(dir: string, opts: { fixture?: string; logDir?: string } = {}): Promise<PulumiWorkspace> {
    fs.rmSync(dir, { recursive: true, force: true });
    fs.mkdirSync(dir, { recursive: true });
    if (opts.fixture) {
      fs.cpSync(opts.fixture, dir, { recursive: true });
    } else {
      for (const entry of projectEntries) fs.cpSync(path.join(repoRoot, entry), path.join(dir, entry), { recursive: true, filter: checkedOut });
    }
    fs.symlinkSync(path.join(repoRoot, "node_modules"), path.join(dir, "node_modules"));
    const ws = new PulumiWorkspace(dir, opts.logDir ?? path.join(dir, ".test"));
    installPlugins(ws.env);
    await ws.pulumi(["login", `file://${ws.stateDir}`]);
    return ws;
  }

  /**
   * Replaces the checkout's program with this working tree's, as a user who pulls a new version
   * of it does; the stack files (Pulumi.<stack>.yaml: the stack's config) stay.
   */
  checkOutWorkingTree(): void {
    for (const entry of projectEntries.filter((e) => !/^Pulumi\..+\.yaml$/.test(e))) {
      fs.rmSync(path.join(this.dir, entry), { recursive: true, force: true });
      fs.cpSync(path.join(repoRoot, entry), path.join(this.dir, entry), { recursive: true, filter: checkedOut });
    }
  }

  /** Runs `pulumi <args>` in the checkout; the full output is kept in the log directory. */
  pulumi(args: string[], opts: RunOptions & { env?: NodeJS.ProcessEnv } = {}): Promise<CliResult> {
    const t0 = Date.now();
    return new Promise((resolve, reject) => {
      const child = spawn("pulumi", args, { cwd: this.dir, env: { ...this.env, ...opts.env }, stdio: ["pipe", "pipe", "pipe"] });
      let stdout = "";
      let stderr = "";
      child.stdout.setEncoding("utf8").on("data", (d: string) => { stdout += d; echo(d); });
      child.stderr.setEncoding("utf8").on("data", (d: string) => { stderr += d; echo(d); });
      const timer = setTimeout(() => child.kill("SIGKILL"), opts.timeoutMs ?? 20 * 60_000);
      child.stdin.end(opts.stdin ?? "");
      child.on("error", reject);
      child.on("close", (code) => {
        clearTimeout(timer);
        const result = { code: code ?? -1, stdout, stderr, seconds: (Date.now() - t0) / 1000 };
        this.record(args, result);
        if (result.code !== 0 && !opts.allowFail) {
          reject(new Error(`pulumi ${args.join(" ")} exited ${result.code}\n${tail(stdout)}\n${tail(stderr)}`));
        } else {
          resolve(result);
        }
      });
    });
  }

  /** `pulumi up --yes` (or destroy, refresh…) with an event log, parsed. Never throws on failure. */
  async update(command: "up" | "destroy" | "refresh", args: string[] = [], opts: RunOptions = {}): Promise<UpdateResult> {
    const log = path.join(this.logDir, `events-${String(++this.events).padStart(2, "0")}-${command}.jsonl`);
    // --event-log is one of the CLI's debugging flags: it needs PULUMI_DEBUG_COMMANDS.
    const r = await this.pulumi([command, "--yes", "--skip-preview", "--event-log", log, ...args],
      { ...opts, allowFail: true, env: { PULUMI_DEBUG_COMMANDS: "true" } });
    return { ...r, ...readEventLog(log), eventLog: log };
  }

  /** `pulumi preview --json`: the plan, as the engine reports it. Never throws on failure. */
  async plan(args: string[] = []): Promise<CliResult & { steps: Step[]; json: any }> {
    const r = await this.pulumi(["preview", "--json", ...args], { allowFail: true });
    let json: any = {};
    try { json = JSON.parse(r.stdout); } catch { /* a failed preview prints diagnostics only */ }
    const steps = ((json.steps ?? []) as any[]).map((s) => stepOf(s.op, s.urn, { diffs: s.diffReasons ?? [] }));
    return { ...r, steps, json };
  }

  /** `pulumi stack output --json [--show-secrets]`. */
  async outputs(showSecrets = true): Promise<Record<string, any>> {
    const r = await this.pulumi(["stack", "output", "--json", ...(showSecrets ? ["--show-secrets"] : [])]);
    return JSON.parse(r.stdout);
  }

  /** `pulumi config set [--secret] KEY VALUE`; a multi-line value goes through stdin, as `< file`. */
  async configSet(key: string, value: string, opts: { secret?: boolean; path?: boolean } = {}): Promise<void> {
    const flags = [...(opts.secret ? ["--secret"] : []), ...(opts.path ? ["--path"] : [])];
    if (value.includes("\n")) await this.pulumi(["config", "set", ...flags, key], { stdin: value });
    else await this.pulumi(["config", "set", ...flags, key, "--", value]);
  }

  /**
   * Sets a value in Pulumi.<stack>.yaml itself, as a user does for what `pulumi config set` cannot
   * write: an empty list (`synapse:trustedKeyServers: []`).
   */
  setInStackFile(stack: string, key: string, value: unknown): void {
    const file = path.join(this.dir, `Pulumi.${stack}.yaml`);
    const doc = YAML.parseDocument(fs.readFileSync(file, "utf8"));
    doc.setIn(["config", key], value);
    fs.writeFileSync(file, doc.toString());
  }

  /**
   * Starts `pulumi up --yes` and kills the CLI and everything it started (language host,
   * providers, SSH sessions), as a dropped laptop would, at a chosen point of a chosen step: once
   * its output matches `when` (the step has started), `hostIsMidStep` is polled and the kill comes
   * the moment it says yes (the host shows the step half done). So a kill that lands before or
   * after the step cannot pass for one in its middle: if the update ends first, or the host never
   * shows the state within `timeoutMs`, nothing is killed and the result says so.
   */
  async upKilled(when: RegExp, hostIsMidStep: () => Promise<boolean>, timeoutMs = 120_000): Promise<{ killed: boolean; why: string }> {
    const child: ChildProcess = spawn("pulumi", ["up", "--yes", "--skip-preview"], {
      cwd: this.dir, env: this.env, detached: true, stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    let exited = false;
    const ended = new Promise<void>((resolve) => child.on("exit", () => { exited = true; resolve(); }));
    const started = new Promise<void>((resolve) => {
      const watch = (d: string) => {
        output += d;
        echo(d);
        if (when.test(output)) resolve();
      };
      child.stdout!.setEncoding("utf8").on("data", watch);
      child.stderr!.setEncoding("utf8").on("data", watch);
    });
    await Promise.race([started, ended]);
    let result = { killed: false, why: `the update ended before its output matched ${when}` };
    if (!exited) {
      const deadline = Date.now() + timeoutMs;
      result = { killed: false, why: `the host did not show the step half done within ${timeoutMs / 1000} s` };
      while (!exited && Date.now() < deadline) {
        if (await hostIsMidStep()) {
          if (exited) break;
          process.kill(-child.pid!, "SIGKILL");
          result = { killed: true, why: "killed while the host showed the step half done" };
          break;
        }
      }
      if (exited && !result.killed) result = { killed: false, why: "the update ended before the host showed the step half done" };
      if (!result.killed && !exited) process.kill(-child.pid!, "SIGKILL");
    }
    await ended;
    this.record(["up", "--yes", `(${result.why})`], { code: -9, stdout: output, stderr: "", seconds: 0 });
    return result;
  }

  /** Every file of the state backend, concatenated (to search for plain-text secrets). */
  stateText(): string {
    const out: string[] = [];
    const walk = (d: string) => {
      for (const e of fs.readdirSync(d, { withFileTypes: true })) {
        const p = path.join(d, e.name);
        if (e.isDirectory()) walk(p);
        else out.push(fs.readFileSync(p, "utf8"));
      }
    };
    walk(this.stateDir);
    return out.join("\n");
  }

  /** Everything the CLI printed in this workspace so far. */
  transcript(): string {
    return fs.existsSync(this.transcriptFile()) ? fs.readFileSync(this.transcriptFile(), "utf8") : "";
  }

  private transcriptFile(): string {
    return path.join(this.logDir, "transcript.log");
  }

  /** Keeps what the CLI printed, except what `--show-secrets` asked for (the artifacts hold no secret). */
  private record(args: string[], r: CliResult): void {
    fs.mkdirSync(this.logDir, { recursive: true });
    const stdout = args.includes("--show-secrets") ? "[output with secrets not kept]\n" : r.stdout;
    fs.appendFileSync(this.transcriptFile(),
      `$ pulumi ${args.join(" ")}\n${stdout}${r.stderr}[exit ${r.code}, ${r.seconds.toFixed(1)} s]\n\n`);
  }
}

function tail(s: string, n = 8000): string {
  return s.length > n ? `…${s.slice(-n)}` : s;
}

function echo(d: string): void {
  if (process.env.E2E_ECHO === "1") process.stderr.write(d);
}

/** One PULUMI_HOME per test run, holding the plugins; made once. */
function pulumiHome(): string {
  return path.join(repoRoot, "test-output", "pulumi-home");
}

function installPlugins(env: NodeJS.ProcessEnv): void {
  for (const p of plugins) {
    const dir = path.join(pulumiHome(), "plugins", `${p.kind}-${p.name}-v${p.version}`);
    const binary = fs.realpathSync(path.join(enginePluginDir(), p.binary));
    const marker = path.join(pulumiHome(), `installed-${p.name}`);
    // Re-install when tests/engine/build.sh produced another binary (a changed recipe).
    if (fs.existsSync(dir) && fs.existsSync(marker) && fs.readFileSync(marker, "utf8") === binary) continue;
    fs.rmSync(dir, { recursive: true, force: true });
    execFileSync("pulumi", ["plugin", "install", p.kind, p.name, p.version, "--file", binary], { env, stdio: "pipe" });
    fs.writeFileSync(marker, binary);
  }
}
