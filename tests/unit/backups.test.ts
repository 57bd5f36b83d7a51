// Backups: config, the steps on the Synapse VPS, and synapse-backup itself run here against a
// scratch tree, with stand-ins for pg_dump and pg_restore (the sandbox suite runs the real ones).
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { parseSettings } from "../../config";
import { hostToolsDir } from "../../render/maintenance";
import { validRaw } from "../support/fixtures";
import { runProgram } from "../support/mockProgram";

describe("config and program", () => {
  it("backs up by default, nightly, keeping 7 runs; media only when it is on local disk", () => {
    const r = parseSettings(validRaw());
    expect(r.ok && r.settings.backups).toEqual({ schedule: "*-*-* 03:30", keep: 7, media: "local" });
    const off = parseSettings({ ...validRaw(), backups: "false" });
    expect(off.ok && off.settings.backups).toBeUndefined();
    const bad = parseSettings({ ...validRaw(), backupKeep: "0", backupSchedule: "nightly; reboot" });
    expect(bad.ok ? [] : bad.errors).toEqual([
      expect.stringMatching(/^synapse:backupSchedule: given "nightly; reboot", expected a systemd OnCalendar expression/),
      expect.stringMatching(/^synapse:backupKeep: given "0", expected an integer >= 1/),
    ]);
  });

  it("installs synapse-backup and its timer on the Synapse VPS", async () => {
    const run = await runProgram({ serverName: "example.org", host: "203.0.113.10", tlsMode: "self-signed", packageSource: "debian",
      databaseHost: "10.0.0.3", privateAddress: "10.0.0.2", backupKeep: "3", backupSchedule: "*-*-* 02:00" });
    expect(run.byName("backups-timer").inputs.connection.host).toBe("203.0.113.10");
    expect(run.byName("backups-timer-conf").inputs.stdin).toContain("dir=/var/backups/synapse-deploy\nkeep=3\n");
    expect(run.byName("backups-timer-conf").inputs.stdin).toContain("\nmedia=local\n");
    expect(run.byName("backups-timer-timer").inputs.stdin).toContain("OnCalendar=*-*-* 02:00\n");
    const none = await runProgram({ serverName: "example.org", host: "203.0.113.10", tlsMode: "self-signed", packageSource: "debian", backups: "false" });
    expect(none.resources.filter((r) => r.name.startsWith("backups"))).toEqual([]);
  });
});

