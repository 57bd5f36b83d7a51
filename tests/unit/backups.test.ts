// Backups: config, the steps on the Synapse VPS, and synapse-backup itself run here against a
// scratch tree, with stand-ins for pg_dump and pg_restore (the sandbox suite runs the real ones).
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { parseSettings } from "../../config";
import { backup as backupTool } from "../../render/backup";
import { validRaw } from "../support/fixtures";
import { runProgram } from "../support/mockProgram";
import { installedTool, requireTools } from "../support/tools";

requireTools("age", "age-keygen", "rclone");

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

// A real age key pair, made once for these tests (age-keygen).
const ageKeys = (() => {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), "age-"));
  spawnSync("age-keygen", ["-o", path.join(d, "key")]);
  const identity = fs.readFileSync(path.join(d, "key"), "utf8").split("\n").find((l) => l.startsWith("AGE-SECRET-KEY-1"))!;
  const recipient = spawnSync("age-keygen", ["-y", path.join(d, "key")], { encoding: "utf8" }).stdout.trim();
  fs.rmSync(d, { recursive: true });
  return { identity, recipient };
})();

describe("the off-host copy and restoreFrom: config and program", () => {
  const offsite = { backupBucket: "backups", backupEndpoint: "https://s3.example.net", backupAccessKeyId: "AKIA1", backupSecretAccessKey: "s3cret", backupAgeRecipient: ageKeys.recipient };

  it("needs the bucket's key and an age recipient; restoring from it needs the identity", () => {
    const r = parseSettings({ ...validRaw(), ...offsite });
    expect(r.ok && r.settings.backups?.offsite).toEqual({ endpoint: "https://s3.example.net", region: "us-east-1", bucket: "backups", prefix: "example.org",
      accessKeyId: "AKIA1", secretAccessKey: "s3cret", recipient: ageKeys.recipient });
    expect(r.ok && r.settings.restore).toBeUndefined();
    const bad = parseSettings({ ...validRaw(), backupBucket: "backups", backupAgeRecipient: "AGE-SECRET-KEY-1" + "Q".repeat(58), restoreFrom: "offsite:yesterday" });
    expect(bad.ok ? [] : bad.errors).toEqual([
      expect.stringMatching(/^synapse:backupAgeRecipient: given "AGE-SECRET-KEY-1Q+", expected an age public key \(age1…/),
      expect.stringMatching(/^synapse:restoreFrom: given "offsite:yesterday", expected offsite, offsite:<run>/),
    ]);
    const keyless = parseSettings({ ...validRaw(), backupBucket: "backups" });
    expect(keyless.ok ? [] : keyless.errors).toEqual([
      "synapse:backupAccessKeyId: given nothing, expected an access key ID (required with backupBucket)",
      expect.stringMatching(/^synapse:backupSecretAccessKey: given nothing, expected a secret access key/),
      expect.stringMatching(/^synapse:backupAgeRecipient: given nothing, expected an age public key/),
    ]);
    const noBucket = parseSettings({ ...validRaw(), restoreFrom: "offsite", restoreOverwrite: "true" });
    expect(noBucket.ok ? [] : noBucket.errors).toEqual([
      'synapse:restoreFrom: given "offsite", expected backupBucket (with its endpoint and keys) to be set too',
      expect.stringMatching(/^synapse:restoreAgeIdentity: given nothing, expected the age private key that decrypts "offsite"/),
    ]);
    const file = parseSettings({ ...validRaw(), restoreFrom: "/root/20261127T033000Z.tar" });
    expect(file.ok && file.settings.restore).toEqual({ source: "/root/20261127T033000Z.tar", identity: "", overwrite: false });
    const stray = parseSettings({ ...validRaw(), backupAgeRecipient: ageKeys.recipient, restoreOverwrite: "true" });
    expect(stray.ok ? [] : stray.errors).toEqual([
      "synapse:backupAgeRecipient: given a value, expected nothing without backupBucket",
      "synapse:restoreOverwrite: given true, expected false without restoreFrom",
    ]);
  });

  it("ships the bucket's credentials as a 0600 secret file, and restores before Synapse's first activation with the key on stdin", async () => {
    const run = await runProgram({ serverName: "example.org", host: "203.0.113.10", tlsMode: "self-signed", packageSource: "debian",
      ...offsite, restoreFrom: "offsite", restoreAgeIdentity: ageKeys.identity }, ["sshPrivateKey", "backupSecretAccessKey", "restoreAgeIdentity"],
    { "synapse-restore": "restored run 20261127T033000Z from offsite: 5 events, 2 users, 2 media files\n" });
    const env = run.byName("backups-offsite-env");
    expect(env.secretInputs).toContain("stdin");
    expect(env.inputs.create).toContain("DEST=/etc/synapse-deploy/backup-offsite.env\nMODE=0600\nOWNER=root:root\n");
    expect(env.inputs.stdin).toContain("RCLONE_CONFIG_OFFSITE_SECRET_ACCESS_KEY=s3cret\n");
    expect(env.inputs.stdin).toContain("OFFSITE_REMOTE=offsite:backups/example.org\n");
    expect(run.byName("backups-timer-conf").inputs.stdin).toContain("\noffsite=/etc/synapse-deploy/backup-offsite.env\n");
    expect(run.byName("backups-packages").inputs.create).toContain("PACKAGES='age rclone'");

    const restore = run.byName("synapse-restore");
    expect(restore.secretInputs).toContain("stdin");
    expect(restore.inputs.stdin.split("\n")[0]).toBe(ageKeys.identity);
    expect(restore.inputs.stdin).toContain("RCLONE_CONFIG_OFFSITE_ACCESS_KEY_ID=AKIA1\n");
    expect(restore.inputs.create).toContain("SOURCE=offsite\nSERVER_NAME=example.org\nOVERWRITE=false\n");
    for (const secret of ["s3cret", ageKeys.identity]) {
      for (const r of run.resources) expect(JSON.stringify(r.inputs.create ?? "")).not.toContain(secret);
    }
    // After the staged passfile (it names the database), before the activation.
    expect(restore.dependencies).toContain(run.byName("synapse-staged-passfile").urn);
    expect(run.byName("synapse-activate").dependencies).toContain(restore.urn);
    // The stack output is what the restore step printed on the host, trimmed.
    expect(run.outputs.restore).toBe("restored run 20261127T033000Z from offsite: 5 events, 2 users, 2 media files");

    const plain = await runProgram({ serverName: "example.org", host: "203.0.113.10", tlsMode: "self-signed", packageSource: "debian" });
    expect(plain.resources.filter((r) => r.name === "synapse-restore" || r.name === "backups-offsite-env")).toEqual([]);
    expect(plain.byName("backups-packages").inputs.create).toContain("PACKAGES=age\n");
    expect(plain.outputs.restore).toBeUndefined();
  });
});

describe("synapse-backup, run here", () => {
  let dir: string;
  let env: NodeJS.ProcessEnv;
  const tool = installedTool("synapse-backup", backupTool.confPath);
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
    fs.writeFileSync(path.join(bin, "pg_restore"), `#!/bin/bash\nif [ "$1" = --list ]; then grep -q dump "$2" && printf '1; 0 0 TABLE DATA public events synapse_user\\n2; 0 0 TABLE DATA public users synapse_user\\n'; else echo "$PGPASSFILE $*" >> "${dir}/pg_restore.log"; fi\n`, { mode: 0o755 });
    // psql answers the queries the tools ask: collation, tables, events and users.
    fs.writeFileSync(path.join(bin, "psql"), `#!/bin/bash\necho "$*" >> "${dir}/psql.log"\ncase "$*" in\n  *datcollate*) echo "\${COLLATION:-C/C}" ;;\n  *pg_tables*) echo "\${TABLES:-0}" ;;\n  *"FROM events"*) echo "5 2" ;;\nesac\n`, { mode: 0o755 });
    fs.writeFileSync(path.join(bin, "systemctl"), `#!/bin/bash\necho "$*" >> "${dir}/systemctl.log"\n`, { mode: 0o755 });
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
    expect(files).toEqual(["SHA256SUMS", "config.tar", "deploy-state.tar", "meta.json", "signing.key", "synapse.dump"]);
    expect(JSON.parse(fs.readFileSync(path.join(backupDir(), "runs", run, "meta.json"), "utf8"))).toEqual({ serverName: "example.org", events: 5, users: 2 });
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

  /** An off-host copy in rclone's local backend (a directory): the real rclone and age, no S3 server. */
  const withOffsite = () => {
    fs.writeFileSync(path.join(dir, "offsite.env"), [`OFFSITE_REMOTE=offsite:${dir}/bucket/example.org`, `OFFSITE_RECIPIENT=${ageKeys.recipient}`,
      "RCLONE_CONFIG_OFFSITE_TYPE=local", ""].join("\n"), { mode: 0o600 });
    fs.appendFileSync(path.join(dir, "conf"), `offsite=${dir}/offsite.env\n`);
    fs.writeFileSync(path.join(dir, "identity"), `${ageKeys.identity}\n`, { mode: 0o600 });
  };
  const bucketRuns = () => fs.readdirSync(path.join(dir, "bucket", "example.org", "runs")).sort();
  const restoreTool = installedTool("synapse-restore", backupTool.confPath);
  /** A new, empty homeserver: its own config dir (with the passfile) and media store. */
  const target = () => {
    const t = path.join(dir, "target");
    fs.mkdirSync(path.join(t, "etc"), { recursive: true });
    fs.writeFileSync(path.join(t, "etc", "pgpass"), "10.0.0.3:5432:synapse:synapse_user:secret\n", { mode: 0o600 });
    return { SYNAPSE_BACKUP_ETC: path.join(t, "etc"), SYNAPSE_BACKUP_MEDIA: path.join(t, "media"), SYNAPSE_RESTORE_MARKER: path.join(t, "restored.json") };
  };
  const restore = (args: string[], extra: Record<string, string> = {}) =>
    spawnSync("bash", [restoreTool, ...args], { encoding: "utf8", env: { ...env, ...target(), ...extra } });

  it("sends each run off-host encrypted to the age recipient, and only the media the bucket lacks; keeps the newest runs there", () => {
    withOffsite();
    const first = backup();
    expect(first.stderr).toBe("");
    const [run] = runs();
    expect(first.stdout).toContain(`; off-host: offsite:${dir}/bucket/example.org/runs/${run}.tar.age, 2 new media files; `);
    const object = path.join(dir, "bucket", "example.org", "runs", `${run}.tar.age`);
    expect(fs.readFileSync(object).includes("ed25519 a_abcd keybytes")).toBe(false);
    const decrypted = spawnSync("sh", ["-c", `age -d -i ${dir}/identity ${object} | tar -tf -`], { encoding: "utf8" });
    expect(decrypted.stdout.split("\n").sort()).toEqual(expect.arrayContaining(["./SHA256SUMS", "./meta.json", "./signing.key", "./synapse.dump"]));
    // Another key cannot read it.
    spawnSync("age-keygen", ["-o", path.join(dir, "other")]);
    expect(spawnSync("age", ["-d", "-i", path.join(dir, "other"), object]).status).toBe(1);
    const media = path.join(dir, "bucket", "example.org", "media", "local_content", "ab", "one.age");
    expect(spawnSync("age", ["-d", "-i", path.join(dir, "identity"), media], { encoding: "utf8" }).stdout).toBe("1");

    fs.writeFileSync(path.join(dir, "media", "local_content", "ab", "three"), "3");
    spawnSync("sleep", ["1.1"]);
    expect(backup().stdout).toContain(".tar.age, 1 new media files; ");
    spawnSync("sleep", ["1.1"]);
    expect(backup().stdout).toContain(".tar.age, 0 new media files; ");
    expect(bucketRuns()).toEqual(runs().map((r) => `${r}.tar.age`));
    expect(JSON.parse(backup(["--list", "--json"]).stdout)).toEqual({ local: runs(), offsite: runs(), offsiteConfigured: true });
    const status = JSON.parse(backup(["--status", "--json"]).stdout);
    expect(status.offsite).toMatchObject({ object: `offsite:${dir}/bucket/example.org/runs/${runs()[1]}.tar.age`, mediaFiles: 3 });
    expect(backup(["--status"]).stdout).toMatch(/^off-host: offsite:.*\.tar\.age \(0 h 0 min ago; 3 media files there\)$/m);
  });

  it("a failed off-host copy fails the run loudly, keeps the local run and says so in the status", () => {
    withOffsite();
    fs.mkdirSync(path.join(dir, "bucket"));
    fs.writeFileSync(path.join(dir, "bucket", "example.org"), "not a directory");
    const r = backup();
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/synapse-backup: ERROR: the off-host copy to offsite:.*\/bucket\/example.org failed \(the local run \d{8}T\d{6}Z is kept\)\n$/);
    expect(runs()).toHaveLength(1);
    const status = JSON.parse(backup(["--status", "--json"]).stdout);
    expect(status).toMatchObject({ run: `${backupDir()}/runs/${runs()[0]}`, offsite: null });
    expect(status.offsiteError).toMatch(/off-host copy .* failed/);
  });

  it("synapse-restore brings the newest off-host run back onto an empty homeserver, once", () => {
    withOffsite();
    expect(backup().status).toBe(0);
    fs.writeFileSync(path.join(dir, "media", "local_content", "ab", "three"), "3");
    spawnSync("sleep", ["1.1"]);
    expect(backup().status).toBe(0);
    const newest = runs()[1];
    const r = restore(["--once", "--server-name", "example.org", "--identity", path.join(dir, "identity"), "offsite"]);
    expect(r.stderr).toBe("");
    expect(r.stdout).toBe(`restored run ${newest} from offsite: 5 events, 2 users, 3 media files; signing key ed25519:a_abcd; secrets differ from the backup's (the stack's are used)\n`);
    const t = target();
    expect(fs.readFileSync(path.join(t.SYNAPSE_BACKUP_ETC, "homeserver.signing.key"), "utf8")).toBe("ed25519 a_abcd keybytes\n");
    expect(mode(path.join(t.SYNAPSE_BACKUP_ETC, "homeserver.signing.key"))).toBe("600");
    for (const [f, bytes] of [["one", "1"], ["two", "2"], ["three", "3"]]) {
      expect(fs.readFileSync(path.join(t.SYNAPSE_BACKUP_MEDIA, "local_content", "ab", f), "utf8")).toBe(bytes);
    }
    // Into the target's database, as Synapse's role, in one transaction.
    expect(fs.readFileSync(path.join(dir, "pg_restore.log"), "utf8")).toMatch(
      new RegExp(`^${t.SYNAPSE_BACKUP_ETC}/pgpass --no-owner --no-acl --single-transaction --exit-on-error -h 10.0.0.3 -p 5432 -U synapse_user -d synapse /var/tmp/synapse-restore\\.\\w+/run/synapse.dump\n$`));
    expect(JSON.parse(fs.readFileSync(t.SYNAPSE_RESTORE_MARKER, "utf8"))).toMatchObject({ source: "offsite", run: newest, events: 5, users: 2, mediaFiles: 3 });
    // The secrets the stack would write are compared with the backup's.
    fs.mkdirSync(path.join(dir, "staged"));
    fs.writeFileSync(path.join(dir, "staged", "secrets.yaml"), "macaroon_secret_key: x\n");
    const again = restore(["--once", "--server-name", "example.org", "--identity", path.join(dir, "identity"), "offsite"]);
    expect(again.stdout).toMatch(new RegExp(`^already restored from offsite: ${newest} at \\d{4}-`));
    expect(fs.readFileSync(path.join(dir, "pg_restore.log"), "utf8").split("\n")).toHaveLength(2);
    fs.rmSync(t.SYNAPSE_RESTORE_MARKER);
    fs.rmSync(t.SYNAPSE_BACKUP_MEDIA, { recursive: true });
    const local = restore(["--server-name", "example.org", runs()[0]], { SYNAPSE_RESTORE_SECRETS: path.join(dir, "staged", "secrets.yaml") });
    expect(local.stdout).toBe(`restored run ${runs()[0]} from ${runs()[0]}: 5 events, 2 users, 3 media files; signing key ed25519:a_abcd; secrets identical to the backup's\n`);
  });

  it("synapse-restore refuses a homeserver with data unless asked, another server's backup, a damaged run, a wrong key or a wrong collation", () => {
    withOffsite();
    expect(backup().status).toBe(0);
    const [run] = runs();
    const id = ["--identity", path.join(dir, "identity")];
    const refused = restore(["--server-name", "example.org", ...id, "offsite"], { TABLES: "3" });
    expect(refused.status).toBe(1);
    expect(refused.stderr).toContain("synapse-restore: ERROR: refusing to restore over a homeserver that has data (3 tables in synapse, 0 media files, the same signing key)");
    expect(fs.existsSync(path.join(dir, "pg_restore.log"))).toBe(false);
    const forced = restore(["--overwrite", "--server-name", "example.org", ...id, "offsite"], { TABLES: "3" });
    expect(forced.status).toBe(0);
    expect(fs.readFileSync(path.join(dir, "psql.log"), "utf8")).toContain("-c DROP SCHEMA public CASCADE -c CREATE SCHEMA public");
    expect(fs.readFileSync(path.join(dir, "systemctl.log"), "utf8")).toContain("list-units --type=service --state=active");

    const other = restore(["--server-name", "other.org", ...id, "offsite"]);
    expect(other.stderr).toContain(`ERROR: run ${run} is a backup of example.org, not of other.org: nothing was changed`);
    spawnSync("age-keygen", ["-o", path.join(dir, "other")]);
    const wrongKey = restore(["--identity", path.join(dir, "other"), "offsite"]);
    expect(wrongKey.stderr).toContain(`ERROR: cannot decrypt ${run}.tar.age with the given identity`);
    expect(restore(["offsite"]).stderr).toContain("ERROR: offsite is encrypted: give the age private key (--identity)");
    const collation = restore([...id, "offsite"], { COLLATION: "en_US.UTF-8/en_US.UTF-8" });
    expect(collation.stderr).toContain("ERROR: database synapse has collation en_US.UTF-8/en_US.UTF-8; Synapse needs C/C");
    fs.appendFileSync(path.join(backupDir(), "runs", run, "signing.key"), "tampered");
    expect(restore([run]).stderr).toContain(`ERROR: run ${run} fails its SHA256SUMS: it is damaged`);
  });

  it("--status fails when no backup has succeeded; --list lists none", () => {
    const r = backup(["--status"]);
    expect({ status: r.status, stderr: r.stderr }).toEqual({ status: 1, stderr: "synapse-backup: no backup has succeeded on this host yet\n" });
    const list = backup(["--list", "--json"]);
    expect({ status: list.status, list: JSON.parse(list.stdout || "null")?.local }).toEqual({ status: 0, list: [] });
  });
});
