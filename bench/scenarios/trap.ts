// 5. The database trap, reproduced as it bites, and closed in bytes on disk. Two solo homeservers
//    deployed by the program get the same activity, side by side: one public room that grows big
//    the way real ones do (3,000 puppets of an application service join it, then 6,000 displayname
//    changes go round them: the trap shows above ~1,000 and widens with every change). The treated one (a.test, VPS 27) runs its maintenance (the compressor,
//    then synapse-reclaim's online rebuild) after every 1,000 state changes, as its timers would
//    over months; the untreated twin (u.test, VPS 28) has it off. A third homeserver (f.test, VPS
//    29) joins a.test's room over federation before the members do and follows all of it,
//    untreated until the end. (Joining once the members are in is refused for close to an hour:
//    Synapse's per-room join limit, rc_joins_per_room, counts every join in the room, the puppets'
//    too, and the program does not relax rate limits for a benchmark.) Every figure is treated ÷ untreated, or after ÷
//    before, measured in this run once the databases have settled. Then the purge path on a.test:
//    every room's history purged, Synapse's deferred deletion of the state that left unreferenced,
//    the treatment; then more activity, a purge and a compressor run again (the compressor is known
//    to stop with "Missing N" after purges). During every treatment a client reads the room once a
//    second at least. Deterministic counts: one pass, whatever --rounds says.
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { downVps } from "../../tests/sandbox/sandbox";
import { federatingStack, startAcme } from "../../tests/e2e/support/acme";
import { buildCompressor, placeCompressor } from "../../tests/e2e/support/compressor";
import { PulumiWorkspace } from "../../tests/e2e/support/pulumi";
import { probeRoom, ProbeResult, RoomAccess, roomAsSeenCold } from "../../tests/e2e/support/roomReader";
import { bootVps, devStack, expectClean, runAdmin, Vps } from "../../tests/e2e/support/stack";
import { psqlOn, sizes, Sizes, stateDigestsSql } from "../../tests/e2e/support/state";
import { Comparison, compare, measured } from "../stats";

const root = path.join(__dirname, "..", "..");
const VPS = { acme: 26, treated: 27, untreated: 28, federated: 29 };
const load = { members: 3000, changes: 6000, batch: 500, treatEvery: 1000, concurrency: 4 };
const minutes = (n: number) => n * 60_000;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const MiB = 2 ** 20;
const mib = (b: number) => b / MiB;

interface Homeserver {
  name: string;
  vps: Vps;
  ws: PulumiWorkspace;
  baseUrl: string;
  caFile: string;
  asToken: string;
  adminToken: string;
}

/** The application service whose puppets (@m<n>:name) fill the room; not rate limited. */
function registration(name: string, asToken: string): string {
  return ["id: trap-puppets", "url: null", `as_token: ${asToken}`, `hs_token: ${randomBytes(24).toString("hex")}`,
    "sender_localpart: trapbot", "rate_limited: false", "namespaces:", "  users:", "    - exclusive: true",
    `      regex: '@m[0-9]+:${name.replace(/\./g, "\\.")}'`, ""].join("\n");
}

/** tests/e2e/clients/big-room.mjs against one homeserver; resolves with its JSON line. */
function bigRoom(hs: Homeserver, env: Record<string, string>): Promise<{ room: string; seconds: Record<string, number> }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [path.join(root, "tests", "e2e", "clients", "big-room.mjs")], {
      cwd: root, env: { ...process.env, BASE_URL: hs.baseUrl, ADDRESS: hs.vps.host, CA_FILE: hs.caFile, AS_TOKEN: hs.asToken, SERVER: hs.name,
        MEMBERS: String(load.members), CONCURRENCY: String(load.concurrency), ...env },
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => { stdout += d; });
    child.stderr.on("data", (d) => { stderr += d; });
    const timer = setTimeout(() => child.kill("SIGKILL"), minutes(30));
    child.on("close", (code) => {
      clearTimeout(timer);
      if (code !== 0) reject(new Error(`big-room on ${hs.name} exited ${code}: ${stderr.slice(-3000)}`));
      else resolve(JSON.parse(stdout.trim().split("\n").pop()!));
    });
  });
}

/** Waits until autovacuum is done with the database: no worker for three samples, 5 s apart (at most 4 min). */
async function settle(vps: Vps): Promise<void> {
  const deadline = Date.now() + minutes(4);
  for (let quiet = 0; quiet < 3 && Date.now() < deadline; await sleep(5_000)) {
    const workers = Number(await psqlOn(vps)("SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'autovacuum worker';"));
    quiet = workers === 0 ? quiet + 1 : 0;
  }
}

