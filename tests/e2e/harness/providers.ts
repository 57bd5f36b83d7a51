// What the harness performs for each resource type, mirroring the providers:
//   command:remote:Command      -> pulumi-command 1.2.1 provider/pkg/provider/remote/commandController.go
//   command:remote:CopyToRemote -> .../remote/copyController.go (SFTP there, `cat >` over ssh here)
//   random:index/randomPassword:RandomPassword -> terraform-provider-random's random_password
// Commands run through the OpenSSH client binary, one connection per run like the provider's Dial.
import { spawn } from "child_process";
import * as crypto from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import type { AssetJson, Json } from "./types";

export class ResourceError extends Error {
  constructor(
    message: string,
    readonly stdout = "",
    readonly stderr = "",
  ) {
    super(message);
  }
}

export interface Connection {
  host: string;
  port?: number;
  user?: string;
  privateKey?: string;
  privateKeyPassword?: string;
  password?: string;
  hostKey?: string;
  agentSocketPath?: string;
  dialErrorLimit?: number;
  perDialTimeout?: number;
  proxy?: unknown;
}

export interface RunResult {
  stdout: string;
  stderr: string;
  /** stdout and stderr interleaved in arrival order (what the provider puts in its error). */
  combined: string;
  code: number;
}

// ---------------------------------------------------------------------------------------------
// ssh plumbing

let tmpDir: string | undefined;
function harnessTmp(): string {
  if (!tmpDir) {
    tmpDir = fs.mkdtempSync(path.join(os.tmpdir(), "pulumi-harness-"));
    fs.chmodSync(tmpDir, 0o700);
    process.on("exit", () => {
      try {
        fs.rmSync(tmpDir!, { recursive: true, force: true });
      } catch {
        /* best effort */
      }
    });
  }
  return tmpDir;
}

function sha(s: string): string {
  return crypto.createHash("sha256").update(s).digest("hex").slice(0, 16);
}

/** Writes a private key (or known_hosts) to a 0600 temp file, one per distinct content. */
function tempFile(prefix: string, content: string): string {
  const file = path.join(harnessTmp(), `${prefix}-${sha(content)}`);
  if (!fs.existsSync(file)) {
    fs.writeFileSync(file, content.endsWith("\n") ? content : content + "\n", { mode: 0o600 });
  }
  return file;
}

/** Per-host limit of concurrent ssh processes (sshd's MaxStartups drops unauthenticated connections past 10). */
const MAX_PER_HOST = Number(process.env.HARNESS_SSH_PARALLEL ?? 8);
const slots = new Map<string, { active: number; queue: Array<() => void> }>();
async function withHostSlot<T>(host: string, fn: () => Promise<T>): Promise<T> {
  let s = slots.get(host);
  if (!s) slots.set(host, (s = { active: 0, queue: [] }));
  const slot = s;
  if (slot.active >= MAX_PER_HOST) await new Promise<void>((r) => slot.queue.push(r));
  slot.active++;
  try {
    return await fn();
  } finally {
    slot.active--;
    slot.queue.shift()?.();
  }
}

function sshArgs(conn: Connection): { args: string[]; env: NodeJS.ProcessEnv } {
  if (!conn || !conn.host) throw new ResourceError("connection.host is required");
  if (conn.proxy) throw new ResourceError("connection.proxy is not supported by the test harness");
  if (conn.password && !conn.privateKey) {
    throw new ResourceError("password authentication is not supported by the test harness (use privateKey)");
  }
  if (conn.privateKeyPassword) throw new ResourceError("privateKeyPassword is not supported by the test harness");
  const port = conn.port ?? 22;
  const args = [
    "-F", "/dev/null", // no system/user ssh_config: the provider sends no LANG/LC_* (SendEnv) either
    "-p", String(port),
    "-o", "BatchMode=yes",
    "-o", "LogLevel=ERROR",
    "-o", `ConnectTimeout=${conn.perDialTimeout ?? 15}`,
    "-o", "ServerAliveInterval=15",
    "-o", "ServerAliveCountMax=4",
  ];
  if (conn.hostKey) {
    const hostPattern = port === 22 ? conn.host : `[${conn.host}]:${port}`;
    const kh = tempFile("known_hosts", `${hostPattern} ${conn.hostKey.trim()}`);
    args.push("-o", "StrictHostKeyChecking=yes", "-o", `UserKnownHostsFile=${kh}`);
  } else {
    args.push("-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null");
  }
  const env: NodeJS.ProcessEnv = { ...process.env };
  if (conn.privateKey) {
    args.push("-i", tempFile("key", conn.privateKey), "-o", "IdentitiesOnly=yes");
  }
  if (conn.agentSocketPath) env.SSH_AUTH_SOCK = conn.agentSocketPath;
  else if (conn.privateKey) delete env.SSH_AUTH_SOCK;
  args.push("-l", conn.user ?? "root", conn.host);
  return { args, env };
}

