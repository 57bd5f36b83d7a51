// `npm run admin`, run as a user runs it (the real entry, a real process), with stand-ins for
// the two programs it drives: `pulumi` (prints the stack output) and `ssh` (records how it was
// called and answers as the host would). The sandbox suite runs it against a real homeserver.
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { testPrivateKey } from "../support/fixtures";
import { adminToken, runProgram } from "../support/mockProgram";

const root = path.join(__dirname, "..", "..");
let dir: string;
const access = {
  synapse: { host: "203.0.113.10", port: 22, user: "root", privateKey: "-----BEGIN OPENSSH PRIVATE KEY-----\nkey\n-----END OPENSSH PRIVATE KEY-----" },
  database: { host: "198.51.100.20", port: 2222, user: "deploy", privateKey: "box key" },
};

/** Writes the stand-ins; `ssh` exits with SSH_EXIT and prints SSH_OUT, after recording its argv and key. */
function standIns(output: unknown, pulumiExit = 0): void {
  fs.writeFileSync(path.join(dir, "pulumi"), `#!/bin/sh\necho "$@" > "${dir}/pulumi.args"\n[ ${pulumiExit} = 0 ] || { echo "error: no stack named dev" >&2; exit ${pulumiExit}; }\ncat <<'JSON'\n${JSON.stringify(output)}\nJSON\n`, { mode: 0o755 });
  fs.writeFileSync(path.join(dir, "ssh"), `#!/bin/bash
printf '%s\\n' "$@" > "${dir}/ssh.args"
n=$(ls "${dir}" | grep -c '^ssh.args.' || true); cp "${dir}/ssh.args" "${dir}/ssh.args.$((n + 1))"
key=$(awk '$1 == "-i" { getline; print }' <(printf '%s\\n' "$@"))
stat -c %a "$key" > "${dir}/ssh.keymode"; cat "$key" > "${dir}/ssh.key"
cat > "${dir}/ssh.stdin"
printf '%s' "\${SSH_OUT:-}"
[ "\${SSH_EXIT:-0}" = 255 ] && echo "ssh: connect to host 203.0.113.10 port 22: Connection refused" >&2
exit "\${SSH_EXIT:-0}"
`, { mode: 0o755 });
}

function admin(args: string[], env: Record<string, string> = {}) {
  return spawnSync(process.execPath, ["--experimental-strip-types", "--disable-warning=ExperimentalWarning", "--disable-warning=MODULE_TYPELESS_PACKAGE_JSON",
    path.join(root, "admin", "main.mjs"), ...args], { cwd: dir, encoding: "utf8", env: { ...process.env, PATH: `${dir}:${process.env.PATH}`, ...env } });
}
const sshArgs = () => fs.readFileSync(path.join(dir, "ssh.args"), "utf8").trim().split("\n");

beforeEach(() => { dir = fs.mkdtempSync(path.join(os.tmpdir(), "admin-")); });
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

