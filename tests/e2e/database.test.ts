// End-to-end: the large layout. A single-host homeserver with history moves its database to a
// second VPS (the README's step: set databaseHost, pulumi up); the box admits only the homeserver,
// a third VPS cannot reach PostgreSQL at all, and Synapse rides out a restart of the box's
// PostgreSQL. Then the community tier's workers go to a fourth VPS, a worker host.
import * as fs from "node:fs";
import * as path from "node:path";
import { downVps } from "../sandbox/sandbox";
import { PulumiWorkspace } from "./support/pulumi";
import { suiteNeeding } from "./support/requirements";
import { bootVps, changes, chat, commandResource, devStack, exemptFromRateLimit, expectClean, exportedState, httpsClient, outputDir, record, timed, Vps } from "./support/stack";

const suite = suiteNeeding("sandbox", "engine");
const minutes = (n: number) => n * 60_000;
const server = "sandbox.test";
const matrix = `https://matrix.${server}`;
const HOMESERVER = 10;
const BOX = 11;
const OUTSIDER = 12;
const WORKER_HOST = 13;

let homeserver: Vps;
let box: Vps;
let outsider: Vps;
let workerHost: Vps;
let ws: PulumiWorkspace;
let caFile: string;
/** The room c1's client made, with 30 messages: c7 purges its history. */
let firstRoom: string;

const sql = (db: string) => `runuser -u postgres -- psql -XAtc "SELECT count(*) FROM events WHERE type = 'm.room.message'" ${db}`;
const messagesOn = async (vps: Vps) => Number((await vps.sh(sql("synapse"))).stdout.trim());
/** Whether `from` completes a TCP handshake with the box's port within 5 s. */
const reaches = async (from: Vps, port: number, to: Vps = box) =>
  (await from.sh(`timeout 5 bash -c 'exec 3<>/dev/tcp/${to.host}/${port}'`, { allowFail: true })).code === 0;
const mainPid = async () => (await homeserver.sh("systemctl show -p MainPID --value matrix-synapse")).stdout.trim();

async function chatAsAdmin(count: number) {
  const out = await ws.outputs();
  return chat(homeserver, { baseUrl: matrix, caFile, user: "admin", password: out.adminPassword, count });
}

