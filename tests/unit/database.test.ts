// The dedicated database box: config, the files that close it to all but the Synapse hosts, and
// the steps the program runs on each host.
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as http from "node:http";
import { AddressInfo } from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import * as YAML from "yaml";
import { parseSettings, RawConfig, Settings } from "../../config";
import { renderFirewall } from "../../render/firewall";
import { PostgresNetwork, postgresFirewall, renderAutovacuum, renderHbaBlock, renderListenDropIn, synapseAutovacuum } from "../../render/postgres";
import { testPrivateKey, validRaw } from "../support/fixtures";
import { runProgram } from "../support/mockProgram";

function parsed(raw: RawConfig): { settings?: Settings; errors: string[] } {
  const r = parseSettings({ ...validRaw(), ...raw });
  return r.ok ? { settings: r.settings, errors: [] } : { errors: r.errors };
}

describe("config", () => {
  it("keeps PostgreSQL on the Synapse VPS, reached over its Unix socket, without databaseHost", () => {
    const { settings } = parsed({});
    expect(settings!.database).toEqual({ box: false, address: "/var/run/postgresql" });
    expect(settings!.hosts.database).toEqual(settings!.hosts.synapse);
  });

  it("puts it on the box, reached at its private address, admitting the Synapse VPS's", () => {
    const { settings } = parsed({ databaseHost: "198.51.100.20", databasePrivateAddress: "10.0.0.3", privateAddress: "10.0.0.2", databaseSshPort: "2222" });
    expect(settings!.hosts.database).toEqual({ host: "198.51.100.20", port: 2222, user: "root", privateKey: testPrivateKey });
    expect(settings!.database).toEqual({ box: true, address: "10.0.0.3", clients: ["10.0.0.2"] });
  });

  it("defaults the private addresses to the SSH addresses when those are IP addresses", () => {
    const { settings } = parsed({ host: "10.0.0.2", databaseHost: "10.0.0.3" });
    expect(settings!.database).toEqual({ box: true, address: "10.0.0.3", clients: ["10.0.0.2"] });
  });

  it.each<[string, RawConfig, RegExp[]]>([
    ["host names without private addresses", { host: "matrix.example.org", databaseHost: "db.example.org" }, [
      /synapse:databasePrivateAddress: given nothing, expected an IP address \(required with databaseHost when databaseHost "db.example.org" is not an IP address\)/,
      /synapse:privateAddress: given nothing, expected an IP address .*host "matrix.example.org"/]],
    ["a private address that is a name", { databaseHost: "10.0.0.3", databasePrivateAddress: "db.internal" },
      [/synapse:databasePrivateAddress: given "db.internal", expected an IPv4 or IPv6 address/]],
    ["the box being the Synapse VPS", { databaseHost: "203.0.113.10" }, [/synapse:databaseHost: given "203.0.113.10", expected another host than the Synapse VPS/]],
    ["box settings without a box", { databaseSshUser: "admin", databaseSshPort: "22" }, [
      /synapse:databaseSshUser: given a value, expected nothing without databaseHost/, /synapse:databaseSshPort: given 22, expected nothing without databaseHost/]],
  ])("refuses %s, naming every key", (_, raw, expected) => {
    const { errors } = parsed(raw);
    for (const e of expected) expect(errors).toEqual(expect.arrayContaining([expect.stringMatching(e)]));
    expect(errors).toHaveLength(expected.length);
  });
});