describe("synapse-backup, run here", () => {
  let dir: string;
  let env: NodeJS.ProcessEnv;
  const tool = path.join(hostToolsDir, "synapse-backup.sh");
  const backupDir = () => path.join(dir, "backups");
  const runs = () => fs.readdirSync(path.join(backupDir(), "runs")).sort();
  const mode = (p: string) => (fs.statSync(p).mode & 0o777).toString(8);
  const backup = (args: string[] = [], extra: Record<string, string> = {}) =>
    spawnSync("bash", [tool, ...args], { encoding: "utf8", env: { ...env, ...extra } });

  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "backup-"));
    const etc = path.join(dir, "etc", "matrix-synapse");
    fs.mkdirSync(path.join(etc, "conf.d"), { recursive: true });
    fs.writeFileSync(path.join(etc, "pgpass"), "127.0.0.1:5432:synapse:synapse_user:secret\n");
    fs.writeFileSync(path.join(etc, "homeserver.signing.key"), "ed25519 a_abcd keybytes\n");
    fs.writeFileSync(path.join(etc, "homeserver.yaml"), "server_name: example.org\n");
    fs.writeFileSync(path.join(etc, "conf.d", "secrets.yaml"), "macaroon_secret_key: x\n");
    fs.mkdirSync(path.join(dir, "root", "etc", "synapse-deploy"), { recursive: true });
    fs.writeFileSync(path.join(dir, "root", "etc", "synapse-deploy", "admin-token"), "syt_x");
    fs.mkdirSync(path.join(dir, "root", "var", "lib", "synapse-deploy", "staged"), { recursive: true });
    fs.writeFileSync(path.join(dir, "root", "var", "lib", "synapse-deploy", "staged", "homeserver.yaml"), "staged");
    fs.writeFileSync(path.join(dir, "root", "var", "lib", "synapse-deploy", "database-move"), "moved");
    fs.mkdirSync(path.join(dir, "media", "local_content", "ab"), { recursive: true });
    fs.writeFileSync(path.join(dir, "media", "local_content", "ab", "one"), "1");
    fs.writeFileSync(path.join(dir, "media", "local_content", "ab", "two"), "2");
    const bin = path.join(dir, "bin");
    fs.mkdirSync(bin);
    // pg_dump writes its -f file (or fails when told to); pg_restore --list reads it back.
    fs.writeFileSync(path.join(bin, "pg_dump"), `#!/bin/bash\n[ -z "\${FAIL_DUMP:-}" ] || { echo "pg_dump: connection refused" >&2; exit 1; }\necho "$PGPASSFILE $*" > "${dir}/pg_dump.args"\nwhile [ $# -gt 0 ]; do [ "$1" = -f ] && { echo dump > "$2"; }; shift; done\n`, { mode: 0o755 });
    fs.writeFileSync(path.join(bin, "pg_restore"), "#!/bin/bash\n[ \"$1\" = --list ] && grep -q dump \"$2\" && printf '1; 0 0 TABLE DATA public events synapse_user\\n2; 0 0 TABLE DATA public users synapse_user\\n'\n", { mode: 0o755 });
    fs.writeFileSync(path.join(dir, "conf"), `dir=${backupDir()}\nkeep=2\nmedia=local\n`);
    env = { ...process.env, PATH: `${bin}:${process.env.PATH}`, SYNAPSE_BACKUP_CONF: path.join(dir, "conf"),
      SYNAPSE_BACKUP_STATUS: path.join(dir, "status.json"), SYNAPSE_BACKUP_ETC: etc, SYNAPSE_BACKUP_MEDIA: path.join(dir, "media"),
      SYNAPSE_BACKUP_STATE_ROOT: path.join(dir, "root") };
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it("writes a complete run, every file 0600, with Synapse's passfile, and says so", () => {
    const r = backup();
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^synapse-backup: backup \d{8}T\d{6}Z: database 0\.0 MiB \(2 tables\), signing key, config, deploy state; media: 2 new of 2 files; 1 runs kept; \d+ s\n$/);
    const [run] = runs();
    const files = fs.readdirSync(path.join(backupDir(), "runs", run)).sort();
    expect(files).toEqual(["SHA256SUMS", "config.tar", "deploy-state.tar", "signing.key", "synapse.dump"]);
    for (const f of files) expect(mode(path.join(backupDir(), "runs", run, f))).toBe("600");
    expect(mode(backupDir())).toBe("700");
    expect(fs.readFileSync(path.join(backupDir(), "runs", run, "signing.key"), "utf8")).toBe("ed25519 a_abcd keybytes\n");
    expect(spawnSync("tar", ["-tf", path.join(backupDir(), "runs", run, "config.tar")], { encoding: "utf8" }).stdout.split("\n"))
      .toEqual(expect.arrayContaining(["matrix-synapse/conf.d/secrets.yaml", "matrix-synapse/homeserver.yaml"]));
    // This program's state, without the staged copies (they are in config.tar once live).
    expect(spawnSync("tar", ["-tf", path.join(backupDir(), "runs", run, "deploy-state.tar")], { encoding: "utf8" }).stdout.trim().split("\n").sort())
      .toEqual(["etc/synapse-deploy/", "etc/synapse-deploy/admin-token", "var/lib/synapse-deploy/", "var/lib/synapse-deploy/database-move"]);
    expect(fs.readFileSync(path.join(dir, "pg_dump.args"), "utf8")).toBe(
      `${dir}/etc/matrix-synapse/pgpass -Fc -h 127.0.0.1 -p 5432 -U synapse_user -d synapse -f ${backupDir()}/runs/${run}.partial/synapse.dump\n`);
    const status = JSON.parse(backup(["--status", "--json"]).stdout);
    expect(status).toMatchObject({ run: `${backupDir()}/runs/${run}`, tables: 2, mediaFiles: 2, newMediaFiles: 2 });
    expect(status.ageSeconds).toBeLessThan(60);
  });

  it("copies only new media, keeps the newest runs, and fails loudly leaving the last good one", () => {
    expect(backup().status).toBe(0);
    spawnSync("sleep", ["1.1"]);
    fs.writeFileSync(path.join(dir, "media", "local_content", "ab", "three"), "3");
    const second = backup();
    expect(second.stdout).toContain("media: 1 new of 3 files; 2 runs kept");
    spawnSync("sleep", ["1.1"]);
    const third = backup();
    expect(third.stdout).toContain("media: 0 new of 3 files; 2 runs kept");
    expect(runs()).toHaveLength(2);
    const good = fs.readFileSync(path.join(dir, "status.json"), "utf8");

    spawnSync("sleep", ["1.1"]);
    const failed = backup([], { FAIL_DUMP: "1" });
    expect(failed.status).toBe(1);
    expect(failed.stderr).toContain("synapse-backup: ERROR: pg_dump of synapse on 127.0.0.1 failed");
    // The two good runs stay, nothing half-written is left, and the status still names the last good one.
    expect(runs()).toHaveLength(2);
    expect(runs().filter((r) => r.endsWith(".partial"))).toEqual([]);
    expect(fs.readFileSync(path.join(dir, "status.json"), "utf8")).toBe(good);
  });

  it("--status fails when no backup has succeeded", () => {
    const r = backup(["--status"]);
    expect({ status: r.status, stderr: r.stderr }).toEqual({ status: 1, stderr: "synapse-backup: no backup has succeeded on this host yet\n" });
  });
});