interface Treatment { at: number; seconds: number; before: Sizes; after: Sizes; read: ProbeResult; pidKept: boolean; journal: string[] }

/**
 * The compressor's service as its timer starts it (ending with synapse-reclaim), while a client
 * reads the room (as `reader`, a member: the application service's user, or the admin).
 */
async function treat(hs: Homeserver, room: string, at: number, reader = hs.asToken): Promise<Treatment> {
  const pid = async () => (await hs.vps.sh("systemctl show -p MainPID --value matrix-synapse")).stdout.trim();
  const before = await sizes(hs.vps);
  const pidBefore = await pid();
  const since = (await hs.vps.sh("date '+%Y-%m-%d %H:%M:%S'")).stdout.trim();
  // Warmed first: the purge path and the state checks before it restart Synapse or empty its
  // caches, and a cold read of a 3,000-member room says nothing about the treatment (its time is
  // reported on its own).
  const probe = probeRoom({ vps: hs.vps, baseUrl: hs.baseUrl, caFile: hs.caFile, token: reader, room }, { warmUp: true });
  await probe.ready;
  const t0 = Date.now();
  const run = await hs.vps.sh("systemctl start synapse-compress-state.service", { allowFail: true });
  const seconds = (Date.now() - t0) / 1000;
  const read = await probe.stop();
  const journal = (await hs.vps.sh(`journalctl -u synapse-compress-state --since '${since}' --no-pager -o cat`)).stdout
    .split("\n").filter((l) => /^synapse-(compress-state|reclaim):/.test(l));
  if (run.code !== 0) throw new Error(`synapse-compress-state failed on ${hs.name} after ${at} state changes:\n${journal.join("\n")}\n${run.stderr}`);
  return { at, seconds, before, after: await sizes(hs.vps), read, pidKept: (await pid()) === pidBefore, journal };
}

/** f.test's admin joins a room on a.test over federation (the join brings the room's whole state). */
async function joinOverFederation(f: Homeserver, room: string): Promise<void> {
  const r = await f.vps.sh(`curl -sS -X POST -H @- -d '{}' 'http://127.0.0.1:8008/_matrix/client/v3/join/${encodeURIComponent(room)}?server_name=a.test'`,
    { stdin: `Authorization: Bearer ${f.adminToken}\n` });
  if (!JSON.parse(r.stdout).room_id) throw new Error(`f.test could not join ${room}: ${r.stdout}`);
}

/** Every room's history on a homeserver purged through the program's admin command; then Synapse's deferred deletion. */
async function purgeEverything(hs: Homeserver): Promise<{ rooms: number; pendingDeleted: number }> {
  const listed = await hs.vps.sh("curl -sf -H @- 'http://127.0.0.1:8008/_synapse/admin/v1/rooms?limit=1000'", { stdin: `Authorization: Bearer ${hs.adminToken}\n` });
  const rooms: string[] = JSON.parse(listed.stdout).rooms.map((r: { room_id: string }) => r.room_id);
  for (const room of rooms) {
    const r = await runAdmin(hs.ws, ["purge-history", room, "--before-days", "0", "--delete-local", "--yes", "--json"]);
    const said = r.code === 0 ? JSON.parse(r.stdout.trim().split("\n").pop()!) : undefined;
    if (said?.status !== "complete") throw new Error(`purge-history ${room} exited ${r.code}: ${r.stdout}\n${r.stderr}`);
  }
  // Synapse deletes the state groups a purge left unreferenced 10 minutes later (DELAY_BEFORE_DELETION_MS),
  // from a loop that runs every minute. The pending deletions are moved 10 minutes back instead of
  // waiting: the same loop then deletes them, with the same checks, as it would have.
  const psql = psqlOn(hs.vps);
  const pending = Number(await psql("SELECT count(*) FROM state_groups_pending_deletion;"));
  await psql("UPDATE state_groups_pending_deletion SET insertion_ts = insertion_ts - 600000;");
  for (const deadline = Date.now() + minutes(5); Date.now() < deadline; await sleep(5_000)) {
    if (Number(await psql("SELECT count(*) FROM state_groups_pending_deletion;")) === 0) return { rooms: rooms.length, pendingDeleted: pending };
  }
  throw new Error(`Synapse did not delete the ${pending} state groups the purge left unreferenced within 5 minutes`);
}

