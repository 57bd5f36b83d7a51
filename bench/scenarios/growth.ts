// 4. Database growth under state churn: a solo homeserver with the state compressor on (VPS 23),
//    state-heavy activity from a real client (tests/e2e/clients/state-churn.mjs, matrix-js-sdk:
//    membership churn, topic and power-level changes in many rooms), then the state rows and the
//    database's growth per 1,000 state changes (a) untreated, once the churn has settled; (b) after
//    the compressor's service, started as its timer starts it (synapse_auto_compressor, then
//    VACUUM ANALYZE of the state tables); (c) after purging every churn room's history with
//    `npm run admin -- purge-history`, and what follows on its own (Synapse's deferred deletion of
//    the state groups the purge left unreferenced, autovacuum). Ratios: (b) and (c) against (a).
//    The compressor ends with synapse-reclaim, and after the purge's deletion synapse-reclaim runs
//    as its timer would. Row counts are deterministic, so one pass, whatever --rounds says.
//    The compressor is built once on this machine and cached with the engine (tests/e2e/support/compressor.ts).
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { compressorBinary } from "../../render/compressor";
import { downVps } from "../../tests/sandbox/sandbox";
import { buildCompressor, placeCompressor } from "../../tests/e2e/support/compressor";
import { bootVps, devStack, expectClean, runAdmin, Vps } from "../../tests/e2e/support/stack";
import { Comparison, compare, measured } from "../stats";

const root = path.join(__dirname, "..", "..");
/** The bench's VPS for this scenario (the e2e suite uses 1–14, the other scenarios 20–22). */
const N = 23;
const server = "sandbox.test";
// 20 messages between state changes: rooms are mostly conversation, and the messages are what a
// history purge deletes (it keeps state events), so the purge path has something to give back.
const churn = { rooms: 10, members: 30, rounds: 60, messagesPerRound: 20 };
const minutes = (n: number) => n * 60_000;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const MiB = 2 ** 20;

/** What the database holds at one point. */
interface Snapshot {
  /** state_groups_state rows. */
  rows: number;
  groups: number;
  /** State groups stored in full (no previous group to be a delta on). */
  full: number;
  /** state_groups_state + state_group_edges, with indexes and TOAST (as synapse-compress-state reports). */
  stateBytes: number;
  /** pg_database_size of Synapse's database. */
  dbBytes: number;
  events: number;
  /** State groups Synapse has marked for its deferred deletion. */
  pending: number;
  /** Each table's size with its indexes and TOAST (pg_total_relation_size), by name. */
  tables: Record<string, number>;
}

const psql = async (vps: Vps, db: string, sql: string) =>
  (await vps.sh(`runuser -u postgres -- psql -XAt -v ON_ERROR_STOP=1 -F ' ' -d ${db}`, { stdin: sql })).stdout.trim();

async function snapshot(vps: Vps, db: string): Promise<Snapshot> {
  const [rows, groups, full, stateBytes, dbBytes, events, pending] = (await psql(vps, db, `SELECT
    (SELECT count(*) FROM state_groups_state), (SELECT count(*) FROM state_groups),
    (SELECT count(*) FROM state_groups g WHERE NOT EXISTS (SELECT 1 FROM state_group_edges e WHERE e.state_group = g.id)),
    pg_total_relation_size('state_groups_state') + pg_total_relation_size('state_group_edges'),
    pg_database_size(current_database()), (SELECT count(*) FROM events),
    (SELECT count(*) FROM state_groups_pending_deletion);`)).split(" ").map(Number);
  const tables = Object.fromEntries((await psql(vps, db, "SELECT relname, pg_total_relation_size(relid) FROM pg_stat_user_tables;"))
    .split("\n").filter(Boolean).map((l) => l.split(" ")).map(([t, b]) => [t, Number(b)]));
  return { rows, groups, full, stateBytes, dbBytes, events, pending, tables };
}

/** The tables that grew (or shrank) most from one snapshot to another, largest change first. */
function tableChanges(from: Snapshot, to: Snapshot, count: number): [string, number][] {
  return Object.keys({ ...from.tables, ...to.tables }).map((t): [string, number] => [t, (to.tables[t] ?? 0) - (from.tables[t] ?? 0)])
    .filter(([, d]) => d !== 0).sort((a, b) => Math.abs(b[1]) - Math.abs(a[1])).slice(0, count);
}

