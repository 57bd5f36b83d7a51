// A throwaway OpenSSH server on 127.0.0.1 for harness tests: temp ed25519 host and client keys,
// key-only login as the current user. Needs /usr/sbin/sshd (apt-get install openssh-server) and,
// to log in as root like a fresh VPS, root.
import { ChildProcess, execFileSync, spawn, spawnSync } from "child_process";
import * as fs from "fs";
import * as net from "net";
import * as os from "os";
import * as path from "path";

export interface Sshd {
  host: string;
  port: number;
  user: string;
  /** OpenSSH private key (ed25519) that may log in. */
  privateKey: string;
  dir: string;
  stop(): Promise<void>;
}

export const SSHD_BIN = process.env.HARNESS_SSHD ?? "/usr/sbin/sshd";

/** Why sshd cannot be started here, or undefined if it probably can. */
export function sshdUnavailable(): string | undefined {
  if (!fs.existsSync(SSHD_BIN)) return `${SSHD_BIN} not found (apt-get install openssh-server)`;
  if (spawnSync("ssh", ["-V"]).error) return "the OpenSSH client (ssh) is not installed";
  if (spawnSync("ssh-keygen", ["-?"]).error) return "ssh-keygen is not installed";
  if (typeof process.getuid === "function" && process.getuid() !== 0) return "not root (sshd needs root for privilege separation)";
  return undefined;
}

function freePort(preferred: number): Promise<number> {
  const tryPort = (port: number) =>
    new Promise<number>((resolve, reject) => {
      const srv = net.createServer();
      srv.once("error", reject);
      srv.listen(port, "127.0.0.1", () => {
        const p = (srv.address() as net.AddressInfo).port;
        srv.close(() => resolve(p));
      });
    });
  return tryPort(preferred).catch(() => tryPort(0));
}

function sshOk(s: Omit<Sshd, "stop">, keyFile: string): boolean {
  const r = spawnSync(
    "ssh",
    [
      "-F", "/dev/null", "-p", String(s.port), "-i", keyFile, "-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes",
      "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR",
      "-o", "ConnectTimeout=2", `${s.user}@${s.host}`, "true",
    ],
    { stdio: "ignore", timeout: 5000 },
  );
  return r.status === 0;
}

export async function startSshd(opts: { port?: number } = {}): Promise<Sshd> {
  const why = sshdUnavailable();
  if (why) throw new Error(`cannot start sshd: ${why}`);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "harness-sshd-"));
  fs.chmodSync(dir, 0o700);
  const hostKey = path.join(dir, "host_ed25519");
  const clientKey = path.join(dir, "client_ed25519");
  execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", hostKey]);
  execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "harness", "-f", clientKey]);
  const authorized = path.join(dir, "authorized_keys");
  fs.copyFileSync(`${clientKey}.pub`, authorized);
  fs.chmodSync(authorized, 0o600);
  fs.mkdirSync("/run/sshd", { recursive: true, mode: 0o755 }); // privilege separation directory
  const port = await freePort(opts.port ?? 2222);
  const user = os.userInfo().username;
  const child: ChildProcess = spawn(
    SSHD_BIN,
    [
      "-D", "-e", "-f", "/dev/null", "-p", String(port), "-h", hostKey,
      "-o", "ListenAddress=127.0.0.1",
      "-o", `AuthorizedKeysFile=${authorized}`,
      "-o", "StrictModes=no",
      "-o", "PasswordAuthentication=no",
      "-o", "KbdInteractiveAuthentication=no",
      "-o", "PermitRootLogin=prohibit-password",
      "-o", "UsePAM=no",
      "-o", `PidFile=${path.join(dir, "sshd.pid")}`,
      "-o", "MaxStartups=50:30:100",
      "-o", "Subsystem=sftp internal-sftp",
    ],
    { stdio: ["ignore", "ignore", "pipe"], detached: false },
  );
  // never leave an orphan sshd behind, even if the test process exits without calling stop()
  const killOnExit = () => child.kill("SIGTERM");
  process.once("exit", killOnExit);
  let err = "";
  child.stderr!.setEncoding("utf8").on("data", (d: string) => (err += d));
  const info = { host: "127.0.0.1", port, user, privateKey: fs.readFileSync(clientKey, "utf8"), dir };
  const stop = async () => {
    process.off("exit", killOnExit);
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((r) => child.once("exit", r));
      child.kill("SIGTERM");
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([exited, new Promise((r) => (timer = setTimeout(r, 3000)))]);
      clearTimeout(timer);
    }
    fs.rmSync(dir, { recursive: true, force: true });
  };
  for (let i = 0; i < 50; i++) {
    if (child.exitCode !== null) break;
    if (sshOk(info, clientKey)) return { ...info, stop };
    await new Promise((r) => setTimeout(r, 100));
  }
  await stop();
  throw new Error(`sshd did not come up on 127.0.0.1:${port}: ${err.trim() || "(no output)"}`);
}
