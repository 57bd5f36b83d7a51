// End-to-end: a PostgreSQL major upgrade of a homeserver with history. Debian sid's mirror serves
// one PostgreSQL major (18); the older one comes from Debian 13 (trixie) on the same mirror, added
// to the VPS's sources at a low priority, as on a host that started on trixie. The homeserver is
// deployed on 17, gets history, then a second cluster (18/main, as a release upgrade leaves it),
// which a later `pulumi up` leaves exactly as it is; then postgresVersion 17 → 18 moves the database
// (counts equal, Synapse healthy on 18, the old cluster kept and left alone), and
// postgresDropOldCluster drops the old cluster.
import * as fs from "node:fs";
import * as path from "node:path";
import { downVps } from "../sandbox/sandbox";
import { PulumiWorkspace } from "./support/pulumi";
import { suiteNeeding } from "./support/requirements";
import {
  bootVps, changes, chat, devStack, exemptFromRateLimit, expectClean, figure, httpsClient, outputDir, record, timed, Vps,
} from "./support/stack";

const suite = suiteNeeding("sandbox", "engine");
const minutes = (n: number) => n * 60_000;

const N = 53;
const server = "sandbox.test";
const USERS = 8;
/** Messages in the room: Synapse's filter_timeline_limit (100) caps what the chat client's sync sees. */
const MESSAGES = 100;

let vps: Vps;
let ws: PulumiWorkspace;
let https: Awaited<ReturnType<typeof httpsClient>>;
let counts: string;
let roomId: string;

/** As root on the VPS, in the cluster on `port`. */
const psql = async (sql: string, port = 5432, db = "synapse") =>
  (await vps.sh(`runuser -u postgres -- psql -p ${port} -XAtc "${sql}" ${db}`)).stdout.trim();
const countsOf = (port = 5432) => psql("SELECT (SELECT count(*) FROM events) || ' events, ' || (SELECT count(*) FROM users) || ' users'", port);
/** A cluster's line of pg_lsclusters: version, name, port, status. */
async function cluster(major: number): Promise<string> {
  return (await vps.sh(`pg_lsclusters --no-header | awk '$1 == ${major} { print $1, $2, $3, $4 }'`)).stdout.trim();
}
/** Everything that says what a cluster is: its configuration files and its postmaster's start time. */
async function fingerprint(major: number, port: number): Promise<{ config: string; started: string }> {
  const config = (await vps.sh(`cd /etc/postgresql/${major}/main && find . -type f | sort | xargs sha256sum`)).stdout;
  const running = (await vps.sh(`pg_lsclusters --no-header | awk '$1 == ${major} { print $4 }'`)).stdout.trim() === "online";
  return { config, started: running ? await psql("SELECT pg_postmaster_start_time()", port, "postgres") : "down" };
}
async function messages(token: string): Promise<string[]> {
  const r = await https.get(`https://matrix.${server}/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/messages?dir=f&limit=200`, token);
  expect(r.status).toBe(200);
  return r.json().chunk.filter((e: any) => e.type === "m.room.message").map((e: any) => e.content.body);
}