it("db-report runs synapse-db-report on the Synapse VPS with the stack's key and synapse-reclaim's measurement on the database host, passing the report's exit status through", () => {
  standIns(access);
  const r = admin(["db-report", "--json"], { SSH_OUT: '{"alert":true}\n', SSH_EXIT: "2" });
  expect({ status: r.status, stdout: r.stdout }).toEqual({ status: 2, stdout: '{"alert":true}\n' });
  expect(fs.readFileSync(path.join(dir, "pulumi.args"), "utf8").trim()).toBe("stack output adminAccess --json --show-secrets");
  const args = fs.readFileSync(path.join(dir, "ssh.args.1"), "utf8").trim().split("\n");
  expect(args.slice(-3)).toEqual(["root@203.0.113.10", "--", "synapse-db-report --json"]);
  const onBox = fs.readFileSync(path.join(dir, "ssh.args.2"), "utf8").trim().split("\n");
  expect(onBox.slice(-3, -1)).toEqual(["deploy@198.51.100.20", "--"]);
  expect(onBox.at(-1)).toMatch(/^sudo -n bash -c '.*synapse-reclaim --measure --json/);
  expect(args).toEqual(expect.arrayContaining(["-p", "22", "BatchMode=yes", "StrictHostKeyChecking=accept-new", `UserKnownHostsFile=${fs.realpathSync(dir)}/.admin/known_hosts`]));
  // The key was in a 0600 file, with its final newline, and is gone afterwards.
  expect(fs.readFileSync(path.join(dir, "ssh.keymode"), "utf8").trim()).toBe("600");
  expect(fs.readFileSync(path.join(dir, "ssh.key"), "utf8")).toBe(`${access.database.privateKey}\n`); // the last call's, the box's key
  expect(fs.existsSync(args[args.indexOf("-i") + 1])).toBe(false);
});

it("restore sends the age key on ssh's stdin, never in the command, after --yes", () => {
  standIns(access);
  fs.writeFileSync(path.join(dir, "key.txt"), "# created: today\nAGE-SECRET-KEY-1SECRET\n");
  const r = admin(["restore", "offsite:20261127T033000Z", "--identity-file", "key.txt", "--yes"], { SSH_OUT: "restored run 20261127T033000Z\n" });
  expect({ status: r.status, stdout: r.stdout }).toEqual({ status: 0, stdout: "restored run 20261127T033000Z\n" });
  expect(sshArgs().slice(-1)).toEqual(["synapse-restore --overwrite --start --identity - 'offsite:20261127T033000Z'"]);
  expect(sshArgs().join(" ")).not.toContain("SECRET");
  expect(fs.readFileSync(path.join(dir, "ssh.stdin"), "utf8")).toBe("# created: today\nAGE-SECRET-KEY-1SECRET\n");
  // Without a terminal and without --yes, nothing happens.
  fs.rmSync(path.join(dir, "ssh.args"));
  const unconfirmed = admin(["restore", "20261127T033000Z"]);
  expect({ status: unconfirmed.status, stderr: unconfirmed.stderr }).toEqual({ status: 1, stderr: "admin: this cannot be undone and there is no terminal to confirm on: add --yes\n" });
  expect(fs.existsSync(path.join(dir, "ssh.args"))).toBe(false);
});

it("compress-state runs on the database host, through sudo for a user other than root, and --stack picks the stack", () => {
  standIns(access);
  const r = admin(["--stack", "prod", "compress-state"], { SSH_OUT: "synapse-compress-state: removed 10 state rows (1.0%) in 3 s\n" });
  expect({ status: r.status, stdout: r.stdout }).toEqual({ status: 0, stdout: "synapse-compress-state: removed 10 state rows (1.0%) in 3 s\n" });
  expect(fs.readFileSync(path.join(dir, "pulumi.args"), "utf8").trim()).toBe("stack output adminAccess --json --show-secrets --stack prod");
  const args = sshArgs();
  expect(args).toEqual(expect.arrayContaining(["-p", "2222", "deploy@198.51.100.20"]));
  expect(args[args.length - 1]).toMatch(/^sudo -n bash -c '.*systemctl start synapse-compress-state\.service/s);
});

it("versions reads the pins from the stack's outputs and what runs from each host", () => {
  standIns({ ...access, synapseVersion: "1.163.2", postgresVersion: "18" });
  const r = admin(["versions", "--json"], { SSH_OUT: "synapse=1.163.2\npostgres=18.6\n" });
  expect(r.status).toBe(0);
  expect(fs.readFileSync(path.join(dir, "pulumi.args"), "utf8").trim()).toBe("stack output --json");
  expect(JSON.parse(r.stdout)).toMatchObject({ pins: { synapseVersion: "1.163.2", postgresVersion: "18" }, differs: [] });
  expect(fs.readFileSync(path.join(dir, "ssh.args.2"), "utf8").trim().split("\n").at(-1)).toMatch(/^sudo -n bash -c '.*pg_lsclusters/);
});

it("says which host it could not reach, and exits 255", () => {
  standIns(access);
  const r = admin(["db-report"], { SSH_EXIT: "255" });
  expect(r.status).toBe(255);
  expect(r.stderr).toContain("Connection refused");
  expect(r.stderr).toContain("admin: cannot reach root@203.0.113.10:22 over SSH\n");
});

it("fails clearly without a deployed stack, and on an unknown command", () => {
  standIns(null);
  const none = admin(["db-report"]);
  expect({ status: none.status, stderr: none.stderr }).toEqual({ status: 3, stderr: "admin: the stack has no adminAccess output: run `pulumi up` first\n" });
  standIns(access, 255);
  const noStack = admin(["db-report"]);
  expect(noStack.status).toBe(3);
  expect(noStack.stderr).toContain("admin: pulumi stack output adminAccess failed: error: no stack named dev");
  const unknown = admin(["nope"]);
  expect(unknown.status).toBe(1);
  expect(unknown.stderr).toContain("error: unknown command 'nope'");
  expect(fs.existsSync(path.join(dir, "ssh.args"))).toBe(false);
});

it("the program exports adminAccess as a secret with both hosts' connections", async () => {
  const run = await runProgram({ serverName: "example.org", host: "203.0.113.10", tlsMode: "self-signed", packageSource: "debian", databaseHost: "10.0.0.3", privateAddress: "10.0.0.2" });
  expect(await pulumi.isSecret(run.program.adminAccess as pulumi.Output<unknown>)).toBe(true);
  expect(run.outputs.adminAccess).toEqual({
    synapse: { host: "203.0.113.10", port: 22, user: "root", privateKey: testPrivateKey },
    database: { host: "10.0.0.3", port: 22, user: "root", privateKey: testPrivateKey },
  });
});

describe("synadm and purge-history (the program, with a recorded host)", () => {
  // Imported here: the CLI module is ESM-shaped TypeScript that ts-jest compiles like the rest.
  const { program, remoteCommands, isDestructive } = require("../../admin/cli") as typeof import("../../admin/cli");
  type Reply = { code: number; stdout: string; stderr?: string };

  async function runCli(argv: string[], replies: Reply[], answer = false, pins = { synapseVersion: "1.163.2", postgresVersion: "18" }) {
    const calls: { host: string; command: string }[] = [];
    const asked: string[] = [];
    let printed = "";
    let exit = 0;
    const cli = program({
      access: () => access,
      pins: () => pins,
      run: async (host, command) => { calls.push({ host: host.host, command }); return replies.shift() ?? { code: 0, stdout: "" }; },
      readFile: (f) => `key from ${f}`,
      confirm: async (q) => { asked.push(q); return answer; },
      sleep: async () => undefined,
      print: (t) => { printed += t; },
    }, (c) => { exit = c; });
    let error: { message: string; exitCode: number } | undefined;
    try {
      await cli.parseAsync(argv, { from: "user" });
    } catch (e: any) {
      error = { message: e.message, exitCode: e.exitCode };
    }
    return { calls, asked, printed, exit, error };
  }

  it("passes synadm's arguments through, quoted, in batch mode, with --json as -o json", async () => {
    const r = await runCli(["synadm", "user", "details", "@a b:example.org", "--json"], [{ code: 1, stdout: "" }]);
    expect(r.calls).toEqual([{ host: "203.0.113.10", command: remoteCommands.synadm(["user", "details", "@a b:example.org"], true) }]);
    expect(r.calls[0].command).toMatch(/; synadm --batch -o json 'user' 'details' '@a b:example\.org'$/);
    expect(r.asked).toEqual([]);
    expect(r.exit).toBe(1); // synadm's own status (1: the user could not be fetched)
  });

  it("asks before a destructive command, does nothing when refused, and --yes skips the question", async () => {
    expect(["user deactivate @a:x --gdpr-erase", "history purge !r:x", "room delete !r:x", "media quarantine x"].map((c) => isDestructive(c.split(" "))))
      .toEqual([true, true, true, true]);
    expect(["user list", "history purge-status 1", "room list", "media list"].map((c) => isDestructive(c.split(" ")))).toEqual([false, false, false, false]);
    const refused = await runCli(["synadm", "user", "deactivate", "@a:example.org", "--gdpr-erase"], []);
    expect(refused.asked).toEqual(["Run `synadm user deactivate @a:example.org --gdpr-erase` on the homeserver? This cannot be undone."]);
    expect(refused.calls).toEqual([]);
    expect(refused.error?.message).toMatch(/^not confirmed: nothing was done/);
    const yes = await runCli(["synadm", "user", "deactivate", "@a:example.org", "--yes"], [{ code: 0, stdout: "" }]);
    expect(yes.asked).toEqual([]);
    expect(yes.calls[0].command).toMatch(/synadm --batch 'user' 'deactivate' '@a:example\.org'$/);
  });

  it("turns Synapse's refusals, which synadm prints but exits 0 on, into a failure", async () => {
    const missing = await runCli(["synadm", "user", "details", "@nobody:example.org"],
      [{ code: 0, stdout: "errcode  M_NOT_FOUND\n", stderr: "WARNING Synapse returned status code 404\n" }]);
    expect(missing.error).toEqual({ message: "Synapse answered 404: no such user, room or media (check the ID, with its :server part)", exitCode: 1 });
    const forbidden = await runCli(["synadm", "room", "list"], [{ code: 0, stdout: "", stderr: "WARNING Synapse returned status code 403\n" }]);
    expect(forbidden.error).toEqual({ message: "Synapse answered 403: see synadm's output above", exitCode: 1 });
  });

  it("backup-now starts the backup service and prints its journal lines; backup-status asks the host's tool", async () => {
    const now = await runCli(["backup-now"], [{ code: 3, stdout: "synapse-backup: ERROR: pg_dump of synapse on 127.0.0.1 failed\n" }]);
    expect(now.calls[0]).toEqual({ host: "203.0.113.10", command: remoteCommands.backupNow() });
    expect(now.calls[0].command).toContain("systemctl start synapse-backup.service");
    expect(now.exit).toBe(3);
    const status = await runCli(["backup-status", "--json"], [{ code: 0, stdout: "{}" }]);
    expect(status.calls[0].command).toBe("synapse-backup --status --json");
  });

  it("backup-list asks the host's tool; restore checks its source, needs a key for encrypted ones and asks first", async () => {
    expect((await runCli(["backup-list", "--json"], [])).calls[0].command).toBe("synapse-backup --list --json");
    const bad = await runCli(["restore", "yesterday", "--yes"], []);
    expect(bad.error).toEqual({ exitCode: 2, message: 'given "yesterday", expected offsite, offsite:<run>, <run> or an absolute path (backup-list shows the runs)' });
    const keyless = await runCli(["restore", "offsite", "--yes"], []);
    expect(keyless.error).toEqual({ exitCode: 2, message: "offsite is encrypted: give the age private key with --identity-file" });
    const refused = await runCli(["restore", "20261127T033000Z"], [], false);
    expect(refused.asked).toEqual(["Replace the homeserver on 203.0.113.10 (its database, signing key and media) with backup 20261127T033000Z? Messages since that backup are lost."]);
    expect({ calls: refused.calls, exitCode: refused.error?.exitCode }).toEqual({ calls: [], exitCode: 1 });
    const local = await runCli(["restore", "20261127T033000Z"], [{ code: 1, stdout: "" }], true);
    expect(local.calls[0].command).toBe("synapse-restore --overwrite --start '20261127T033000Z'");
    expect(local.exit).toBe(1);
  });

  it("says Synapse is down when its health check fails on the host", async () => {
    const r = await runCli(["synadm", "user", "list"], [{ code: 69, stdout: "" }]);
    expect(r.error).toEqual({ message: expect.stringMatching(/^Synapse is not answering on the host/), exitCode: 69 });
  });

  it("db-report shows each table's live and reclaimable bytes, the last treatment and the trend; reclaim runs the service on the database host", async () => {
    const { renderDbReport } = require("../../admin/cli") as typeof import("../../admin/cli");
    const MiB = 2 ** 20;
    const text = renderDbReport({
      databaseBytes: 120 * MiB, growthBytesPerDay: 2 * MiB, stateGroupsStateRows: 5000, stateGroups: 300,
      mediaLocalBytes: 0, mediaRemoteBytes: 0, mediaOnDiskBytes: 0, largestTables: [["state_groups_state", 40 * MiB]],
      tables: [{ table: "state_groups_state", bytes: 40 * MiB, reclaimable: 30 * MiB }, { table: "events", bytes: 8 * MiB, reclaimable: 0 }],
      lastReclaim: { time: "2026-12-05T05:00:00Z", summary: "database 130.0 MiB → 120.0 MiB; 1 table(s) worth a rebuild; 3 s",
        tables: [{ table: "event_json", outcome: "rebuilt online: 20.0 MiB → 10.0 MiB in 2 s" }] },
      history: [[1764907200, 100 * MiB], [1765512000, 120 * MiB]], roomsByStateGroups: [["!big:example.org", 300]],
    });
    expect(text).toMatch(/rooms with the most state groups:\n  !big:example\.org  300/);
    expect(text).toContain("database: 120.0 MiB, growing 2.0 MiB per day since the last report");
    expect(text).toMatch(/state_groups_state\s*│\s*40\.0 MiB\s*│\s*10\.0 MiB\s*│\s*30\.0 MiB \(75 %\)/);
    expect(text).toContain("last treatment, 2026-12-05T05:00:00Z: database 130.0 MiB → 120.0 MiB");
    expect(text).toContain("  event_json: rebuilt online: 20.0 MiB → 10.0 MiB in 2 s");
    expect(text).toContain("trend (reports, oldest first): 2025-12-05 100.0 MiB, 2025-12-12 120.0 MiB");
    const r = await runCli(["reclaim"], [{ code: 0, stdout: "" }]);
    expect(r.calls).toEqual([{ host: "198.51.100.20", command: remoteCommands.reclaim() }]);
    expect(remoteCommands.reclaim()).toContain("systemctl start synapse-reclaim.service");
  });

  it("reclaim --vacuum-full asks first, stops Synapse, rewrites on the database host and always starts Synapse again", async () => {
    const refused = await runCli(["reclaim", "--vacuum-full"], [], false);
    expect(refused.calls).toEqual([]);
    expect(refused.error?.exitCode).toBe(1);
    const failed = await runCli(["reclaim", "--vacuum-full", "--yes"], [{ code: 0, stdout: "" }, { code: 1, stdout: "" }, { code: 0, stdout: "" }]);
    expect(failed.calls).toEqual([
      { host: "203.0.113.10", command: remoteCommands.stopSynapse() },
      { host: "198.51.100.20", command: "synapse-reclaim --vacuum-full" },
      { host: "203.0.113.10", command: remoteCommands.startSynapse() },
    ]);
    expect(failed.exit).toBe(1);
    expect(failed.printed).toMatch(/^Synapse was down \d+ s\n$/);
  });

  it("versions: each host's Synapse, PostgreSQL (every cluster), Python and OS against the stack's pins; exits 2 when one differs", async () => {
    const synapseHost = { code: 0, stdout: "os=Debian GNU/Linux forky/sid\npython=3.14.8\nsynapse=1.163.2\n" };
    const box = { code: 0, stdout: "os=Debian GNU/Linux forky/sid\npython=3.14.8\ncluster=17/main 5433 down\ncluster=18/main 5432 online\npostgres=18.6 (Debian 18.6-3)\n" };
    const same = await runCli(["versions", "--json"], [synapseHost, box]);
    expect(same.calls.map((c) => c.host)).toEqual(["203.0.113.10", "198.51.100.20"]);
    expect(same.calls[0].command).toBe(remoteCommands.versions());
    expect(same.exit).toBe(0);
    expect(JSON.parse(same.printed)).toEqual({
      hosts: [
        { role: "synapse", host: "203.0.113.10", os: "Debian GNU/Linux forky/sid", python: "3.14.8", synapse: "1.163.2", clusters: [] },
        { role: "database", host: "198.51.100.20", os: "Debian GNU/Linux forky/sid", python: "3.14.8", postgres: "18.6 (Debian 18.6-3)",
          clusters: ["17/main 5433 down", "18/main 5432 online"] },
      ],
      pins: { synapseVersion: "1.163.2", postgresVersion: "18" },
      differs: [],
    });
    const drifted = await runCli(["versions"], [{ code: 0, stdout: "synapse=1.160.0\n" }, { code: 0, stdout: "postgres=17.12\n" }]);
    expect(drifted.exit).toBe(2);
    expect(drifted.printed).toContain("DIFFERS: 203.0.113.10 runs Synapse 1.160.0, the stack pins 1.163.2");
    expect(drifted.printed).toContain("DIFFERS: 198.51.100.20 serves the database from PostgreSQL 17.12, the stack pins 18");
    // A kept old cluster shows next to the one serving.
    const table = (await runCli(["versions"], [synapseHost, box])).printed;
    expect(table).toContain("18.6 (Debian 18.6-3)");
    expect(table).toContain("also 17/main 5433 down");
    expect(table).toContain("every host runs what the stack pins");
  });

  it("status shows each process, the services, the alerts firing, the database, the backup and the certificates; exits 1 when something is wrong", async () => {
    const series = (labels: Record<string, string>, value: number) => ({ metric: labels, value: [1796450000, String(value)] });
    const answer = (...result: object[]) => ({ status: "success", data: { resultType: "vector", result } });
    const status = {
      up: answer(series({ process: "synchrotron1", host: "synapse" }, 0), series({ process: "main", host: "synapse" }, 1)),
      services: answer(series({ name: "nginx.service" }, 1), series({ name: "coturn.service" }, 1)),
      alerts: [{ labels: { alertname: "SynapseProcessDown", severity: "critical" }, annotations: { summary: "Synapse process synchrotron1 is down" },
        startsAt: "2026-12-05T10:00:00.123Z" }],
      databaseBytes: answer(series({ datname: "synapse" }, 50 * 2 ** 20)),
      growthBytesPerDay: answer(series({ datname: "synapse" }, 2 ** 20)),
      certificates: answer(series({ site: "matrix" }, 1796450000 + 60 * 86400)),
      backup: { time: 1796440000, ageSeconds: 7200, run: "/var/backups/synapse-deploy/20261205T033000Z" },
    };
    const r = await runCli(["status"], [{ code: 0, stdout: JSON.stringify(status) }]);
    expect(r.calls).toEqual([{ host: "203.0.113.10", command: remoteCommands.status() }]);
    expect(r.printed).toMatch(/main\s*│\s*synapse\s*│\s*up[\s\S]*synchrotron1\s*│\s*synapse\s*│\s*DOWN/);
    expect(r.printed).toContain("services: all 2 running\n");
    expect(r.printed).toContain("alerts firing (1):\n  critical SynapseProcessDown: Synapse process synchrotron1 is down (since 2026-12-05 10:00 UTC)\n");
    expect(r.printed).toContain("database: 50.0 MiB, growing 1.0 MiB a day (over the last day)\n");
    expect(r.printed).toContain("last good backup: 2026-12-05 03:06 UTC (2 h 0 min ago), /var/backups/synapse-deploy/20261205T033000Z\n");
    expect(r.printed).toMatch(/certificate matrix: expires 2027-02-03 \d\d:\d\d UTC \(in \d+ d \d+ h\)\n/);
    expect(r.exit).toBe(1);
    const fine = { ...status, up: answer(series({ process: "main", host: "synapse" }, 1)), alerts: [], backup: null };
    const ok = await runCli(["status"], [{ code: 0, stdout: JSON.stringify(fine) }]);
    expect(ok.printed).toContain("alerts: none firing\n");
    expect(ok.printed).toContain("last good backup: none yet\n");
    expect(ok.exit).toBe(0);
    const json = await runCli(["status", "--json"], [{ code: 0, stdout: JSON.stringify(fine) }]);
    expect(JSON.parse(json.printed)).toEqual(fine);
    const down = await runCli(["status"], [{ code: 0, stdout: JSON.stringify({ ...fine, up: null }) }]);
    expect({ printed: down.printed, exit: down.exit }).toEqual({ printed: "Prometheus is not answering on the Synapse VPS: systemctl status prometheus\n", exit: 1 });
    const off = await runCli(["status"], [{ code: 0, stdout: "{}\n" }]);
    expect(off.error).toEqual({ message: "monitoring is off: set monitoring to true (with adminUser) and run pulumi up", exitCode: 3 });
  });

  it("purge-history starts the purge, polls it to its end and exits by its result", async () => {
    const r = await runCli(["purge-history", "!r:example.org", "--before-days", "30", "--yes"], [
      { code: 0, stdout: '{"purge_id": "abc"}' },
      { code: 0, stdout: '{"status": "active"}' },
      { code: 0, stdout: '{"status": "active"}' },
      { code: 0, stdout: '{"status": "complete"}' },
    ]);
    expect(r.calls.map((c) => c.command.split("; ").pop())).toEqual([
      "synadm --batch -o json 'history' 'purge' '!r:example.org' '--before-days' '30'",
      "synadm --batch -o json 'history' 'purge-status' 'abc'",
      "synadm --batch -o json 'history' 'purge-status' 'abc'",
      "synadm --batch -o json 'history' 'purge-status' 'abc'",
    ]);
    expect({ printed: r.printed, exit: r.exit }).toEqual({ printed: "purge abc of !r:example.org: complete\n", exit: 0 });
    const failed = await runCli(["purge-history", "!r:example.org", "--before-days", "30", "--delete-local", "--yes", "--json"],
      [{ code: 0, stdout: '{"purge_id": "abc"}' }, { code: 0, stdout: '{"status": "failed"}' }]);
    expect(failed.calls[0].command).toMatch(/'--before-days' '30' '--delete-local'$/);
    expect({ printed: failed.printed, exit: failed.exit }).toEqual({ printed: '{"room":"!r:example.org","purgeId":"abc","status":"failed"}\n', exit: 1 });
    const bad = await runCli(["purge-history", "!r:example.org", "--before-days", "soon", "--yes"], []);
    expect(bad.error).toEqual({ message: '--before-days: given "soon", expected a whole number of days', exitCode: 2 });
  });
});

describe("synadm on the Synapse VPS", () => {
  const base = { serverName: "example.org", host: "203.0.113.10", tlsMode: "self-signed", packageSource: "debian" };

  it("is installed with its config for root (0600, the admin's token, the local listener), only with an admin", async () => {
    const run = await runProgram({ ...base, adminUser: "admin" });
    const config = run.byName("admin-tools-synadm-config");
    expect(config.inputs.create).toContain("DEST=/root/.config/synadm.yaml\nMODE=0600\nOWNER=root:root");
    expect(config.secretInputs).toContain("stdin");
    expect(config.inputs.create).not.toContain(config.inputs.stdin);
    const yaml = require("yaml").parse(config.inputs.stdin);
    expect(yaml).toMatchObject({ user: "admin", token: adminToken, base_url: "http://127.0.0.1:8008", admin_path: "/_synapse/admin", homeserver: "example.org" });
    expect(run.byName("admin-tools-synadm").inputs.create).toContain("VERSION=0.49.2\n");
    const none = await runProgram(base);
    expect(none.resources.filter((r) => r.name.startsWith("admin-tools"))).toEqual([]);
  });
});