export async function trapScenario(): Promise<{ comparisons: Comparison[]; notes: string[]; extra: Record<string, unknown>; chart: object }> {
  const t0 = Date.now();
  const seconds: Record<string, number> = {};
  const lap = async <T>(what: string, fn: () => Promise<T>): Promise<T> => {
    const s = Date.now();
    try { return await fn(); } finally { seconds[what] = (Date.now() - s) / 1000; }
  };
  await buildCompressor();
  try {
    const [acme, treatedVps, untreatedVps, federatedVps] = await Promise.all([startAcme(VPS.acme),
      bootVps(VPS.treated, "packages"), bootVps(VPS.untreated, "packages"), bootVps(VPS.federated, "packages")]);
    for (const [name, vps] of [["a.test", treatedVps], ["matrix.a.test", treatedVps], ["f.test", federatedVps], ["matrix.f.test", federatedVps]] as const) {
      await acme.addA(name, vps.host);
    }
    await acme.useDns(treatedVps);
    await acme.useDns(federatedVps);
    await Promise.all([placeCompressor(treatedVps), placeCompressor(federatedVps)]);
    const caDir = fs.mkdtempSync(path.join(os.tmpdir(), "bench-trap-"));
    // A small rebuild threshold: these databases are tens of MiB (the default, 8 MiB, suits real ones).
    const maintained = { adminUser: "admin", stateCompressor: "true", reclaimMinMiB: "1" };
    const homeserver = async (name: string, vps: Vps, ws: PulumiWorkspace): Promise<Homeserver> => {
      const asToken = randomBytes(24).toString("hex");
      await ws.configSet("appServiceRegistrations[0]", registration(name, asToken), { secret: true, path: true });
      return { name, vps, ws, baseUrl: `https://matrix.${name}`, caFile: path.join(caDir, `${name}.pem`), asToken, adminToken: "" };
    };
    const a = await homeserver("a.test", treatedVps, await federatingStack(acme, treatedVps, "a.test", maintained));
    const f = await homeserver("f.test", federatedVps, await federatingStack(acme, federatedVps, "f.test", maintained));
    const u = await homeserver("u.test", untreatedVps, await devStack(untreatedVps, `bench-vps${VPS.untreated}-u.test`,
      { serverName: "u.test", adminUser: "admin", stateCompressor: "false", reclaimSpace: "false" }));
    const ups = await lap("pulumi up (three homeservers at once)", () => Promise.all([a, f, u].map((hs) => hs.ws.update("up"))));
    ups.forEach(expectClean);
    const issuing = await acme.issuingRoot();
    for (const hs of [a, f, u]) {
      hs.adminToken = (await hs.ws.outputs()).adminAccessToken;
      fs.writeFileSync(hs.caFile, hs === u ? (await u.vps.sh("cat /etc/synapse-deploy/tls/matrix/fullchain.pem")).stdout : issuing);
    }

    // The room on both, then the members in batches, side by side; f.test joins a.test's room once
    // they are in; then the changes. Sizes after every batch; a.test treated every 1,000 state changes.
    const made = await Promise.all([a, u].map((hs) => bigRoom(hs, { PHASES: "register", CHANGES: "0" })));
    const rooms = new Map<Homeserver, string>([[a, made[0].room], [u, made[1].room]]);
    const series: { changes: number; homeserver: string; databaseMiB: number; stateMiB: number }[] = [];
    const sample = async (changes: number, which: [Homeserver, string][]) => {
      for (const [hs, label] of which) {
        const s = await sizes(hs.vps);
        series.push({ changes, homeserver: label, databaseMiB: mib(s.dbBytes), stateMiB: mib(s.stateBytes) });
      }
    };
    const pair: [Homeserver, string][] = [[a, "treated (a.test)"], [u, "untreated (u.test)"]];
    const treatments: Treatment[] = [];
    let done = 0;
    // f.test's admin joins a.test's room over federation while it is new.
    const federatedBefore = await sizes(f.vps);
    const joinStarted = Date.now();
    await joinOverFederation(f, rooms.get(a)!);
    const federatedJoin = { seconds: (Date.now() - joinStarted) / 1000, before: federatedBefore, after: await sizes(f.vps) };
    const trio: [Homeserver, string][] = [...pair, [f, "federated (f.test), untreated until the end"]];
    await sample(0, trio);
    const batches: Record<string, string>[] = [
      ...Array.from({ length: load.members / load.batch }, (_, i) => ({ PHASES: "join", JOIN_FROM: String(i * load.batch), JOIN_TO: String((i + 1) * load.batch) })),
      ...Array.from({ length: load.changes / load.batch }, (_, i) => ({ PHASES: "displayname", CHANGE_FROM: String(i * load.batch), CHANGES: String(load.batch) })),
    ];
    await lap("the activity, side by side, with a.test's treatments", async () => {
      for (const batch of batches) {
        await Promise.all([a, u].map((hs) => bigRoom(hs, { ...batch, ROOM: rooms.get(hs)! })));
        done += load.batch;
        await sample(done, trio);
        if (done % load.treatEvery === 0 && done < load.members + load.changes) treatments.push(await treat(a, rooms.get(a)!, done));
      }
    });

    // f.test has every event of the room (federation delivers in the background), then all settle.
    const membershipEvents = (hs: Homeserver) => psqlOn(hs.vps)(`SELECT count(*) FROM state_events WHERE room_id = '${rooms.get(a)}' AND type = 'm.room.member';`);
    await lap("f.test catching up over federation", async () => {
      const want = await membershipEvents(a);
      for (const deadline = Date.now() + minutes(15); (await membershipEvents(f)) !== want; await sleep(5_000)) {
        if (Date.now() > deadline) throw new Error(`f.test has ${await membershipEvents(f)} of the room's ${want} membership events after 15 minutes`);
      }
    });
    // Settled, then the last treatment of a.test (state and what clients see checked around it),
    // and f.test's first.
    await lap("settling", () => Promise.all([a, u, f].map((hs) => settle(hs.vps))));
    const room = rooms.get(a)!;
    const access: RoomAccess = { vps: a.vps, baseUrl: a.baseUrl, caFile: a.caFile, token: a.asToken, room };
    const viewBefore = await roomAsSeenCold(access);
    const digestsBefore = await psqlOn(a.vps)(stateDigestsSql);
    const final = await treat(a, room, done);
    treatments.push(final);
    const stateKept = (await psqlOn(a.vps)(stateDigestsSql)) === digestsBefore;
    const viewKept = JSON.stringify(await roomAsSeenCold(access)) === JSON.stringify(viewBefore);
    if (!stateKept || !viewKept) throw new Error(`the treatment changed the room's state (database: ${stateKept ? "same" : "differs"}, clients: ${viewKept ? "same" : "differ"})`);
    const federated = await treat(f, room, done, f.adminToken);
    await lap("settling after the treatment", () => Promise.all([a, u].map((hs) => settle(hs.vps))));
    const treated = await sizes(a.vps);
    const untreated = await sizes(u.vps);
    await sample(done, trio);

    // The purge path on a.test: every room's history, Synapse's deferred deletion, the treatment.
    const beforePurge = treated;
    const purge1 = await lap("purge every room's history (and Synapse's deferred deletion)", () => purgeEverything(a));
    const afterPurge = await treat(a, room, done);
    // Then the order that breaks the compressor elsewhere: more activity, purge again, compress again.
    await bigRoom(a, { PHASES: "displayname", ROOM: room, CHANGE_FROM: String(load.changes), CHANGES: String(load.batch) });
    const purge2 = await purgeEverything(a);
    const again = await treat(a, room, done + load.batch);

    const ratio = (id: string, what: string, figure: [string, number], baseline: [string, number]) =>
      compare(what, measured(figure[0], "MiB", [mib(figure[1])]), measured(baseline[0], "MiB", [mib(baseline[1])]), id);
    const comparisons = [
      ratio("trap.state", "state tables on disk (state_groups_state, state_group_edges, state_groups)", ["treated", treated.stateBytes], ["untreated", untreated.stateBytes]),
      ratio("trap.database", "the whole database on disk", ["treated", treated.dbBytes], ["untreated", untreated.dbBytes]),
      ratio("trap.federated", "the federated homeserver's database, after its treatment against before", ["after", federated.after.dbBytes], ["before", federated.before.dbBytes]),
    ];
    const all = [...treatments, federated, afterPurge, again];
    const reads = all.reduce((n, t) => n + t.read.reads, 0);
    const failures = all.flatMap((t) => t.read.failures);
    const worst = Math.max(...all.map((t) => t.read.p99));
    const coldest = Math.max(...all.flatMap((t) => t.read.warmUp ?? []));
    const line = (s: Sizes) => `${s.stateRows} state rows in ${s.stateGroups} groups, state tables ${mib(s.stateBytes).toFixed(1)} MiB, database ${mib(s.dbBytes).toFixed(1)} MiB`;
    const notes = [
      `the activity, the same on both: ${load.members} puppets of an application service (registered through appServiceRegistrations, rate_limited: false) ` +
        `join one public room, then ${load.changes} displayname changes go round them (${load.concurrency} requests in flight per homeserver, through nginx and TLS); ` +
        `a.test treated after every ${load.treatEvery} state changes and once more after settling`,
      `untreated (u.test): ${line(untreated)}; treated (a.test): ${line(treated)}`,
      `treatments on a.test (compressor, then synapse-reclaim, while a client read the room): ` + treatments.map((t) =>
        `after ${t.at}: state ${mib(t.before.stateBytes).toFixed(1)} → ${mib(t.after.stateBytes).toFixed(1)} MiB, database ${mib(t.before.dbBytes).toFixed(1)} → ${mib(t.after.dbBytes).toFixed(1)} MiB in ${t.seconds.toFixed(1)} s`).join("; "),
      `no downtime: ${reads} reads of the room (its state and latest messages) during ${all.length} treatments, ${failures.length} failed` +
        `${failures.length ? ` (${failures.slice(0, 3).join("; ")})` : ""}, the slowest 1 % of each treatment's reads under ${worst} ms; Synapse's PID ` +
        `${all.every((t) => t.pidKept) ? "unchanged through every one" : "CHANGED"}. Before each treatment the client read the room once, ` +
        `timed apart (a purge or a restart had just emptied Synapse's caches before some): the slowest of those took ${coldest} ms`,
      `every state group of every room resolved to the same state before and after the last treatment, and a client saw the same room (its state and the state at 20 events over its history) with Synapse restarted before each look`,
      `the federated homeserver (f.test) joined a.test's room over federation while it was new (${federatedJoin.seconds.toFixed(1)} s) and followed every ` +
        `join and change, untreated until the end: ${line(federated.before)} → after its treatment ${line(federated.after)}. A join once the ` +
        `${load.members} members were in was refused ("Failed to make_join via any server"): rc_joins_per_room (1/s, burst 10) counts the puppets' joins too`,
      `the purge path on a.test: every room's history purged with npm run admin -- purge-history (${purge1.rooms} rooms), Synapse then deleted the ${purge1.pendingDeleted} state groups ` +
        `left unreferenced (its 10-minute delay moved back; its own loop deleted them); the treatment took the database ${mib(beforePurge.dbBytes).toFixed(1)} → ${mib(afterPurge.after.dbBytes).toFixed(1)} MiB. ` +
        "This room's history is all state events, which a purge keeps (as outliers, for state resolution): the bytes a purge gives back are measured where rooms have messages, in the growth scenario",
      `then ${load.batch} more changes, a second purge (${purge2.pendingDeleted} state groups deleted) and a second compressor run: it ran to the end (the compressor's progress for rooms a purge ` +
        `deleted groups of is reset first; synapse_auto_compressor otherwise stops with "Missing N"): ${again.journal.filter((l) => /reset|removed|synapse-reclaim: database/.test(l)).join(" / ")}`,
      `the scenario took ${((Date.now() - t0) / 60_000).toFixed(1)} min (${Object.entries(seconds).map(([w, s]) => `${w} ${s.toFixed(0)} s`).join(", ")})`,
    ];
    const chart = {
      title: "The trap and the cure: database size over the activity",
      data: { values: series },
      transform: [{ fold: ["databaseMiB", "stateMiB"], as: ["what", "MiB"] }],
      facet: { column: { field: "what", type: "nominal", title: null, header: { labelExpr: "datum.label == 'databaseMiB' ? 'the whole database' : 'state tables'" } } },
      spec: {
        width: 340, height: 240,
        mark: { type: "line", point: true },
        encoding: {
          x: { field: "changes", type: "quantitative", title: "state changes (joins, then displayname changes)" },
          y: { field: "MiB", type: "quantitative", title: "MiB on disk" },
          color: { field: "homeserver", type: "nominal", title: null, legend: { orient: "bottom" } },
        },
      },
      resolve: { scale: { y: "independent" } },
    };
    return {
      comparisons, notes, chart,
      extra: { load, series, treatments, federatedJoin, federated, untreated, treated, purge: { before: beforePurge, after: afterPurge, purge1, purge2, again }, seconds },
    };
  } finally {
    await downVps(VPS.acme, VPS.treated, VPS.untreated, VPS.federated);
  }
}
