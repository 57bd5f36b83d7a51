// The e2e suite's view of one sandbox VPS: the dev stack pointed at it, applied with the harness,
// plus ssh and HTTPS clients and a record of how long each scenario took.
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import YAML from "yaml";
import { applyProgram, ApplyResult, readState, StateFile, writeConfig } from "../harness/apply";
import { sshExec, upVps } from "../../sandbox/sandbox";
import { request, sandboxAgent } from "../clients/https";

export const root = path.join(__dirname, "..", "..", "..");
export const outputDir = path.join(root, "test-output", "e2e");

/** The dev stack's config (Pulumi.dev.yaml), as the harness takes it. */
export function devStackConfig(): Record<string, unknown> {
  const doc = YAML.parse(fs.readFileSync(path.join(root, "Pulumi.dev.yaml"), "utf8"));
  return { ...doc.config };
}

export interface Vps {
  n: number;
  host: string;
  privateKey: string;
  /** Runs a command as root on the VPS; throws with its output unless it exits 0 (or `allowFail`). */
  sh(command: string, opts?: { stdin?: string; allowFail?: boolean }): Promise<{ code: number; stdout: string; stderr: string }>;
}

export async function bootVps(n: number, image: "base" | "packages" = "base"): Promise<Vps> {
  const v = await upVps(n, image);
  return {
    n, host: v.host, privateKey: v.privateKey,
    async sh(command, opts = {}) {
      const r = await sshExec(n, command, opts.stdin);
      if (r.code !== 0 && !opts.allowFail) {
        throw new Error(`vps${n}: '${command}' exited ${r.code}\n${r.stdout}\n${r.stderr}`);
      }
      return r;
    },
  };
}

/** Applies (or previews) the real program (index.ts) to a VPS with the dev stack plus overrides. */
export class StackRunner {
  readonly dir: string;
  readonly stateFile: string;
  private step = 0;

  constructor(readonly vps: Vps, readonly name: string) {
    this.dir = path.join(outputDir, name);
    fs.rmSync(this.dir, { recursive: true, force: true });
    fs.mkdirSync(this.dir, { recursive: true });
    this.stateFile = path.join(this.dir, "state.json");
  }

  configFile(overrides: Record<string, unknown> = {}): string {
    const file = path.join(this.dir, `config-${this.step}.json`);
    const config: Record<string, unknown> = { ...devStackConfig(), "synapse:host": this.vps.host, "synapse:sshPrivateKey": this.vps.privateKey };
    for (const [k, v] of Object.entries(overrides)) config[`synapse:${k}`] = v;
    writeConfig(file, { config, secrets: ["synapse:sshPrivateKey"], stack: "dev" });
    return file;
  }

  async apply(label: string, overrides: Record<string, unknown> = {}, preview = false): Promise<ApplyResult> {
    this.step++;
    const result = await applyProgram({
      program: path.join(root, "index.ts"),
      configFile: this.configFile(overrides),
      stateFile: this.stateFile,
      preview,
      reportFile: path.join(this.dir, `${String(this.step).padStart(2, "0")}-${label}.json`),
      timeoutSeconds: 900,
      echo: process.env.E2E_ECHO === "1",
    });
    fs.writeFileSync(path.join(this.dir, `${String(this.step).padStart(2, "0")}-${label}.log`), result.log);
    return result;
  }

  /**
   * Starts an apply and kills it (the harness and every ssh process it started) `delayMs` after
   * its progress log first matches `when`, as a dropped connection or a killed laptop would.
   * Resolves to whether the kill happened before the apply ended by itself.
   */
  async applyKilled(label: string, overrides: Record<string, unknown>, when: RegExp, delayMs: number): Promise<boolean> {
    this.step++;
    const child = spawn(process.execPath, [
      path.join(path.dirname(require.resolve("tsx/package.json")), "dist", "cli.mjs"),
      path.join(__dirname, "..", "harness", "apply.ts"),
      "--program", path.join(root, "index.ts"), "--config", this.configFile(overrides), "--state", this.stateFile,
    ], { cwd: root, detached: true, stdio: ["ignore", "ignore", "pipe"] });
    let log = "";
    const killed = await new Promise<boolean>((resolve) => {
      let armed = false;
      child.stderr!.setEncoding("utf8").on("data", (d: string) => {
        log += d;
        if (armed || !when.test(log)) return;
        armed = true;
        setTimeout(() => {
          try { process.kill(-child.pid!, "SIGKILL"); resolve(true); } catch { resolve(false); }
        }, delayMs);
      });
      child.on("exit", () => resolve(false));
    });
    fs.writeFileSync(path.join(this.dir, `${String(this.step).padStart(2, "0")}-${label}.log`), log);
    return killed;
  }

  state(): StateFile {
    const s = readState(this.stateFile);
    if (!s) throw new Error("no state yet");
    return s;
  }

  /** Stack outputs with secrets in clear (like `pulumi stack output --show-secrets`). */
  outputs(): Record<string, any> {
    return this.state().outputs ?? {};
  }
}

/** Fails the test with the apply's error and log unless it succeeded. */
export function expectApplied(r: ApplyResult): void {
  if (!r.ok) throw new Error(`apply failed (exit ${r.exitCode}): ${r.error}\n--- log ---\n${r.log.slice(-6000)}`);
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
    close: () => agent.close(),
  };
}

/** Records the wall time of each scenario as JSON and Markdown under test-output/e2e. */
export async function timed<T>(scenario: string, fn: () => Promise<T>): Promise<T> {
  const t0 = Date.now();
  try {
    return await fn();
  } finally {
    fs.mkdirSync(outputDir, { recursive: true });
    const file = path.join(outputDir, "timings.json");
    const all = fs.existsSync(file) ? JSON.parse(fs.readFileSync(file, "utf8")) : {};
    all[scenario] = (Date.now() - t0) / 1000;
    fs.writeFileSync(file, JSON.stringify(all, null, 2) + "\n");
    const rows = Object.entries(all).map(([s, sec]) => `| ${s} | ${(sec as number).toFixed(1)} |`);
    const total = Object.values(all).reduce((a: number, b) => a + (b as number), 0);
    fs.writeFileSync(path.join(outputDir, "timings.md"),
      `| scenario | seconds |\n|---|---|\n${rows.join("\n")}\n| **total** | ${total.toFixed(1)} |\n`);
  }
}