/**
 * Waits until the database is quiet: at least `minSeconds` since `since` (autovacuum's launcher
 * looks at each database once a minute), then no autovacuum worker for three samples in a row,
 * 5 s apart (at most 4 minutes). What a user looking minutes later sees; so that the figures do
 * not depend on whether the compressor's build made the bench wait.
 */
async function settle(vps: Vps, db: string, since: number, minSeconds: number): Promise<void> {
  const wait = since + minSeconds * 1000 - Date.now();
  if (wait > 0) await sleep(wait);
  const deadline = Date.now() + minutes(4);
  for (let quiet = 0; quiet < 3 && Date.now() < deadline; await sleep(5_000)) {
    const workers = Number(await psql(vps, db, "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'autovacuum worker';"));
    quiet = workers === 0 ? quiet + 1 : 0;
  }
}

const unit = async (vps: Vps, name: string, props: string[]) => Object.fromEntries((await vps.sh(`systemctl show ${props.map((p) => `-p ${p}`).join(" ")} ${name}`))
  .stdout.trim().split("\n").map((l) => l.split(/=(.*)/s).slice(0, 2)));

/** The real client's state churn, spawned as compressor.test.ts spawns it. */
async function stateChurn(vps: Vps, caFile: string, adminToken: string): Promise<{ rooms: string[]; members: number; stateEvents: number; seconds: number }> {
  const child = spawn(process.execPath, [path.join(root, "tests", "e2e", "clients", "state-churn.mjs")], {
    cwd: root,
    env: { ...process.env, BASE_URL: `https://matrix.${server}`, ADDRESS: vps.host, CA_FILE: caFile, ADMIN_TOKEN: adminToken, SERVER: server,
      ROOMS: String(churn.rooms), MEMBERS: String(churn.members), ROUNDS: String(churn.rounds), MESSAGES_PER_ROUND: String(churn.messagesPerRound) },
  });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (d) => { stdout += d; });
  child.stderr.on("data", (d) => { stderr += d; });
  const timer = setTimeout(() => child.kill("SIGKILL"), minutes(15));
  const code = await new Promise<number | null>((resolve) => child.on("close", resolve));
  clearTimeout(timer);
  if (code !== 0) throw new Error(`state-churn exited ${code}: ${stderr.slice(-4000)}\n${stdout.slice(-2000)}`);
  return JSON.parse(stdout.trim().split("\n").pop()!);
}