suite("a PostgreSQL major upgrade, 17 → 18, of a homeserver with history", () => {
  beforeAll(async () => {
    vps = await bootVps(N);
    // The older major: Debian 13's, from the same mirror, taken only when asked for by name.
    await vps.sh(`printf 'deb http://deb.debian.org/debian trixie main\\n' > /etc/apt/sources.list.d/trixie.list &&
      printf 'Package: *\\nPin: release n=trixie\\nPin-Priority: 100\\n' > /etc/apt/preferences.d/trixie`);
    ws = await devStack(vps, `vps${N}-postgres`, { postgresVersion: "17" });
  }, minutes(5));

  afterAll(async () => {
    https?.close();
    if (process.env.E2E_KEEP !== "1") await downVps(N);
  }, minutes(2));

  test("1. deployed on PostgreSQL 17, with history", () => timed("postgres 1 on 17 with history", async () => {
    const up = await ws.update("up");
    expectClean(up);
    const out = await ws.outputs();
    expect(out.postgresVersion).toBe("17");
    expect(await cluster(17)).toBe("17 main 5432 online");
    expect(await psql("SHOW server_version")).toMatch(/^17\./);
    https = await httpsClient(vps);
    for (let i = 1; i <= USERS; i++) {
      await vps.sh(`curl -sf -X PUT -H @- -d '{"password": "user-${i}-password"}' 'http://127.0.0.1:8008/_synapse/admin/v2/users/@user${i}:${server}'`,
        { stdin: `Authorization: Bearer ${out.adminAccessToken}\n` });
    }
    const caFile = path.join(outputDir, `vps${N}-postgres`, "ca.pem");
    fs.writeFileSync(caFile, https.ca);
    await exemptFromRateLimit(vps, `@admin:${server}`, out.adminAccessToken);
    const talk = await chat(vps, { baseUrl: `https://matrix.${server}`, caFile, user: "admin", password: out.adminPassword, count: MESSAGES });
    expect(talk.received).toBe(MESSAGES);
    roomId = String(talk.roomId);
    counts = await countsOf();
    expect(counts).toMatch(new RegExp(`^\\d+ events, ${USERS + 1} users$`));
  }), minutes(10));

  test("2. a second cluster appears (18/main, as a release upgrade leaves it): a later pulumi up leaves it exactly as it is", () => timed("postgres 2 two clusters left as they are", async () => {
    // The package makes and starts 18/main itself (postgresql-common's create_main_cluster), on the
    // next free port; made by hand only where a host's createcluster.conf says not to.
    await vps.sh(`apt-get install -y -q --no-install-recommends postgresql-18 >/dev/null 2>&1 &&
      { pg_lsclusters --no-header | awk '$1 == 18 && $2 == "main"' | grep -q . || pg_createcluster 18 main >/dev/null; } &&
      { pg_ctlcluster 18 main status >/dev/null || pg_ctlcluster 18 main start; }`);
    expect(await cluster(18)).toBe("18 main 5433 online");
    const before = await fingerprint(18, 5433);
    // A change that runs the steps naming a cluster again: PostgreSQL's settings.
    await ws.configSet("postgresWorkMem", "12MB");
    const up = await ws.update("up");
    expectClean(up);
    expect(changes(up)).toEqual(["postgres-tuning:update"]);
    expect(await psql("SHOW work_mem")).toBe("12MB");
    expect(await fingerprint(18, 5433)).toEqual(before);
    expect(await psql("SHOW work_mem", 5433, "postgres")).toBe("4MB");
  }), minutes(5));

  test("3. postgresVersion 17 → 18: the database moves, counts equal, Synapse healthy on 18, the old cluster kept", () => timed("postgres 3 major upgrade", async () => {
    const size = Number(await psql("SELECT pg_database_size('synapse')"));
    const backupsBefore = JSON.parse((await vps.sh("synapse-backup --list --json")).stdout).local.length;
    await ws.configSet("postgresVersion", "18");
    const plan = await ws.plan();
    expect(plan.code).toBe(0);
    expect(changes(plan)).toEqual(expect.arrayContaining(["upgrades-postgres-version-17:delete", "upgrades-postgres-version-18:create",
      "postgres-cluster:update", "upgrades-gate:update", "synapse-activate:update"]));
    // Nothing but the database's version: no config file of Synapse or nginx changes.
    expect(changes(plan).filter((c) => /staged|nginx|well-known/.test(c))).toEqual([]);

    // A client polling through nginx all along: the downtime is its longest run of failures.
    let polling = true;
    let longest = 0;
    let downSince = 0;
    const poll = (async () => {
      while (polling) {
        const t = Date.now();
        const ok = await https.get(`https://matrix.${server}/_matrix/client/versions`).then((r) => r.status === 200, () => false);
        if (!ok && !downSince) downSince = t;
        if (ok && downSince) { longest = Math.max(longest, Date.now() - downSince); downSince = 0; }
        await new Promise((r) => setTimeout(r, 200));
      }
    })();
    const up = await ws.update("up");
    polling = false;
    await poll;
    expectClean(up);
    record("pulumi", "pulumi up moving the database from PostgreSQL 17 to 18", up.seconds);
    figure("upgrade.postgres-up", up.seconds, "the pulumi up of the PostgreSQL upgrade 17 → 18", "s");
    figure("upgrade.postgres-downtime", longest / 1000, "PostgreSQL 17 → 18: the longest time a client polling through nginx got no answer", "s");
    figure("upgrade.postgres-database-size", size / 2 ** 20, "the size of the database moved from PostgreSQL 17 to 18 (pg_database_size)", "MiB");
    expect(longest).toBeGreaterThan(0);

    const out = await ws.outputs();
    expect(out.postgresVersion).toBe("18");
    expect(out.postgresCluster).toMatch(/^moved synapse from PostgreSQL 17\/main to 18\/main \(\d+ events, \d+ users, counted on both\) in \d+ s; 17\/main is kept, stopped, on port 5433/);
    expect(await cluster(18)).toBe("18 main 5432 online");
    expect(await cluster(17)).toBe("17 main 5433 down");
    expect((await vps.sh("cat /etc/postgresql/17/main/start.conf | grep -v '^#'")).stdout.trim()).toBe("manual");
    expect(await psql("SHOW server_version")).toMatch(/^18\./);
    expect(await countsOf()).toBe(counts);
    // The tuning followed the database; Synapse is connected to 18 and serves the history.
    expect(await psql("SHOW work_mem")).toBe("12MB");
    expect(Number(await psql("SELECT count(*) FROM pg_stat_activity WHERE datname = 'synapse' AND usename = 'synapse_user'"))).toBeGreaterThan(0);
    const login = await https.post(`https://matrix.${server}/_matrix/client/v3/login`,
      { type: "m.login.password", identifier: { type: "m.id.user", user: "admin" }, password: out.adminPassword });
    expect(login.status).toBe(200);
    expect(await messages(login.json().access_token)).toEqual(Array.from({ length: MESSAGES }, (_, i) => `message ${i} of ${MESSAGES}`));
    expect(JSON.parse((await vps.sh("synapse-backup --list --json")).stdout).local.length).toBe(backupsBefore + 1);

    const second = await ws.update("up");
    expectClean(second);
    expect(changes(second)).toEqual([]);
  }), minutes(10));

  test("4. the kept 17/main is left alone by later ups; postgresDropOldCluster drops it", () => timed("postgres 4 old cluster kept, then dropped", async () => {
    const kept = await fingerprint(17, 5433);
    await ws.configSet("postgresWorkMem", "16MB");
    const up = await ws.update("up");
    expectClean(up);
    expect(changes(up)).toEqual(["postgres-tuning:update"]);
    expect(await psql("SHOW work_mem")).toBe("16MB");
    expect(await fingerprint(17, 5433)).toEqual(kept);

    await ws.configSet("postgresDropOldCluster", "17");
    const drop = await ws.update("up");
    expectClean(drop);
    expect(changes(drop)).toEqual(["postgres-drop-old-cluster:create"]);
    expect(await cluster(17)).toBe("");
    expect((await vps.sh("test -e /var/lib/postgresql/17/main", { allowFail: true })).code).not.toBe(0);
    expect(await countsOf()).toBe(counts);
    const again = await ws.update("up");
    expectClean(again);
    expect(changes(again)).toEqual([]);
  }), minutes(5));
});