describe("rendered files", () => {
  const network: PostgresNetwork = { address: "10.0.0.3", clients: ["10.0.0.2", "fd00::2"], database: "synapse", user: "synapse_user", port: 5432 };

  it("listens on loopback and the private address only", () => {
    expect(renderListenDropIn(network)).toContain("listen_addresses = 'localhost,10.0.0.3'\n");
  });

  it("admits each Synapse host to the Synapse database alone, with scram-sha-256", () => {
    const lines = renderHbaBlock(network).trim().split("\n");
    expect(lines.slice(1, -1)).toEqual([
      "host synapse synapse_user 10.0.0.2/32 scram-sha-256",
      "host synapse synapse_user fd00::2/128 scram-sha-256",
    ]);
    expect(lines[0]).toMatch(/^# BEGIN synapse-deploy/);
    expect(lines.at(-1)).toBe("# END synapse-deploy");
  });

  it("closes the port to everyone else, replacing only its own table", () => {
    const rules = renderFirewall(postgresFirewall(network));
    expect(rules).toContain("delete table inet synapse_postgres\n");
    expect(rules).toContain("ip saddr { 10.0.0.2 } tcp dport 5432 accept");
    expect(rules).toContain("ip6 saddr { fd00::2 } tcp dport 5432 accept");
    expect(rules.indexOf("accept\n    tcp dport 5432 drop")).toBeGreaterThan(0);
    expect(rules).not.toMatch(/dport (22|ssh)/);
  });
});

describe("the program", () => {
  const base = { serverName: "example.org", host: "203.0.113.10", tlsMode: "self-signed", packageSource: "debian" };

  it("runs PostgreSQL's steps on the box and the move on the Synapse VPS; Synapse connects to the private address", async () => {
    const run = await runProgram({ ...base, databaseHost: "198.51.100.20", databasePrivateAddress: "10.0.0.3", privateAddress: "10.0.0.2" });
    const hostOf = (name: string) => run.byName(name).inputs.connection.host;
    for (const step of ["upgrades-postgres-version", "postgres-cluster", "postgres-tuning", "postgres-database", "postgres-network", "postgres-teardown",
      "postgres-firewall", "postgres-firewall-nft", "postgres-firewall-service", "postgres-network-hba"]) {
      expect([step, hostOf(step)]).toEqual([step, "198.51.100.20"]);
    }
    for (const step of ["postgres-move", "postgres-sqlite-migration", "synapse-activate"]) expect([step, hostOf(step)]).toEqual([step, "203.0.113.10"]);
    expect(run.byName("postgres-network-hba").inputs.stdin).toContain("host synapse synapse_user 10.0.0.2/32 scram-sha-256");
    const move = run.byName("postgres-move");
    expect(move.inputs.create).toContain("DB_HOST=10.0.0.3\n");
    expect(move.dependencies.map((u: string) => u.split("::").pop())).toContain("postgres-network");
    expect(run.byName("postgres-network").dependencies.map((u: string) => u.split("::").pop())).toContain("postgres-firewall");
    expect(run.byName("postgres-sqlite-migration").dependencies.map((u: string) => u.split("::").pop())).toContain("postgres-move");
    const homeserver = YAML.parse(run.byName("synapse-staged-homeserver").inputs.stdin);
    expect(homeserver.database.args).toMatchObject({ host: "10.0.0.3", keepalives_idle: 10, keepalives_interval: 10, keepalives_count: 3 });
    expect(run.byName("synapse-staged-passfile").inputs.stdin).toMatch(/^10\.0\.0\.3:5432:synapse:synapse_user:/);
    expect(run.byName("synapse-staged-passfile").inputs.create).not.toMatch(/10\.0\.0\.3:5432:synapse:synapse_user:/);
  });

  it("has no network or move step on a single host, where Synapse connects over the Unix socket", async () => {
    const run = await runProgram(base);
    expect(run.resources.filter((r) => /^postgres-(network|move|firewall)/.test(r.name))).toEqual([]);
    const args = YAML.parse(run.byName("synapse-staged-homeserver").inputs.stdin).database.args;
    expect(args.host).toBe("/var/run/postgresql");
    // TCP's keepalives mean nothing on a socket (libpq ignores them): not written.
    expect(Object.keys(args).filter((k) => k.startsWith("keepalives"))).toEqual([]);
    // The tools read the first line; libpq answers a socket connection from the `localhost` one.
    expect(run.byName("synapse-staged-passfile").inputs.stdin).toMatch(/^\/var\/run\/postgresql:5432:synapse:synapse_user:([\w-]+)\nlocalhost:5432:synapse:synapse_user:\1\n$/);
    expect(run.byName("postgres-sqlite-migration").inputs.create).toContain("DB_HOST=/var/run/postgresql\n");
  });
});

describe("autovacuum for Synapse's hot tables", () => {
  it("renders one sorted line per table, each table once, with a reason", () => {
    const lines = renderAutovacuum(synapseAutovacuum).trim().split("\n");
    expect(lines).toHaveLength(synapseAutovacuum.length);
    expect(new Set(synapseAutovacuum.map((t) => t.table)).size).toBe(synapseAutovacuum.length);
    expect(lines).toContain("state_groups_state autovacuum_analyze_scale_factor=0.005,autovacuum_vacuum_cost_limit=2000,autovacuum_vacuum_scale_factor=0.01");
    expect(lines.find((l) => l.startsWith("events "))).toBe("events autovacuum_analyze_scale_factor=0.01,autovacuum_vacuum_insert_scale_factor=0.05,autovacuum_vacuum_scale_factor=0.02");
    for (const l of lines) expect(l).toMatch(/^[a-z_]+ [a-z_]+=[0-9.]+(,[a-z_]+=[0-9.]+)*$/);
    for (const t of synapseAutovacuum) expect(t.reason.length).toBeGreaterThan(20);
  });

  it("runs on the database host once Synapse has made its tables, and not before", async () => {
    const run = await runProgram({ serverName: "example.org", host: "203.0.113.10", tlsMode: "self-signed", packageSource: "debian", databaseHost: "10.0.0.3", privateAddress: "10.0.0.2" });
    const step = run.byName("postgres-autovacuum");
    expect(step.inputs.connection.host).toBe("10.0.0.3");
    expect(step.dependencies.map((u: string) => u.split("::").pop())).toContain("synapse-activate");
    expect(step.inputs.stdin).toBe(renderAutovacuum(synapseAutovacuum));
  });
});

describe("the database report", () => {
  it("is installed on the Synapse VPS with its timer and alert threshold from config", async () => {
    const run = await runProgram({ serverName: "example.org", host: "203.0.113.10", tlsMode: "self-signed", packageSource: "debian",
      databaseHost: "10.0.0.3", privateAddress: "10.0.0.2", databaseReportSchedule: "Mon *-*-* 04:00", databaseGrowthAlertMiB: "200" });
    expect(run.byName("maintenance-report").inputs.connection.host).toBe("203.0.113.10");
    expect(run.byName("maintenance-report-timer").inputs.stdin).toContain("OnCalendar=Mon *-*-* 04:00\nPersistent=true\n");
    expect(run.byName("maintenance-report-conf").inputs.stdin).toContain("alert_mib=200\n");
    expect(run.byName("maintenance-report-tool").inputs.stdin).toMatch(/^#!\/usr\/bin\/env bash\n# synapse-db-report:/);
    expect(run.byName("maintenance-report").dependencies.map((u: string) => u.split("::").pop())).toEqual(expect.arrayContaining(["maintenance-report-tool", "maintenance-report-timer"]));
  });
});

describe("scheduled history purges", () => {
  const base = { serverName: "example.org", host: "203.0.113.10", tlsMode: "self-signed", packageSource: "debian" };

  it("parse rooms and keep periods, and need the admin's token", () => {
    const ok = parseSettings({ ...validRaw(), adminUser: "admin", purgeHistory: '["!abc:example.org=90d","!x_y:other.example:8448=12h"]' });
    if (!ok.ok) throw new Error(ok.errors.join("\n"));
    expect(ok.settings.purgeHistory).toEqual({ schedule: "daily", rooms: [
      { roomId: "!abc:example.org", keepSeconds: 90 * 86400 }, { roomId: "!x_y:other.example:8448", keepSeconds: 12 * 3600 }] });
    const bad = parseSettings({ ...validRaw(), purgeHistory: '["#alias:example.org=90d","!abc:example.org"]' });
    expect(bad.ok ? [] : bad.errors).toEqual([
      expect.stringMatching(/synapse:purgeHistory\[0\]: given .*expected !room:server=duration/),
      expect.stringMatching(/synapse:purgeHistory\[1\]: given .*expected !room:server=duration/),
    ]);
    const noAdmin = parseSettings({ ...validRaw(), purgeHistory: '["!abc:example.org=90d"]' });
    expect(noAdmin.ok ? [] : noAdmin.errors).toEqual([expect.stringMatching(/synapse:purgeHistory: .*expected adminUser to be set too/)]);
  });

  it("install the purge tool with the admin's token in a 0600 file, only when rooms are named", async () => {
    const run = await runProgram({ ...base, adminUser: "admin", purgeHistory: '["!abc:example.org=90d"]', purgeHistorySchedule: "*-*-* 03:00" });
    const token = run.byName("maintenance-admin-token");
    expect(token.inputs.create).toContain("DEST=/etc/synapse-deploy/admin-token\nMODE=0600\nOWNER=root:root");
    expect(token.secretInputs).toContain("stdin");
    expect(token.inputs.create).not.toContain(token.inputs.stdin);
    expect(run.byName("maintenance-purge-history-conf").inputs.stdin).toContain(`!abc:example.org ${90 * 86400}\n`);
    expect(run.byName("maintenance-purge-history-timer").inputs.stdin).toContain("OnCalendar=*-*-* 03:00\n");
    expect(run.byName("maintenance-purge-history").dependencies.map((u: string) => u.split("::").pop())).toContain("maintenance-admin-token");
    const none = await runProgram({ ...base, adminUser: "admin" });
    expect(none.resources.filter((r) => r.name.startsWith("maintenance-purge-history"))).toEqual([]);
  });
});

describe("the remote media cache purge", () => {
  const base = { serverName: "example.org", host: "203.0.113.10", tlsMode: "self-signed", packageSource: "debian" };

  it("is installed with an admin and a remote media lifetime, keeping what mediaRetentionRemote says", async () => {
    const run = await runProgram({ ...base, adminUser: "admin", mediaRetentionRemote: "30d", remoteMediaPurgeSchedule: "*-*-* 05:00" });
    expect(run.byName("maintenance-purge-remote-media-conf").inputs.stdin).toContain(`keep_seconds=${30 * 86400}\n`);
    expect(run.byName("maintenance-purge-remote-media-timer").inputs.stdin).toContain("OnCalendar=*-*-* 05:00\n");
    expect(run.byName("maintenance-purge-remote-media").dependencies.map((u: string) => u.split("::").pop())).toContain("maintenance-admin-token");
    expect(run.byName("maintenance-admin-token").secretInputs).toContain("stdin");
    // The default lifetime (90d) with an admin: on; without an admin, or with the lifetime off: only Synapse's own job.
    const byDefault = await runProgram({ ...base, adminUser: "admin" });
    expect(byDefault.byName("maintenance-purge-remote-media-conf").inputs.stdin).toContain(`keep_seconds=${90 * 86400}\n`);
    for (const raw of [base, { ...base, adminUser: "admin", mediaRetentionRemote: "", emptyRoomRetention: "" }]) {
      const none = await runProgram(raw);
      expect(none.resources.filter((r) => r.name.startsWith("maintenance-purge-remote") || r.name === "maintenance-admin-token")).toEqual([]);
    }
  });

  it("deletes, with an admin, the rooms no local user is in that were quiet for emptyRoomRetention (30 days by default)", async () => {
    const run = await runProgram({ ...base, adminUser: "admin" });
    expect(run.byName("maintenance-purge-empty-rooms-conf").inputs.stdin).toContain(`keep_seconds=${30 * 86400}\n`);
    expect(run.byName("maintenance-purge-empty-rooms-timer").inputs.stdin).toContain("OnCalendar=daily\n");
    for (const raw of [base, { ...base, adminUser: "admin", emptyRoomRetention: "" }]) {
      expect((await runProgram(raw)).resources.filter((r) => r.name.startsWith("maintenance-purge-empty-rooms"))).toEqual([]);
    }
  });

  it("synapse-purge-empty-rooms deletes each room the database names through the admin API, polled to its end", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "purge-empty-"));
    const seen: string[] = [];
    const server = http.createServer((req, res) => {
      seen.push(`${req.method} ${req.url} ${req.headers.authorization}`);
      const body = req.method === "DELETE" ? { delete_id: `del-${seen.length}` } : { status: req.url!.endsWith("del-1") ? "complete" : "failed" };
      res.writeHead(200, { "Content-Type": "application/json" }).end(JSON.stringify(body));
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    try {
      fs.writeFileSync(path.join(dir, "conf"), "keep_seconds=86400\n");
      fs.writeFileSync(path.join(dir, "token"), "syt_secret_token");
      fs.writeFileSync(path.join(dir, "pgpass"), "127.0.0.1:5432:synapse:synapse_user:pw\n");
      // psql answers with the rooms its query finds; the query itself is recorded.
      fs.writeFileSync(path.join(dir, "psql"), `#!/bin/bash\ncat > "${dir}/query.sql"; echo "$*" > "${dir}/psql.args"; printf '!empty:example.org\\n!gone:example.org\\n'\n`, { mode: 0o755 });
      // Asynchronously: the stand-in Synapse answers from this process.
      const r = await new Promise<{ status: number | null; stdout: string }>((resolve) => {
        const child = spawn("bash", [path.join(__dirname, "../../host-tools/synapse-purge-empty-rooms.sh")], { env: {
          ...process.env, PATH: `${dir}:${process.env.PATH}`, SYNAPSE_PURGE_EMPTY_CONF: path.join(dir, "conf"), SYNAPSE_ADMIN_TOKEN_FILE: path.join(dir, "token"),
          SYNAPSE_PASSFILE: path.join(dir, "pgpass"), SYNAPSE_ADMIN_BASE: `http://127.0.0.1:${(server.address() as AddressInfo).port}/_synapse/admin` } });
        let stdout = "";
        child.stdout.on("data", (d) => { stdout += d; });
        child.on("close", (status) => resolve({ status, stdout }));
      });
      expect(r.stdout).toBe("synapse-purge-empty-rooms: !empty:example.org: complete\nsynapse-purge-empty-rooms: !gone:example.org: failed\n" +
        "synapse-purge-empty-rooms: 1 room(s) without local members deleted\n");
      expect(r.status).toBe(1);
      expect(seen).toEqual([
        "DELETE /_synapse/admin/v2/rooms/%21empty%3Aexample.org Bearer syt_secret_token", "GET /_synapse/admin/v2/rooms/delete_status/del-1 Bearer syt_secret_token",
        "DELETE /_synapse/admin/v2/rooms/%21gone%3Aexample.org Bearer syt_secret_token", "GET /_synapse/admin/v2/rooms/delete_status/del-3 Bearer syt_secret_token",
      ]);
      // The query keeps rooms a local user is in, invited to or knocking on, and recent ones.
      expect(fs.readFileSync(path.join(dir, "query.sql"), "utf8")).toContain("m.membership IN ('join', 'invite', 'knock')");
      expect(fs.readFileSync(path.join(dir, "psql.args"), "utf8")).toMatch(/-h 127\.0\.0\.1 -p 5432 -U synapse_user -d synapse -v cutoff=\d+/);
    } finally {
      server.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it("asks Synapse to purge what was last accessed before the keep period, and fails loudly when it cannot", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "purge-remote-"));
    const seen: string[] = [];
    let answer = { status: 200, body: '{"deleted": 3}' };
    const server = http.createServer((req, res) => {
      seen.push(`${req.method} ${req.url} ${req.headers.authorization}`);
      res.writeHead(answer.status, { "Content-Type": "application/json" }).end(answer.body);
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    try {
      fs.writeFileSync(path.join(dir, "conf"), "keep_seconds=86400\n");
      fs.writeFileSync(path.join(dir, "token"), "syt_secret_token");
      const env = { ...process.env, SYNAPSE_PURGE_REMOTE_MEDIA_CONF: path.join(dir, "conf"), SYNAPSE_ADMIN_TOKEN_FILE: path.join(dir, "token"),
        SYNAPSE_ADMIN_BASE: `http://127.0.0.1:${(server.address() as AddressInfo).port}/_synapse/admin/v1` };
      const tool = path.join(__dirname, "../../host-tools/synapse-purge-remote-media.sh");
      const run = () => new Promise<{ status: number | null; stdout: string; stderr: string }>((resolve) => {
        const child = spawn("bash", [tool], { env });
        let stdout = ""; let stderr = "";
        child.stdout.on("data", (d) => { stdout += d; });
        child.stderr.on("data", (d) => { stderr += d; });
        child.on("close", (status) => resolve({ status, stdout, stderr }));
      });
      const t0 = Date.now();
      const ok = await run();
      expect(ok).toMatchObject({ status: 0, stderr: "" });
      expect(ok.stdout).toMatch(/^synapse-purge-remote-media: deleted 3 cached remote media files last accessed before \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC\n$/);
      const [, ts] = /^POST \/_synapse\/admin\/v1\/purge_media_cache\?before_ts=(\d+) Bearer syt_secret_token$/.exec(seen[0])!;
      expect(Math.abs(Number(ts) - (t0 - 86400_000))).toBeLessThan(5000);
      answer = { status: 403, body: '{"errcode":"M_FORBIDDEN"}' };
      const refused = await run();
      expect(refused.status).toBe(1);
      expect(refused.stderr).toContain("synapse-purge-remote-media: the purge failed (HTTP 403)");
    } finally {
      server.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