export async function growthScenario(): Promise<{ comparisons: Comparison[]; notes: string[]; extra: Record<string, unknown> }> {
  const t0 = Date.now();
  const binary = compressorBinary();
  await buildCompressor();
  const seconds: Record<string, number> = {};
  const lap = async <T>(what: string, fn: () => Promise<T>): Promise<T> => {
    const s = Date.now();
    try {
      return await fn();
    } finally {
      seconds[what] = (Date.now() - s) / 1000;
    }
  };
  const vps = await bootVps(N);
  try {
    // The compressor built beforehand (its build on the VPS takes minutes at idle priority), put where
    // the program expects it: its install step finds it built.
    await placeCompressor(vps);
    // A small database: a table is rebuilt from 1 MiB reclaimable (the default, 8 MiB, suits real ones).
    const ws = await devStack(vps, `bench-vps${N}-growth`, { adminUser: "admin", stateCompressor: "true", reclaimMinMiB: "1" });
    // The churn client makes its users through the admin API, from the sandbox's host.
    await ws.configSet("adminAllowedNetworks[0]", `10.231.${N}.1/32`, { path: true });
    const up = await lap("pulumi up", () => ws.update("up"));
    expectClean(up);
    const out = await ws.outputs();
    const status = String(out.stateCompressor);
    if (!status.includes(`built: ${binary}`)) throw new Error(`the compressor's install said '${status}' (expected it built, from the cache)`);
    const db = (await vps.sh("awk -F= '/^database=/ { print $2 }' /etc/synapse-deploy/compress-state.conf")).stdout.trim();
    const caFile = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "bench-growth-")), "ca.pem");
    fs.writeFileSync(caFile, (await vps.sh("cat /etc/synapse-deploy/tls/*/fullchain.pem")).stdout);

    // The empty homeserver, then the churn (the compressor builds meanwhile, at idle priority, on a fresh VPS).
    const empty = await snapshot(vps, db);
    const made = await lap("state churn", () => stateChurn(vps, caFile, String(out.adminAccessToken)));
    const expected = churn.rooms * (churn.members + churn.rounds * 4);
    if (made.stateEvents !== expected) throw new Error(`the churn made ${made.stateEvents} state events, expected ${expected}`);
    const churned = Date.now();
    const afterChurn = await snapshot(vps, db);

    const started = (await unit(vps, "synapse-compressor-build", ["ExecMainStartTimestampMonotonic"])).ExecMainStartTimestampMonotonic;
    if (started !== "0") throw new Error("the compressor's build ran although its binary was in place");

    // (a) Untreated: the database a couple of minutes after the churn, once autovacuum is done with it.
    await lap("settling after the churn", () => settle(vps, db, churned, 120));
    const untreated = await snapshot(vps, db);
    // (b) The compressor's service, as its timer starts it.
    const since = (await vps.sh("date '+%Y-%m-%d %H:%M:%S'")).stdout.trim();
    const run = await lap("synapse-compress-state", () => vps.sh("systemctl start synapse-compress-state.service", { allowFail: true }));
    const journal = (await vps.sh(`journalctl -u synapse-compress-state --since '${since}' --no-pager -o cat`)).stdout;
    if (run.code !== 0) throw new Error(`synapse-compress-state failed:\n${journal.split("\n").slice(-40).join("\n")}`);
    const compressed = await snapshot(vps, db);

    // (c) Every churn room's history purged through the program's admin command.
    await lap("purges", async () => {
      for (const room of made.rooms) {
        const r = await runAdmin(ws, ["purge-history", room, "--before-days", "0", "--delete-local", "--yes", "--json"]);
        const said = r.code === 0 ? JSON.parse(r.stdout.trim().split("\n").pop()!) : undefined;
        if (said?.status !== "complete") throw new Error(`purge-history ${room} exited ${r.code}: ${r.stdout}\n${r.stderr}`);
      }
    });
    const purged = await snapshot(vps, db);
    // Synapse deletes the state groups a purge left unreferenced 10 minutes later (its
    // DELAY_BEFORE_DELETION_MS), from a loop that runs every minute. Rather than wait those 10
    // minutes, the pending deletions are moved 10 minutes back: the same loop then deletes them,
    // with the same checks, as it would have 10 minutes later.
    const dbNow = async () => Number(await psql(vps, db, "SELECT extract(epoch FROM now());"));
    const deletionFrom = await dbNow();
    await psql(vps, db, "UPDATE state_groups_pending_deletion SET insertion_ts = insertion_ts - 600000;");
    let pending = purged.pending;
    await lap("Synapse's deferred deletion", async () => {
      for (const deadline = Date.now() + minutes(4); pending > 0 && Date.now() < deadline; await sleep(5_000)) {
        pending = Number(await psql(vps, db, "SELECT count(*) FROM state_groups_pending_deletion;"));
      }
    });
    if (pending > 0) throw new Error(`Synapse has not deleted the purged state groups: ${pending} still pending after 4 minutes`);
    // Then autovacuum (the program's per-table settings: state_groups_state at 1 % dead rows).
    const vacuumedSince = async () => Number(await psql(vps, db,
      "SELECT coalesce(extract(epoch FROM last_autovacuum), 0) FROM pg_stat_user_tables WHERE relname = 'state_groups_state';"));
    let autovacuumed = false;
    await lap("autovacuum after the deletion", async () => {
      for (const deadline = Date.now() + minutes(4); Date.now() < deadline; await sleep(5_000)) {
        if ((autovacuumed = (await vacuumedSince()) > deletionFrom)) break;
      }
    });
    await lap("settling after the deletion", () => settle(vps, db, Date.now(), 60));
    // Then synapse-reclaim, as its daily timer (after the purges) runs it.
    const reclaimSince = (await vps.sh("date '+%Y-%m-%d %H:%M:%S'")).stdout.trim();
    await lap("synapse-reclaim after the purge", () => vps.sh("systemctl start synapse-reclaim.service"));
    const reclaimed = (await vps.sh(`journalctl -u synapse-reclaim --since '${reclaimSince}' --no-pager -o cat`)).stdout
      .split("\n").filter((l) => l.startsWith("synapse-reclaim:"));
    const settled = await snapshot(vps, db);
    const autovacuumedTables = (await psql(vps, db,
      `SELECT relname FROM pg_stat_user_tables WHERE last_autovacuum > to_timestamp(${deletionFrom}) ORDER BY relname;`)).split("\n").filter(Boolean);
    // For reference only (the program never runs it): where the freed space is.
    await lap("VACUUM FULL (reference)", () => psql(vps, db, "VACUUM FULL;"));
    const full = await snapshot(vps, db);

    // Per 1,000 state changes: what the churn added over the empty homeserver.
    const k = made.stateEvents / 1000;
    const rowsPerK = (s: Snapshot) => (s.rows - empty.rows) / k;
    const dbPerK = (s: Snapshot) => (s.dbBytes - empty.dbBytes) / MiB / k;
    const rowsUnit = "rows/1k state changes";
    const dbUnit = "MiB/1k state changes";
    const rows0 = measured("untreated", rowsUnit, [rowsPerK(untreated)]);
    const db0 = measured("untreated", dbUnit, [dbPerK(untreated)]);
    const comparisons = [
      compare("state rows (state_groups_state) per 1,000 state changes, after the compressor's service (compression, VACUUM ANALYZE, synapse-reclaim)", measured("compressed", rowsUnit, [rowsPerK(compressed)]), rows0),
      compare("database growth (pg_database_size) per 1,000 state changes, after the compressor's service (compression, VACUUM ANALYZE, synapse-reclaim)", measured("compressed", dbUnit, [dbPerK(compressed)]), db0),
      compare("state rows per 1,000 state changes, after purging every room's history (and Synapse's deferred deletion)", measured("purged", rowsUnit, [rowsPerK(settled)]), rows0),
      compare("database growth per 1,000 state changes, after purging every room's history (and autovacuum)", measured("purged", dbUnit, [dbPerK(settled)]), db0),
      // The purge path: the whole database after the purges, Synapse's deletion and the
      // treatment (synapse-reclaim), against the same database right before the purges.
      compare("the purge path: the whole database after purging every room's history and the treatment, against before the purge",
        measured("after", "MiB", [settled.dbBytes / MiB]), measured("before the purge", "MiB", [compressed.dbBytes / MiB]), "growth.purge"),
    ];

    const mib = (b: number) => `${(b / MiB).toFixed(1)} MiB`;
    const kib = (b: number) => `${b >= 0 ? "+" : "−"}${(Math.abs(b) / 1024).toFixed(0)} KiB`;
    const line = (s: Snapshot) => `${s.rows} state rows, ${s.groups} state groups (${s.full} stored in full), state tables ${mib(s.stateBytes)}, ` +
      `database ${mib(s.dbBytes)}, ${s.events} events`;
    const grew = (from: Snapshot, to: Snapshot, n: number) => tableChanges(from, to, n).map(([t, d]) => `${t} ${kib(d)}`).join(", ");
    const removed = journal.match(/^synapse-compress-state: removed .*$/m)?.[0];
    const notes = [
      `the churn: ${made.stateEvents} state events from a real client (matrix-js-sdk, tests/e2e/clients/state-churn.mjs) in ${made.rooms.length} rooms, ` +
        `${made.members} users plus the admin: each user joins every room, then ${churn.rounds} rounds per room of a topic change, a power-level change, ` +
        `one member leaving and rejoining, and ${churn.messagesPerRound} messages (${churn.rounds * churn.messagesPerRound * made.rooms.length} messages); ${made.seconds.toFixed(0)} s`,
      `raw counts: empty homeserver: ${line(empty)}; right after the churn: ${line(afterChurn)}; untreated (settled, right before the compressor): ${line(untreated)}; ` +
        `after compression: ${line(compressed)}; right after the purges: ${line(purged)}, ${purged.pending} state groups pending deletion; ` +
        `after Synapse's deferred deletion and autovacuum: ${line(settled)}`,
      `per 1,000 state changes the churn added ${rowsPerK(untreated).toFixed(0)} state rows, ${((untreated.groups - empty.groups) / k).toFixed(0)} state groups, ` +
        `${((untreated.stateBytes - empty.stateBytes) / MiB / k).toFixed(2)} MiB of state tables and ${dbPerK(untreated).toFixed(2)} MiB of database. ` +
        `Database figures are growth over the empty homeserver's ${mib(empty.dbBytes)} (against the whole database the ratios would be diluted by its empty schema); ` +
        `the state tables are a small part of it: the tables that grew most were ${grew(empty, untreated, 8)}`,
      `compression, ending with synapse-reclaim: ${removed ?? "(no summary in the journal)"}; ${journal.split("\n").filter((l) => l.startsWith("synapse-reclaim:")).join(" / ")}. Synapse already stores each state group as a delta on the previous one (one row per ` +
        `state change here) except one group in full every 100 hops (${untreated.full} of ${untreated.groups}); on rooms of one server with no forks ` +
        "that only leaves the compressor those full snapshots to fold into its tree of deltas, hence a few percent. " +
        `State tables ${mib(untreated.stateBytes)} → ${mib(compressed.stateBytes)}, database ${mib(untreated.dbBytes)} → ${mib(compressed.dbBytes)} ` +
        `(largest changes: ${grew(untreated, compressed, 5) || "none"}): VACUUM ANALYZE only makes freed rows' space reusable inside the table files; ` +
        "what went back to the disk is synapse-reclaim's rebuilds, and the compressor keeps its progress in tables of its own (state_compressor_*)",
      `purge: the program's \`npm run admin -- purge-history <room> --before-days 0 --delete-local --yes\` (synadm, polled to its end) for each of the ${made.rooms.length} rooms, ` +
        `${seconds.purges.toFixed(0)} s in all; the program runs no VACUUM after it. Right after it the events went ${compressed.events} → ${purged.events} ` +
        "(Synapse's purge deletes messages but keeps state events, as outliers, and each room's latest event) " +
        `and the state rows ${compressed.rows} → ${purged.rows}: Synapse only marks the state groups the purge left unreferenced for deletion ` +
        `(${purged.pending} of them) and deletes them 10 minutes later (DELAY_BEFORE_DELETION_MS), from a loop that runs every minute. The bench moved those ` +
        "pending deletions 10 minutes back instead of waiting; Synapse's own loop then deleted them, with its own checks, as it would have " +
        `(${seconds["Synapse's deferred deletion"].toFixed(0)} s): ${settled.rows} state rows in ${settled.groups} state groups left, ` +
        (settled.groups === made.rooms.length ? "one per room, holding its current state" : "(the state still referenced by the events left)"),
      `after the deletion autovacuum ${autovacuumed ? `vacuumed state_groups_state (the program's setting: at 1 % dead rows) within ${seconds["autovacuum after the deletion"].toFixed(0)} s` : "had not vacuumed state_groups_state after 4 minutes"}` +
        ` (tables autovacuumed since the deletion: ${autovacuumedTables.join(", ") || "none"}); then synapse-reclaim, as its timer runs it: ` +
        `${reclaimed.join(" / ") || "(nothing in its journal)"}; the database then measured ${mib(settled.dbBytes)} ` +
        `(largest changes since the compression: ${grew(compressed, settled, 5) || "none"}), which is what a user sees. ` +
        `For reference only (the program never runs it, it locks each table while it rewrites it), a VACUUM FULL afterwards brought the database to ` +
        `${mib(full.dbBytes)} and the state tables to ${mib(full.stateBytes)}; it also compacts what the deployment itself left behind`,
      `the compressor's binary was built once on this machine by the program's own build tool and put in place before \`pulumi up\`, whose install step found it built and started no build`,
      `row counts are deterministic (the same churn makes the same state groups), so this is one pass, not medians of rounds; ` +
        `the scenario took ${((Date.now() - t0) / 60_000).toFixed(1)} min (${Object.entries(seconds).map(([w, s]) => `${w} ${s.toFixed(0)} s`).join(", ")})`,
    ];
    return {
      comparisons, notes,
      extra: { churn: { ...churn, stateEvents: made.stateEvents, seconds: made.seconds }, snapshots: Object.fromEntries(Object.entries({ empty, afterChurn, untreated, compressed, purged, settled, vacuumFull: full })
          .map(([name, { tables, ...counts }]) => [name, counts])),
        tablesGrown: { byChurn: tableChanges(empty, untreated, 15), byCompression: tableChanges(untreated, compressed, 15), byPurge: tableChanges(compressed, settled, 15) },
        compressorJournal: journal.split("\n").filter((l) => l.startsWith("synapse-compress-state:")), seconds, autovacuumedTables },
    };
  } finally {
    await downVps(N);
  }
}