suite("a database box: PostgreSQL on its own VPS, reachable only from the homeserver", () => {
  beforeAll(async () => {
    [homeserver, box, outsider, workerHost] = await Promise.all(
      [bootVps(HOMESERVER, "base"), bootVps(BOX, "packages"), bootVps(OUTSIDER, "base"), bootVps(WORKER_HOST, "base")]);
    // A growth alert of 1 MiB a day: the client's 30 messages in seconds pass it.
    ws = await devStack(homeserver, `vps${HOMESERVER}-database-box`, { adminUser: "admin", databaseGrowthAlertMiB: "1" });
  }, minutes(10));

  afterAll(async () => {
    if (process.env.E2E_KEEP !== "1") await Promise.all([HOMESERVER, BOX, OUTSIDER, WORKER_HOST].map((n) => downVps(n)));
  }, minutes(2));

  test("c1. a single-host homeserver with history", () => timed("c1 single host with history", async () => {
    expectClean(await ws.update("up"));
    const https = await httpsClient(homeserver);
    caFile = path.join(outputDir, `vps${HOMESERVER}-database-box`, "ca.pem");
    fs.writeFileSync(caFile, https.ca);
    https.close();
    const out = await ws.outputs();
    await exemptFromRateLimit(homeserver, `@admin:${server}`, out.adminAccessToken);
    // The database report: real numbers, a first report without growth, then the alert.
    const first = JSON.parse((await homeserver.sh("synapse-db-report --json")).stdout);
    expect(first).toMatchObject({ growthBytesPerDay: null, alert: false });
    expect(first.databaseBytes).toBeGreaterThan(5 * 1024 * 1024);
    // Ten tables, largest first, and a new homeserver's events among them.
    const sizes = first.largestTables.map((t: [string, number]) => t[1]);
    expect(sizes).toHaveLength(10);
    expect([...sizes].sort((a: number, b: number) => b - a)).toEqual(sizes);
    expect(first.largestTables.map((t: [string, number]) => t[0])).toContain("events");
    expect(first.stateGroups).toBe(0); // no room yet
    expect((await homeserver.sh("systemctl is-enabled synapse-db-report.timer")).stdout.trim()).toBe("enabled");
    // The report takes its rate over an hour or more: the first report is made an hour older.
    await homeserver.sh("f=/var/lib/synapse-deploy/db-report/history.tsv; awk -F '\\t' -v OFS='\\t' '{ $1 -= 3600; print }' $f > $f.new && mv $f.new $f");
    const chatted = await chatAsAdmin(30);
    expect(chatted).toMatchObject({ sent: 30, received: 30, inOrder: true });
    firstRoom = String(chatted.roomId);
    expect(await messagesOn(homeserver)).toBe(30);
    const since = (await homeserver.sh("date '+%Y-%m-%d %H:%M:%S'")).stdout.trim();
    const alert = await homeserver.sh("systemctl start synapse-db-report.service", { allowFail: true });
    expect(alert.code).not.toBe(0);
    const journal = (await homeserver.sh(`journalctl -u synapse-db-report --since '${since}' --no-pager -o cat`)).stdout;
    fs.writeFileSync(path.join(path.dirname(caFile), "db-report.txt"), journal);
    expect(journal).toMatch(/^database synapse: [\d.]+ MiB$/m);
    expect(journal).toMatch(/^growth since the last report: [\d.]+ MiB per day$/m);
    expect(Number(/^state: \d+ rows in state_groups_state \(estimate\), (\d+) state groups$/m.exec(journal)?.[1])).toBeGreaterThan(0);
    expect(journal).toMatch(/WARNING: the database grew [\d.]+ MiB per day, above the alert threshold of 1 MiB per day/);
    expect((await homeserver.sh("systemctl show -p Result --value synapse-db-report.service")).stdout.trim()).toBe("exit-code");
  }), minutes(10));

  test("c2a. a box that already holds a Synapse database the program did not move there stops the move; nothing changes", () => timed("c2a box with another Synapse database", async () => {
    // Say, a database restored there by hand earlier: a schema_version table makes it Synapse's.
    await box.sh("systemctl start postgresql");
    const onBox = (sql: string, db = "postgres") => box.sh(`runuser -u postgres -- psql -XAt -v ON_ERROR_STOP=1 -d ${db}`, { stdin: sql });
    await onBox("CREATE DATABASE synapse ENCODING 'UTF8' LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0;");
    await onBox("CREATE TABLE schema_version (version int); INSERT INTO schema_version VALUES (42);", "synapse");
    const pid = await mainPid();
    await ws.configSet("databaseHost", box.host);
    const refused = await ws.update("up");
    expect(refused.code).not.toBe(0);
    expect(refused.stdout + refused.stderr).toContain(`both this host's PostgreSQL and ${box.host}:5432/synapse hold a Synapse database, and no move was recorded`);
    // Synapse was not stopped and still serves from this host's database; the box's is as it was.
    expect(await mainPid()).toBe(pid);
    expect((await homeserver.sh("curl -fsS http://127.0.0.1:8008/health")).stdout).toBe("OK");
    expect((await homeserver.sh("grep -E '^\\s+host:' /etc/matrix-synapse/homeserver.yaml")).stdout.trim()).toBe("host: /var/run/postgresql");
    expect(await messagesOn(homeserver)).toBe(30);
    expect((await onBox("SELECT version FROM schema_version;", "synapse")).stdout.trim()).toBe("42");
    expect((await homeserver.sh("test -e /var/lib/synapse-deploy/database-moved", { allowFail: true })).code).not.toBe(0);
    // The message's way out, to move this host's database: empty the box's as it says; c2 applies again.
    const fix = /On the box, as postgres:\s*\n\s*(DROP DATABASE synapse;)\s*\n\s*(CREATE DATABASE synapse .* OWNER synapse_user;)\n/.exec(refused.stdout + refused.stderr);
    expect(fix).not.toBeNull();
    await onBox(`${fix![1]}\n${fix![2]}\n`);
  }), minutes(10));

  test("c2. setting databaseHost moves the database to the box (collation C); the old one is kept; the client passes", () => timed("c2 move to a database box", async () => {
    const r = await ws.update("up");
    expectClean(r);
    record("pulumi", "pulumi up moving the database to a box", r.seconds);
    const out = await ws.outputs();
    expect(out.databaseMove).toMatch(new RegExp(`^moved \\d+ events to ${box.host.replace(/\./g, "\\.")}:5432/synapse \\(collation C\\); the old database synapse stays on this host`));
    expect(out.databaseHost).toBe(box.host);

    // Every message is on the box, in a UTF8/C/C database; the homeserver's own copy is untouched.
    expect(await messagesOn(box)).toBe(30);
    expect((await box.sh(`runuser -u postgres -- psql -XAtc "SELECT pg_encoding_to_char(encoding), datcollate, datctype FROM pg_database WHERE datname = 'synapse'"`)).stdout.trim()).toBe("UTF8|C|C");
    expect(await messagesOn(homeserver)).toBe(30);
    expect((await homeserver.sh("grep -E '^\\s+host:' /etc/matrix-synapse/homeserver.yaml")).stdout.trim()).toBe(`host: ${box.host}`);
    // Synapse's connections really go to the box.
    expect((await homeserver.sh(`ss -tnH state established 'dport = :5432' | awk '{print $4}' | sort -u`)).stdout.trim()).toBe(`${box.host}:5432`);

    expect(await chatAsAdmin(20)).toMatchObject({ sent: 20, received: 20, inOrder: true });
    expect(await messagesOn(box)).toBe(50);
    expect(await messagesOn(homeserver)).toBe(30);
  }), minutes(10));

  test("c3. the box listens on its private address only and admits only the homeserver", () => timed("c3 box closed to others", async () => {
    const listening = (await box.sh("ss -ltnH 'sport = :5432' | awk '{print $4}'")).stdout.trim().split("\n").sort();
    expect(listening).toEqual([`${box.host}:5432`, "127.0.0.1:5432", "[::1]:5432"].sort());
    expect((await box.sh("grep -E '^host synapse ' \"$(runuser -u postgres -- psql -XAtc 'SHOW hba_file')\"")).stdout.trim())
      .toBe(`host synapse synapse_user ${homeserver.host}/32 scram-sha-256`);
    expect(await reaches(homeserver, 5432)).toBe(true);
    // The outsider reaches the box (SSH answers) but not PostgreSQL.
    expect(await reaches(outsider, 22)).toBe(true);
    expect(await reaches(outsider, 5432)).toBe(false);
    // The rules survive a reboot: the unit loading them is enabled and ordered before PostgreSQL.
    expect((await box.sh("systemctl is-enabled synapse-postgres-firewall.service")).stdout.trim()).toBe("enabled");
  }), minutes(3));

  test("c4. Synapse keeps working after the box's PostgreSQL restarts: at most a few requests fail, then it reconnects by itself", () => timed("c4 database restart", async () => {
    const pid = await mainPid();
    const out = await ws.outputs();
    // The postmaster's PID and start time, and Synapse's connections to it (backend PIDs).
    const postgresState = async () => {
      const r = await box.sh(`runuser -u postgres -- psql -XAt -F ' ' -c "SELECT extract(epoch FROM pg_postmaster_start_time()), (SELECT string_agg(pid::text, ',' ORDER BY pid) FROM pg_stat_activity WHERE usename = 'synapse_user')"`);
      const [started, synapseBackends] = r.stdout.trim().split(" ");
      const postmaster = (await box.sh("head -n 1 \"$(runuser -u postgres -- psql -XAtc 'SHOW data_directory')/postmaster.pid\"")).stdout.trim();
      return { postmaster, started: Number(started), synapseBackends: (synapseBackends ?? "").split(",").filter(Boolean) };
    };
    const before = await postgresState();
    expect(before.synapseBackends.length).toBeGreaterThan(0);
    await box.sh("systemctl restart postgresql");
    const restarted = await postgresState();
    // PostgreSQL really restarted: a new postmaster, started later, none of Synapse's old backends.
    expect(restarted.postmaster).not.toBe(before.postmaster);
    expect(restarted.started).toBeGreaterThan(before.started);
    expect(restarted.synapseBackends.filter((b) => before.synapseBackends.includes(b))).toEqual([]);
    // Each pooled connection learns of the restart on its next query, which fails (HTTP 500);
    // twisted's pool then replaces it. Count the failed requests (an admin API that always reads
    // the database, and no rate limit) until one succeeds; give up after a minute.
    const probe = "h=$(mktemp); trap 'rm -f \"$h\"' EXIT; cat >\"$h\"; for _ in $(seq 1 120); do " +
      "code=$(curl -s -o /dev/null -w '%{http_code}' -H @\"$h\" 'http://127.0.0.1:8008/_synapse/admin/v2/users?limit=1'); " +
      "echo \"$code\"; [ \"$code\" = 200 ] && exit 0; sleep 0.5; done; exit 1";
    const r = await homeserver.sh(probe, { stdin: `Authorization: Bearer ${out.adminAccessToken}\n`, allowFail: true });
    const codes = r.stdout.trim().split("\n");
    expect(codes.at(-1)).toBe("200");
    const failed = codes.length - 1;
    fs.writeFileSync(path.join(path.dirname(caFile), "restart.json"), JSON.stringify({ statusesAfterRestart: codes, cpMax: 10 }) + "\n");
    expect(failed).toBeLessThanOrEqual(10);
    expect(await chatAsAdmin(10)).toMatchObject({ sent: 10, received: 10, inOrder: true });
    expect(await mainPid()).toBe(pid);
    expect(await messagesOn(box)).toBe(60);
    // The same Synapse process reconnected by itself: it holds connections to the new postmaster.
    expect((await postgresState()).synapseBackends.length).toBeGreaterThan(0);
  }), minutes(5));

  test("c5. an unchanged pulumi up runs nothing on either host; running the box's scripts again changes nothing; the move never runs twice", () => timed("c5 unchanged re-apply with a box", async () => {
    const r = await ws.update("up");
    expectClean(r);
    expect(changes(r)).toEqual([]);
    // A pulumi up that runs the move's step again (forced here with --replace) moves nothing: the
    // step says so, Synapse is not stopped, no second dump is taken, the box keeps its data.
    const synapsePid = await mainPid();
    const dumps = async () => (await homeserver.sh("ls /var/lib/synapse-deploy/backups/ | grep -c before-move || true")).stdout.trim();
    const dumpsBefore = await dumps();
    const messagesBefore = await messagesOn(box);
    const moveUrn = (await exportedState(ws)).deployment.resources.find((x: any) => x.urn.endsWith("::postgres-move")).urn;
    const replaced = await ws.update("up", ["--replace", moveUrn]);
    expectClean(replaced);
    expect([...new Set(changes(replaced).map((c) => c.split(":")[0]))]).toEqual(["postgres-move"]);
    expect(String((await commandResource(ws, "postgres-move")).outputs.stdout).trim()).toBe(`already moved to ${box.host}:5432/synapse`);
    expect(await mainPid()).toBe(synapsePid);
    expect(await dumps()).toBe(dumpsBefore);
    expect(await messagesOn(box)).toBe(messagesBefore);
    const postmaster = async () => (await box.sh("systemctl show -p MainPID --value postgresql@*-main.service")).stdout.trim();
    const pid = await postmaster();
    const hba = (await box.sh("cat \"$(runuser -u postgres -- psql -XAtc 'SHOW hba_file')\"")).stdout;
    const rerun = async (name: string, vps: Vps) => {
      const step = await commandResource(ws, name, true);
      const stdin = typeof step.inputs.stdin === "object" ? JSON.parse(step.inputs.stdin.plaintext) : step.inputs.stdin;
      return { first: String(step.outputs.stdout).trim(), again: (await vps.sh(String(step.inputs.create), { stdin })).stdout.trim() };
    };
    const network = await rerun("postgres-network", box);
    expect(network.again).toBe(network.first);
    expect((await rerun("postgres-move", homeserver)).again).toBe(`already moved to ${box.host}:5432/synapse`);
    // Synapse's hot tables have their autovacuum settings, and setting them again changes nothing.
    const autovacuum = await rerun("postgres-autovacuum", box);
    expect(autovacuum.first).toMatch(/^autovacuum: \d+ tables set, \d+ already set, \d+ absent/);
    expect(autovacuum.again).toMatch(/^autovacuum: 0 tables set, \d+ already set/);
    expect((await box.sh(`runuser -u postgres -- psql -XAtc "SELECT array_to_string(reloptions, ',') FROM pg_class WHERE relname = 'state_groups_state'" synapse`)).stdout.trim())
      .toBe("autovacuum_analyze_scale_factor=0.005,autovacuum_vacuum_cost_limit=2000,autovacuum_vacuum_scale_factor=0.01");
    expect(await postmaster()).toBe(pid);
    expect((await box.sh("cat \"$(runuser -u postgres -- psql -XAtc 'SHOW hba_file')\"")).stdout).toBe(hba);
    // The report on the Synapse VPS reads the box's database.
    const report = JSON.parse((await homeserver.sh("synapse-db-report --json", { allowFail: true })).stdout);
    expect(report.databaseBytes).toBeGreaterThan(5 * 1024 * 1024);
  }), minutes(5));

  test("c6. workers on a worker host: the client's /sync is served there; Redis and the workers admit only the pool", () => timed("c6 workers on a worker host", async () => {
    await ws.configSet("tier", "community");
    await ws.configSet("workerHosts[0]", workerHost.host, { path: true });
    const r = await ws.update("up");
    expectClean(r);
    record("pulumi", "pulumi up adding a worker host (community tier)", r.seconds);
    const since = (await homeserver.sh("date '+%Y-%m-%d %H:%M:%S'")).stdout.trim();
    const sinceThere = (await workerHost.sh("date '+%Y-%m-%d %H:%M:%S'")).stdout.trim();

    // The stateless workers run there (the package's main unit disabled); media stays here.
    for (const w of ["synchrotron1", "federation_sender1", "federation_reader1"]) {
      expect([w, (await workerHost.sh(`systemctl is-active matrix-synapse-worker@${w}`)).stdout.trim()]).toEqual([w, "active"]);
    }
    expect((await workerHost.sh("systemctl is-enabled matrix-synapse", { allowFail: true })).stdout.trim()).toBe("disabled");
    expect((await workerHost.sh("cmp /etc/matrix-synapse/homeserver.signing.key - ", { stdin: (await homeserver.sh("cat /etc/matrix-synapse/homeserver.signing.key")).stdout })).code).toBe(0);
    expect((await homeserver.sh("systemctl is-active matrix-synapse-worker@media_repository1")).stdout.trim()).toBe("active");
    expect((await homeserver.sh("ls /etc/matrix-synapse/workers")).stdout.trim()).toBe("media_repository1.yaml");

    expect(await chatAsAdmin(20)).toMatchObject({ sent: 20, received: 20, inOrder: true });
    const served = async (vps: Vps, unit: string, from: string) =>
      Number((await vps.sh(`journalctl -u ${unit} --since '${from}' --no-pager -o cat | grep -cE '"GET /_matrix/client/(r0|v3)/sync' || true`)).stdout.trim());
    expect(await served(workerHost, "matrix-synapse-worker@synchrotron1", sinceThere)).toBeGreaterThan(0);
    expect(await served(homeserver, "matrix-synapse", since)).toBe(0);

    // Redis and replication on the private address, Redis with a password; only the pool reaches them.
    const redisNoAuth = await workerHost.sh(`python3 -c "import socket; s=socket.create_connection(('${homeserver.host}', 6379), 5); s.sendall(b'PING\\r\\n'); print(s.recv(100).decode().strip())"`);
    expect(redisNoAuth.stdout.trim()).toMatch(/^-NOAUTH/);
    expect(await reaches(workerHost, 9093, homeserver)).toBe(true);
    expect(await reaches(outsider, 6379, homeserver)).toBe(false);
    expect(await reaches(outsider, 9093, homeserver)).toBe(false);
    expect(await reaches(homeserver, 8111, workerHost)).toBe(true);
    expect(await reaches(outsider, 8111, workerHost)).toBe(false);
    // The box admits the worker host too.
    expect((await box.sh("grep -cE '^host synapse ' \"$(runuser -u postgres -- psql -XAtc 'SHOW hba_file')\"")).stdout.trim()).toBe("2");

    const again = await ws.update("up");
    expectClean(again);
    expect(changes(again)).toEqual([]);
  }), minutes(12));

  test("c7. a scheduled history purge of a room named in config removes its old messages, keeps the new ones, and the room still works", () => timed("c7 purge history", async () => {
    const out = await ws.outputs();
    await ws.configSet("purgeHistory[0]", `${firstRoom}=20s`, { path: true });
    expectClean(await ws.update("up"));
    expect((await homeserver.sh("systemctl is-enabled synapse-purge-history.timer")).stdout.trim()).toBe("enabled");
    expect((await homeserver.sh("stat -c '%a %U' /etc/synapse-deploy/admin-token")).stdout.trim()).toBe("600 root");
    const inRoom = async () => Number((await box.sh(
      `runuser -u postgres -- psql -XAtc "SELECT count(*) FROM events WHERE type = 'm.room.message' AND room_id = '${firstRoom}'" synapse`)).stdout.trim());
    expect(await inRoom()).toBe(30);
    const total = await messagesOn(box);
    // Three new messages (through the admin's token on the host), then the timer's service at once.
    const send = (n: number) => homeserver.sh(
      `curl -sf -X PUT -H @- -d '{"msgtype":"m.text","body":"after ${n}"}' 'http://127.0.0.1:8008/_matrix/client/v3/rooms/${encodeURIComponent(firstRoom)}/send/m.room.message/c7-${n}'`,
      { stdin: `Authorization: Bearer ${out.adminAccessToken}\n` });
    for (const n of [1, 2, 3]) await send(n);
    const since = (await homeserver.sh("date '+%Y-%m-%d %H:%M:%S'")).stdout.trim();
    await homeserver.sh("systemctl start synapse-purge-history.service");
    const journal = (await homeserver.sh(`journalctl -u synapse-purge-history --since '${since}' --no-pager -o cat`)).stdout;
    expect(journal).toContain(`synapse-purge-history: ${firstRoom}: history before`);
    expect(journal).toMatch(/: complete \(purge [A-Za-z]+\)$/m);
    // The 30 old messages are gone, the 3 new ones stay, other rooms are untouched.
    expect(await inRoom()).toBe(3);
    expect(await messagesOn(box)).toBe(total - 30 + 3);
    const messages = JSON.parse((await homeserver.sh(
      `curl -sf -H @- 'http://127.0.0.1:8008/_matrix/client/v3/rooms/${encodeURIComponent(firstRoom)}/messages?dir=b&limit=100'`,
      { stdin: `Authorization: Bearer ${out.adminAccessToken}\n` })).stdout);
    expect(messages.chunk.filter((e: { type: string }) => e.type === "m.room.message").map((e: { content: { body: string } }) => e.content.body))
      .toEqual(["after 3", "after 2", "after 1"]);
    await send(4);
    expect(await inRoom()).toBe(4);
  }), minutes(5));
});