/** ssh exit 255 with one of these and no remote output = could not connect: retried like the provider's dial loop. */
const DIAL_ERROR =
  /Connection refused|Connection timed out|timed out during banner|Operation timed out|No route to host|Network is unreachable|Connection reset|kex_exchange_identification|Connection closed by .* port|Could not resolve hostname|ssh_exchange_identification/i;

function runOnce(conn: Connection, command: string, stdin: string | Buffer | undefined): Promise<RunResult> {
  const { args, env } = sshArgs(conn);
  return new Promise((resolve, reject) => {
    const child = spawn("ssh", [...args, command], { env, stdio: ["pipe", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    let combined = "";
    child.stdout.setEncoding("utf8").on("data", (d: string) => {
      stdout += d;
      combined += d;
    });
    child.stderr.setEncoding("utf8").on("data", (d: string) => {
      stderr += d;
      combined += d;
    });
    child.on("error", (e) => reject(new ResourceError(`cannot run the ssh client: ${e.message}`)));
    child.on("close", (code, signal) => resolve({ stdout, stderr, combined, code: code ?? (signal ? 128 : 1) }));
    child.stdin.on("error", () => {
      /* remote closed stdin early: like the provider, not an error by itself */
    });
    if (stdin !== undefined && stdin.length > 0) child.stdin.end(stdin);
    else child.stdin.end();
  });
}

/** Runs `command` on the host with `stdin`, retrying connection failures (dialErrorLimit, default 10). */
export async function sshRun(conn: Connection, command: string, stdin?: string | Buffer): Promise<RunResult> {
  const limit = conn.dialErrorLimit ?? 10;
  return withHostSlot(`${conn.host}:${conn.port ?? 22}`, async () => {
    for (let attempt = 1; ; attempt++) {
      const r = await runOnce(conn, command, stdin);
      const dialFailed = r.code === 255 && r.stdout === "" && DIAL_ERROR.test(r.stderr);
      if (!dialFailed || (limit >= 0 && attempt >= limit)) return r;
      await new Promise((res) => setTimeout(res, Math.min(500 * attempt, 5000)));
    }
  });
}

/** Single-quotes for a POSIX shell. */
export function shq(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

// ---------------------------------------------------------------------------------------------
// command:remote:Command

export interface CommandInputs {
  connection: Connection;
  create?: string;
  update?: string;
  delete?: string;
  stdin?: string;
  triggers?: Json[];
  environment?: Record<string, string>;
  logging?: string;
  addPreviousOutputInEnv?: boolean;
}

export interface CommandComputed {
  stdout: string;
  stderr: string;
}

/**
 * The provider's `run`: fails on setenv (environment) like a stock sshd, pipes stdin, trims one
 * trailing newline from stdout/stderr, and on a non-zero exit fails with
 * `Process exited with status N: running "<cmd>":\n<output>`.
 */
async function commandRun(inputs: CommandInputs, cmd: string): Promise<CommandComputed & { combined: string }> {
  const env = inputs.environment ?? {};
  const keys = Object.keys(env);
  if (keys.length > 0) {
    throw new ResourceError(
      `could not set environment variable "${keys[0]}": ssh: setenv failed ` +
        `(a stock sshd rejects setenv unless AcceptEnv allows it; the harness refuses 'environment' like the provider on a fresh VPS)`,
    );
  }
  // PULUMI_COMMAND_STDOUT/STDERR (addPreviousOutputInEnv) are also sent with setenv: a stock sshd
  // refuses them and the provider only warns, so they are simply not set here either.
  const r = await sshRun(inputs.connection, cmd, inputs.stdin);
  if (r.code !== 0) {
    const what = r.code === 255 && r.stdout === "" ? `ssh failed (exit 255)` : `Process exited with status ${r.code}`;
    throw new ResourceError(`${what}: running ${JSON.stringify(cmd)}:\n${r.combined}`, r.stdout, r.stderr);
  }
  return { stdout: r.stdout.replace(/\n$/, ""), stderr: r.stderr.replace(/\n$/, ""), combined: r.combined };
}

export async function commandCreate(inputs: CommandInputs): Promise<CommandComputed> {
  if (inputs.create === undefined) return { stdout: "", stderr: "" };
  const { stdout, stderr } = await commandRun(inputs, inputs.create);
  return { stdout, stderr };
}

export async function commandUpdate(inputs: CommandInputs, previous: CommandComputed): Promise<CommandComputed> {
  const cmd = inputs.update ?? inputs.create;
  if (cmd === undefined) return previous;
  const { stdout, stderr } = await commandRun(inputs, cmd);
  return { stdout, stderr };
}

/** Delete runs the OLD state's `delete`, with the old connection, stdin and environment (the provider does). */
export async function commandDelete(oldInputs: CommandInputs): Promise<CommandComputed | undefined> {
  if (oldInputs.delete === undefined) return undefined;
  const { stdout, stderr } = await commandRun(oldInputs, oldInputs.delete);
  return { stdout, stderr };
}

// ---------------------------------------------------------------------------------------------
// command:remote:CopyToRemote

export interface CopyInputs {
  connection: Connection;
  source: AssetJson | Json;
  remotePath: string;
  triggers?: Json[];
}

function isAssetJson(v: unknown): v is AssetJson {
  return v !== null && typeof v === "object" && typeof (v as any).$asset === "string";
}

export async function copyToRemote(inputs: CopyInputs): Promise<void> {
  const src = inputs.source;
  if (!isAssetJson(src)) {
    throw new ResourceError("source must be a StringAsset or a FileAsset (archives are not supported by the test harness)");
  }
  const p = shq(inputs.remotePath);
  let script: string;
  let content: string | Buffer;
  if (src.$asset === "text") {
    content = src.text ?? "";
    script =
      `p=${p}; if [ -d "$p" ]; then echo "remote path $p is a directory; when using a text asset, remotePath must be a file path" >&2; exit 1; fi; ` +
      `mkdir -p "$(dirname "$p")" && cat > "$p"`;
  } else {
    const local = src.path!;
    if (fs.statSync(local).isDirectory()) throw new ResourceError(`FileAsset ${local} is a directory (not supported by the harness)`);
    content = fs.readFileSync(local);
    script =
      `p=${p}; if [ -d "$p" ]; then d="$p"/${shq(path.basename(local))}; else mkdir -p "$(dirname "$p")" || exit 1; d="$p"; fi; ` +
      `cat > "$d"`;
  }
  const r = await sshRun(inputs.connection, script, content);
  if (r.code !== 0) {
    throw new ResourceError(`failed to copy to remote path ${inputs.remotePath} (exit ${r.code}):\n${r.combined}`, r.stdout, r.stderr);
  }
}

// ---------------------------------------------------------------------------------------------
// random:index/randomPassword:RandomPassword

export interface RandomPasswordInputs {
  length: number;
  special?: boolean;
  upper?: boolean;
  lower?: boolean;
  numeric?: boolean;
  /** Deprecated alias of numeric. */
  number?: boolean;
  minUpper?: number;
  minLower?: number;
  minNumeric?: number;
  minSpecial?: number;
  overrideSpecial?: string;
  keepers?: Record<string, Json>;
}

const UPPER = "ABCDEFGHIJKLMNOPQRSTUVWXYZ";
const LOWER = "abcdefghijklmnopqrstuvwxyz";
const DIGITS = "0123456789";
const DEFAULT_SPECIAL = "!@#$%&*()-_=+[]{}<>:?";

/**
 * terraform-provider-random's algorithm: the minimum counts of each class first, the rest from the
 * union of enabled classes, then a shuffle; all from crypto randomness. Returns the computed outputs
 * (result plus the defaulted flags the provider stores in state). bcryptHash is not computed.
 */
export function randomPassword(inputs: RandomPasswordInputs): Record<string, Json> {
  const length = inputs.length;
  if (!Number.isInteger(length) || length < 1) throw new ResourceError(`length must be an integer >= 1, got ${length}`);
  const special = inputs.special ?? true;
  const upper = inputs.upper ?? true;
  const lower = inputs.lower ?? true;
  const numeric = inputs.numeric ?? inputs.number ?? true;
  const minUpper = inputs.minUpper ?? 0;
  const minLower = inputs.minLower ?? 0;
  const minNumeric = inputs.minNumeric ?? 0;
  const minSpecial = inputs.minSpecial ?? 0;
  const specialChars = inputs.overrideSpecial !== undefined && inputs.overrideSpecial !== "" ? inputs.overrideSpecial : DEFAULT_SPECIAL;
  if (minUpper + minLower + minNumeric + minSpecial > length) {
    throw new ResourceError(`length (${length}) must be >= minUpper + minLower + minNumeric + minSpecial`);
  }
  const classes: Array<[boolean, string, number]> = [
    [upper, UPPER, minUpper],
    [lower, LOWER, minLower],
    [numeric, DIGITS, minNumeric],
    [special, specialChars, minSpecial],
  ];
  const all = classes.filter(([on]) => on).map(([, chars]) => chars).join("");
  if (all.length === 0) throw new ResourceError("at least one of upper, lower, numeric or special must be enabled");
  const pick = (chars: string) => chars[crypto.randomInt(chars.length)];
  const out: string[] = [];
  for (const [on, chars, min] of classes) if (on) for (let i = 0; i < min; i++) out.push(pick(chars));
  while (out.length < length) out.push(pick(all));
  for (let i = out.length - 1; i > 0; i--) {
    const j = crypto.randomInt(i + 1);
    [out[i], out[j]] = [out[j], out[i]];
  }
  return {
    result: out.join(""),
    special,
    upper,
    lower,
    numeric,
    number: numeric,
    minUpper,
    minLower,
    minNumeric,
    minSpecial,
  };
}
