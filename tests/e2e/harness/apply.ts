// Applies a Pulumi program for real without the Pulumi CLI: @pulumi/pulumi's mock runtime runs the
// program, the harness' mocks perform each resource (ssh commands, random passwords) and decide
// create/update/replace/unchanged/delete against a state file like the engine + providers would.
//
// CLI (one apply per process; the Pulumi runtime state is module-global):
//   npx tsx tests/e2e/harness/apply.ts --program index.ts --config config.json --state state.json \
//       [--preview] [--report report.json] [--timeout seconds]
//   exit 0 = ok, 1 = the apply failed (report.error), 2 = bad usage / harness crash.
//   Progress (redacted) goes to stderr, the report JSON to stdout and to --report.
//
// Module: `applyProgram(...)` spawns that CLI in a fresh child process and returns its report.
import { spawn } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import type { ApplyReport, ConfigFile, StateFile } from "./types";

export type { ApplyReport, ConfigFile, Op, ReportResource, StateFile, StateResource } from "./types";

export interface ApplyOptions {
  /** Path to the program's entry (index.ts). */
  program: string;
  /** config.json: {config: {"synapse:key": value}, secrets: ["synapse:key"], stack: "dev"}. */
  configFile: string;
  /** State file: read (if it exists) and, unless preview, rewritten. */
  stateFile: string;
  preview?: boolean;
  /** Where the child writes its report; a temp file by default (kept only if given). */
  reportFile?: string;
  /** Working directory of the program; default: nearest directory with Pulumi.yaml above the program, else its directory. */
  cwd?: string;
  timeoutSeconds?: number;
  env?: NodeJS.ProcessEnv;
  /** Stream the child's progress lines to this process' stderr as they come. */
  echo?: boolean;
}

export interface ApplyResult extends ApplyReport {
  /** The child's exit code: 0 ok, 1 apply failed, 2 harness error. */
  exitCode: number;
  /** The child's stderr: progress lines (redacted) and any crash output. */
  log: string;
}

/** Reads a state file; undefined when it does not exist yet. */
export function readState(file: string): StateFile | undefined {
  if (!fs.existsSync(file)) return undefined;
  return JSON.parse(fs.readFileSync(file, "utf8")) as StateFile;
}

export function writeConfig(file: string, config: ConfigFile): void {
  fs.writeFileSync(file, JSON.stringify(config, null, 2) + "\n", { mode: 0o600 });
}

function writeJsonAtomic(file: string, value: unknown) {
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, JSON.stringify(value, null, 2) + "\n", { mode: 0o600 });
  fs.renameSync(tmp, file);
}

function defaultCwd(program: string): string {
  const start = path.dirname(path.resolve(program));
  for (let d = start; ; d = path.dirname(d)) {
    if (fs.existsSync(path.join(d, "Pulumi.yaml")) || fs.existsSync(path.join(d, "Pulumi.yml"))) return d;
    if (path.dirname(d) === d) return start;
  }
}

function tsxCli(): string {
  return path.join(path.dirname(require.resolve("tsx/package.json")), "dist", "cli.mjs");
}

/** Runs one apply (or preview) in a fresh child process and returns its report. */
export function applyProgram(opts: ApplyOptions): Promise<ApplyResult> {
  const reportFile = opts.reportFile ?? path.join(fs.mkdtempSync(path.join(os.tmpdir(), "apply-report-")), "report.json");
  const args = [
    tsxCli(),
    path.join(__dirname, "apply.ts"),
    "--program", path.resolve(opts.program),
    "--config", path.resolve(opts.configFile),
    "--state", path.resolve(opts.stateFile),
    "--report", path.resolve(reportFile),
    ...(opts.preview ? ["--preview"] : []),
    ...(opts.timeoutSeconds ? ["--timeout", String(opts.timeoutSeconds)] : []),
  ];
  if (fs.existsSync(reportFile)) fs.rmSync(reportFile);
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, {
      cwd: opts.cwd ?? defaultCwd(opts.program),
      env: { ...process.env, ...opts.env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let log = "";
    child.stdout.resume(); // the report is read from the file
    child.stderr.setEncoding("utf8").on("data", (d: string) => {
      log += d;
      if (opts.echo) process.stderr.write(d);
    });
    child.on("error", reject);
    child.on("close", (code, signal) => {
      const exitCode = code ?? (signal ? 128 : 2);
      let report: ApplyReport;
      try {
        report = JSON.parse(fs.readFileSync(reportFile, "utf8"));
      } catch {
        report = {
          ok: false,
          error: `the harness crashed (exit ${exitCode}${signal ? `, signal ${signal}` : ""}) without a report:\n${log.slice(-4000)}`,
          preview: !!opts.preview,
          project: "",
          stack: "",
          outputs: {},
          resources: [],
          warnings: [],
          wallSeconds: 0,
        };
      }
      if (!opts.reportFile) fs.rmSync(path.dirname(reportFile), { recursive: true, force: true });
      resolve({ ...report, exitCode, log });
    });
  });
}

// ---------------------------------------------------------------------------------------------
// CLI

function parseArgs(argv: string[]) {
  const out: { program?: string; config?: string; state?: string; report?: string; preview: boolean; timeout?: number } = { preview: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const val = () => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${a} needs a value`);
      return v;
    };
    if (a === "--program") out.program = val();
    else if (a === "--config") out.config = val();
    else if (a === "--state") out.state = val();
    else if (a === "--report") out.report = val();
    else if (a === "--timeout") out.timeout = Number(val());
    else if (a === "--preview") out.preview = true;
    else throw new Error(`unknown argument ${a}`);
  }
  if (!out.program || !out.config || !out.state) throw new Error("--program, --config and --state are required");
  return out as Required<Pick<typeof out, "program" | "config" | "state">> & typeof out;
}

async function main() {
  let args: ReturnType<typeof parseArgs>;
  try {
    args = parseArgs(process.argv.slice(2));
  } catch (e: any) {
    process.stderr.write(
      `${e.message}\nusage: npx tsx tests/e2e/harness/apply.ts --program <index.ts> --config <config.json> --state <state.json> [--preview] [--report <file.json>] [--timeout <s>]\n`,
    );
    process.exit(2);
  }
  const config = JSON.parse(fs.readFileSync(args.config, "utf8")) as ConfigFile;
  const previous = readState(args.state);
  // Imported here so that importing this file as a module (applyProgram) does not load @pulumi/pulumi.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { runEngine } = require("./engine") as typeof import("./engine");
  const { report, state } = await runEngine({
    programPath: args.program,
    config,
    previous,
    preview: args.preview,
    timeoutSeconds: args.timeout,
    log: (line) => process.stderr.write(line + "\n"),
  });
  if (state) writeJsonAtomic(args.state, state);
  if (args.report) writeJsonAtomic(args.report, report);
  const summary = report.resources.reduce<Record<string, number>>((acc, r) => ((acc[r.op] = (acc[r.op] ?? 0) + 1), acc), {});
  process.stderr.write(
    `${report.ok ? "OK" : "FAILED"}${report.preview ? " (preview)" : ""}: ${JSON.stringify(summary)} in ${report.wallSeconds}s` +
      `${report.error ? `\n${report.error}` : ""}${report.warnings.map((w) => `\nwarning: ${w}`).join("")}\n`,
  );
  process.stdout.write(JSON.stringify(report, null, 2) + "\n", () => process.exit(report.ok ? 0 : 1));
}

if (require.main === module) {
  main().catch((e) => {
    process.stderr.write(`harness error: ${e?.stack ?? e}\n`);
    process.exit(2);
  });
}
