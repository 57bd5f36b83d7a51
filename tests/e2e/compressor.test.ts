// End-to-end: state compression on a homeserver made with the default config. The first
// `pulumi up` starts the compressor's build in the background; a real client (matrix-js-sdk)
// makes state-heavy activity meanwhile; then the compressor's service runs as its timer would,
// and every room's state is the same before and after: the full state of every state group in
// the database, and what clients see (/state, /messages, /context). Re-applying never rebuilds.
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { downVps } from "../sandbox/sandbox";
import { PulumiWorkspace, repoRoot } from "./support/pulumi";
import { suiteNeeding } from "./support/requirements";
import { stateDigestsSql } from "./support/state";
import { bootVps, changes, devStack, expectClean, figure, httpsClient, outputDir, record, runAdmin, timed, Vps } from "./support/stack";

const suite = suiteNeeding("sandbox", "engine");
const minutes = (n: number) => n * 60_000;
const N = 14;
const server = "sandbox.test";
const matrix = `https://matrix.${server}`;
const dir = path.join(outputDir, `vps${N}-state-compressor`);

let vps: Vps;
let ws: PulumiWorkspace;
let https: Awaited<ReturnType<typeof httpsClient>>;
let adminToken: string;
let rooms: string[] = [];

const psql = async (sql: string) => (await vps.sh(`runuser -u postgres -- psql -XAt -F ' ' -d synapse`, { stdin: sql })).stdout.trim();
const stateRows = async () => Number(await psql("SELECT count(*) FROM state_groups_state;"));
/** What the compressor must not change: every state group's full state, a digest per room. */
const stateDigests = () => psql(stateDigestsSql);
const unit = async (name: string, props: string) => Object.fromEntries((await vps.sh(`systemctl show ${props.split(",").map((p) => `-p ${p}`).join(" ")} ${name}`))
  .stdout.trim().split("\n").map((l) => l.split(/=(.*)/s).slice(0, 2)));

const adminCli = (args: string[]) => runAdmin(ws, args);

async function get(url: string): Promise<any> {
  const r = await https.get(url, adminToken);
  if (r.status !== 200) throw new Error(`GET ${url}: ${r.status} ${r.text}`);
  return r.json();
}

/**
 * What clients see of each room: current state, the whole timeline, and the state at every 5th
 * event of it (`/context` reads the state at that event, which is what the compressor rewrites).
 * Synapse is restarted first, so nothing comes from the caches it filled before: every state
 * group is read from the database.
 */
async function clientViews(): Promise<Record<string, unknown>> {
  await vps.sh("systemctl restart matrix-synapse && for i in $(seq 90); do curl -fs -o /dev/null http://127.0.0.1:8008/health && exit 0; sleep 1; done; exit 1");
  const views: Record<string, unknown> = {};
  for (const room of rooms) {
    const r = encodeURIComponent(room);
    const state = (await get(`${matrix}/_matrix/client/v3/rooms/${r}/state`)).map((e: any) => e.event_id).sort();
    const messages = (await get(`${matrix}/_matrix/client/v3/rooms/${r}/messages?dir=b&limit=1000`)).chunk.map((e: any) => [e.event_id, e.type, e.content]);
    const contexts = [];
    for (const [eventId] of messages.filter((_: unknown, i: number) => i % 5 === 0)) {
      const c = await get(`${matrix}/_matrix/client/v3/rooms/${r}/context/${encodeURIComponent(eventId)}?limit=0`);
      contexts.push([eventId, c.state.map((e: any) => e.event_id).sort()]);
    }
    views[room] = { state, messages, contexts };
  }
  return views;
}

/** The real client's state churn (clients/state-churn.mjs). */
async function stateChurn(env: Record<string, string>): Promise<{ rooms: string[]; stateEvents: number; seconds: number }> {
  const child = spawn(process.execPath, [path.join(__dirname, "clients", "state-churn.mjs")], {
    cwd: repoRoot, env: { ...process.env, BASE_URL: matrix, ADDRESS: vps.host, CA_FILE: path.join(dir, "ca.pem"), ADMIN_TOKEN: adminToken, SERVER: server, ...env },
  });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (d) => { stdout += d; });
  child.stderr.on("data", (d) => { stderr += d; });
  const timer = setTimeout(() => child.kill("SIGKILL"), minutes(8));
  const code = await new Promise<number | null>((resolve) => child.on("close", resolve));
  clearTimeout(timer);
  if (code !== 0) throw new Error(`state-churn exited ${code}: ${stderr}\n${stdout}`);
  return JSON.parse(stdout.trim().split("\n").pop()!);
}

suite("state compression on a homeserver with the default config", () => {
  beforeAll(async () => {
    vps = await bootVps(N, "base");
    ws = await devStack(vps, `vps${N}-state-compressor`, { adminUser: "admin", stateCompressor: "true" });
    // The churn client makes its users through the admin API, from the sandbox's host.
    await ws.configSet("adminAllowedNetworks[0]", `10.231.${N}.1/32`, { path: true });
  }, minutes(5));

  afterAll(async () => {
    https?.close();
    if (process.env.E2E_KEEP !== "1") await downVps(N);
  }, minutes(2));

  test("s1. the first up starts the build in the background; state-heavy activity runs meanwhile; the build finishes once", () => timed("s1 compressor build and state churn", async () => {
    const t0 = Date.now();
    expectClean(await ws.update("up"));
    record("compressor", "first pulumi up (the build in the background)", (Date.now() - t0) / 1000);
    figure("compressor.first-up", (Date.now() - t0) / 1000, "the first pulumi up with the compressor on (its build in the background)", "s");
    const out = await ws.outputs();
    expect(out.stateCompressor).toMatch(/^synapse_auto_compressor 0\.1\.4: build started in the background/);
    https = await httpsClient(vps);
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, "ca.pem"), https.ca);
    adminToken = out.adminAccessToken;
    expect(["activating", "inactive"]).toContain((await unit("synapse-compressor-build", "ActiveState")).ActiveState);
    // The timer is waiting for its first monthly run.
    expect((await vps.sh("systemctl is-enabled synapse-compress-state.timer")).stdout.trim()).toBe("enabled");

    const churn = await stateChurn({ ROOMS: "4", MEMBERS: "40", ROUNDS: "75" });
    rooms = churn.rooms;
    // In the database: per room 40 joins, and per round a topic, a power-level change, a leave and
    // a rejoin (besides the one power-levels event every new room has).
    const inRooms = rooms.map((r) => `'${r}'`).join(",");
    const churned = Number(await psql(`SELECT count(*) FROM state_events WHERE room_id IN (${inRooms})
      AND ((type = 'm.room.member' AND state_key LIKE '@churn%') OR type IN ('m.room.topic', 'm.room.power_levels'));`));
    expect(churned - rooms.length).toBe(4 * (40 + 75 * 4));
    record("compressor", `state churn: ${churn.stateEvents} state events from a real client`, churn.seconds);
    figure("compressor.churn.state-events", churned - rooms.length, "state events the churn client made (counted in the database)");

    // The build: one run of its unit, at idle priority, that ends in success.
    const deadline = Date.now() + minutes(20);
    let build = await unit("synapse-compressor-build", "ActiveState,Result");
    while (build.ActiveState === "activating" && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 10_000));
      build = await unit("synapse-compressor-build", "ActiveState,Result");
    }
    const journal = (await vps.sh("journalctl -u synapse-compressor-build --no-pager -o cat")).stdout;
    fs.writeFileSync(path.join(dir, "build.log"), journal);
    expect(build).toEqual({ ActiveState: "inactive", Result: "success" });
    const built = journal.match(/^synapse-compressor-build: built (\S+) \((\d+) bytes\) in (\d+) s$/m);
    expect(built).not.toBeNull();
    record("compressor", "the build in the background (its own log)", Number(built![3]));
    figure("compressor.build", Number(built![3]), "the compressor's build in the background (its own log)", "s");
    expect((await vps.sh(`${built![1]} --version`)).stdout).toMatch(/^synapse_auto_compressor 0\.1\.4/);
    expect(journal.match(/building synapse_auto_compressor/g)).toHaveLength(1);
    // Idle CPU and I/O scheduling (policy 5 is SCHED_IDLE, class 3 is idle).
    expect(await unit("synapse-compressor-build", "Nice,CPUSchedulingPolicy,IOSchedulingClass"))
      .toEqual({ Nice: "19", CPUSchedulingPolicy: "5", IOSchedulingClass: "3" });
    // The build tree and its crates are gone; the binary stays.
    expect((await vps.sh("test -e /var/cache/synapse-deploy/compressor-build && echo present || echo gone")).stdout.trim()).toBe("gone");
  }), minutes(30));

  test("s2. the compressor's service removes state rows; every room's state is identical before and after, in the database and for clients", () => timed("s2 state compression", async () => {
    expect(rooms).toHaveLength(4);
    const rowsBefore = await stateRows();
    const groupsBefore = Number(await psql("SELECT count(*) FROM state_groups;"));
    const digestsBefore = await stateDigests();
    const viewsBefore = await clientViews();
    const since = (await vps.sh("date '+%Y-%m-%d %H:%M:%S'")).stdout.trim();
    const t0 = Date.now();
    await vps.sh("systemctl start synapse-compress-state.service");
    record("compressor", "synapse-compress-state run (compressor + VACUUM ANALYZE)", (Date.now() - t0) / 1000);
    figure("compressor.run", (Date.now() - t0) / 1000, "one synapse-compress-state run (compressor and VACUUM ANALYZE)", "s");
    const journal = (await vps.sh(`journalctl -u synapse-compress-state --since '${since}' --no-pager -o cat`)).stdout;
    fs.writeFileSync(path.join(dir, "compress-state.log"), journal);

    const rowsAfter = await stateRows();
    const digestsAfter = await stateDigests();
    fs.writeFileSync(path.join(dir, "state.json"), JSON.stringify({ rowsBefore, rowsAfter, groupsBefore, digestsBefore, digestsAfter }, null, 2) + "\n");
    expect(journal).toMatch(new RegExp(`^synapse-compress-state: before: ${rowsBefore} state rows, ${groupsBefore} state groups, state tables [\\d.]+ MiB, database [\\d.]+ MiB$`, "m"));
    expect(journal).toMatch(new RegExp(`^synapse-compress-state: after: ${rowsAfter} state rows, ${groupsBefore} state groups, `, "m"));
    expect(journal).toMatch(new RegExp(`^synapse-compress-state: removed ${rowsBefore - rowsAfter} state rows \\([\\d.]+%\\) in \\d+ s$`, "m"));
    expect(rowsAfter).toBeLessThan(rowsBefore);
    // Every state group of every room resolves to the same full state.
    expect(digestsAfter).toBe(digestsBefore);
    expect(digestsBefore.split("\n").length).toBeGreaterThanOrEqual(4);
    expect(await clientViews()).toEqual(viewsBefore);
    // The compressor's own tables belong to Synapse's role, like the rest.
    expect(await psql("SELECT DISTINCT tableowner FROM pg_tables WHERE tablename LIKE 'state_compressor%';")).toBe("synapse_user");

    // The rooms still work: a new message, read back.
    const r = encodeURIComponent(rooms[0]);
    const sent = await https.put(`${matrix}/_matrix/client/v3/rooms/${r}/send/m.room.message/after-compression`, { msgtype: "m.text", body: "after compression" }, adminToken);
    expect(sent.status).toBe(200);
    const latest = await get(`${matrix}/_matrix/client/v3/rooms/${r}/messages?dir=b&limit=1`);
    expect(latest.chunk[0].content.body).toBe("after compression");

    // The report's numbers are real ones.
    const report = JSON.parse((await vps.sh("synapse-db-report --json")).stdout);
    expect(report.stateGroups).toBe(groupsBefore);
    expect(report.roomsByStateGroups.map((x: [string, number]) => x[0])).toEqual(expect.arrayContaining(rooms));
    record("compressor-rows", `state rows before / after (${groupsBefore} state groups)`, rowsBefore);
    record("compressor-rows", "state rows after", rowsAfter);
    figure("compressor.state-groups", groupsBefore, "state groups the churn made");
    figure("compressor.rows.before", rowsBefore, "state_groups_state rows before the compressor's run");
    figure("compressor.rows.after", rowsAfter, "state_groups_state rows after it");
    figure("compressor.rows.removed", rowsBefore - rowsAfter, "state rows the run removed");
    figure("compressor.rows.removed-percent", (100 * (rowsBefore - rowsAfter)) / rowsBefore, "the share of state rows it removed", "%");
  }), minutes(15));

  test("s3. re-applying never rebuilds the compressor nor resets its timer", () => timed("s3 compressor re-apply", async () => {
    const binary = (await vps.sh("awk -F= '/^binary=/ { print $2 }' /etc/synapse-deploy/compressor-build.conf")).stdout.trim();
    const before = {
      binary: (await vps.sh(`stat -c '%i %Y' ${binary}`)).stdout.trim(),
      build: await unit("synapse-compressor-build", "ExecMainStartTimestampMonotonic"),
      timer: await unit("synapse-compress-state.timer", "NextElapseUSecRealtime,LastTriggerUSec"),
    };
    const same = await ws.update("up");
    expectClean(same);
    expect(changes(same)).toEqual([]);
    // A changed setting re-runs the timer's install, and only that.
    await ws.configSet("stateCompressorChunks", "20");
    const changed = await ws.update("up");
    expectClean(changed);
    expect(changes(changed)).toEqual(["maintenance-compressor-timer-conf:update", "maintenance-compressor-timer:update"]);
    expect((await vps.sh("grep ^chunks= /etc/synapse-deploy/compress-state.conf")).stdout.trim()).toBe("chunks=20");
    // The build script, run again by hand, finds its binary.
    expect((await vps.sh("synapse-compressor-build")).stdout).toBe(`synapse-compressor-build: already built: ${binary}\n`);
    expect({
      binary: (await vps.sh(`stat -c '%i %Y' ${binary}`)).stdout.trim(),
      build: await unit("synapse-compressor-build", "ExecMainStartTimestampMonotonic"),
      timer: await unit("synapse-compress-state.timer", "NextElapseUSecRealtime,LastTriggerUSec"),
    }).toEqual(before);
  }), minutes(10));

  test("s4. npm run admin, from the user's checkout: the database report and a compressor run, over the stack's SSH connection", () => timed("s4 admin commands", async () => {
    const report = await adminCli(["db-report", "--json"]);
    expect(report).toMatchObject({ code: 0, stderr: "" });
    const json = JSON.parse(report.stdout);
    expect(json.stateGroups).toBe(Number(await psql("SELECT count(*) FROM state_groups;")));
    expect(json.stateGroupsStateRows).toBeGreaterThan(0);
    const people = await adminCli(["db-report"]);
    expect(people.code).toBe(0);
    expect(people.stdout).toContain("rooms with the most state groups:");
    const rows = await stateRows();
    const run = await adminCli(["compress-state"]);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(new RegExp(`^synapse-compress-state: before: ${rows} state rows, `, "m"));
    expect(run.stdout).toMatch(/^synapse-compress-state: removed \d+ state rows \([\d.]+%\) in \d+ s$/m);
  }), minutes(10));

  test("s5. synadm, installed for root, through npm run admin: users, a history purge polled to its end, a GDPR deactivation, clear errors", () => timed("s5 synadm", async () => {
    // On the host, right after pulumi up, as root.
    const onHost = JSON.parse((await vps.sh("synadm -o json user list")).stdout);
    expect(onHost.users.map((u: any) => u.name)).toEqual(expect.arrayContaining([`@admin:${server}`, `@churn0:${server}`]));
    expect((await vps.sh("stat -c '%a %U' /root/.config/synadm.yaml")).stdout.trim()).toBe("600 root");

    const list = await adminCli(["synadm", "user", "list", "--json"]);
    expect(list.code).toBe(0);
    expect(JSON.parse(list.stdout).total).toBe(onHost.total);
    // An unknown user: synadm prints Synapse's error and exits 0; the admin command fails.
    const unknown = await adminCli(["synadm", "user", "details", `@nobody:${server}`]);
    expect(unknown.code).toBe(1);
    expect(unknown.stdout).toContain("M_NOT_FOUND");
    expect(unknown.stderr).toContain("admin: Synapse answered 404: no such user, room or media");

    // A purge of one room's history, polled to its end: its old messages are gone, the room works.
    const room = rooms[1];
    const r = encodeURIComponent(room);
    const messagesIn = async () => (await get(`${matrix}/_matrix/client/v3/rooms/${r}/messages?dir=b&limit=1000`)).chunk
      .filter((e: any) => e.type === "m.room.message").length;
    expect(await messagesIn()).toBe(75);
    const refused = await adminCli(["purge-history", room, "--before-days", "0"]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain("admin: this cannot be undone and there is no terminal to confirm on: add --yes");
    const purge = await adminCli(["purge-history", room, "--before-days", "0", "--delete-local", "--yes", "--json"]);
    expect(purge.code).toBe(0);
    expect(JSON.parse(purge.stdout)).toMatchObject({ room, status: "complete" });
    expect(await messagesIn()).toBeLessThanOrEqual(1); // Synapse keeps the room's latest event
    const sent = await https.put(`${matrix}/_matrix/client/v3/rooms/${r}/send/m.room.message/after-purge`, { msgtype: "m.text", body: "after purge" }, adminToken);
    expect(sent.status).toBe(200);

    // A GDPR deactivation, confirmed with --yes; the account is gone for good.
    const deactivate = await adminCli(["synadm", "user", "deactivate", `@churn0:${server}`, "--gdpr-erase", "--yes"]);
    expect(deactivate.code).toBe(0);
    const details = JSON.parse((await vps.sh(`synadm -o json user details @churn0:${server}`)).stdout);
    expect(details.deactivated).toBe(true);
    expect(details.erased).toBe(true);

    // Synapse down: said plainly, with its own exit status; then back.
    await vps.sh("systemctl stop matrix-synapse");
    const down = await adminCli(["synadm", "user", "list"]);
    await vps.sh("systemctl start matrix-synapse && for i in $(seq 60); do curl -fs http://127.0.0.1:8008/health && exit 0; sleep 1; done; exit 1");
    expect(down.code).toBe(69);
    expect(down.stderr).toContain("admin: Synapse is not answering on the host");
  }), minutes(10));

  test("s6. backups: none yet, then one run through npm run admin (0600 files, a dump that restores, local media mirrored), then only new media", () => timed("s6 backups", async () => {
    expect((await vps.sh("systemctl is-enabled synapse-backup.timer")).stdout.trim()).toBe("enabled");
    const none = await adminCli(["backup-status"]);
    expect(none.code).toBe(1);
    expect(none.stderr).toContain("synapse-backup: no backup has succeeded on this host yet");
    // A file in the local media store.
    const bytes = Buffer.from(`backed up ${Date.now()}\n`.repeat(100));
    const up = await https.upload(`${matrix}/_matrix/media/v3/upload?filename=b.txt`, bytes, "text/plain", adminToken);
    expect(up.status).toBe(200);

    const first = await adminCli(["backup-now"]);
    expect(first.code).toBe(0);
    expect(first.stdout).toMatch(/^synapse-backup: backup \d{8}T\d{6}Z: database [\d.]+ MiB \(\d+ tables\), signing key, config, deploy state; media: [1-9]\d* new of \d+ files; 1 runs kept; \d+ s$/m);
    const status = JSON.parse((await adminCli(["backup-status", "--json"])).stdout);
    expect(status.ageSeconds).toBeLessThan(120);
    const run = status.run as string;
    expect((await vps.sh(`stat -c '%a %U' /var/backups/synapse-deploy ${run} ${run}/*`)).stdout.trim().split("\n"))
      .toEqual(["700 root", "700 root", ...Array(6).fill("600 root")]);
    expect((await vps.sh(`cmp ${run}/signing.key /etc/matrix-synapse/homeserver.signing.key && cd ${run} && sha256sum -c --quiet SHA256SUMS && echo ok`)).stdout.trim()).toBe("ok");
    // The dump restores: into a scratch database, with the same events as the live one (root reads
    // the 0600 dump; PostgreSQL's user gets it on stdin).
    const events = "SELECT count(*) FROM events";
    await vps.sh(`runuser -u postgres -- createdb -T template0 -E UTF8 --lc-collate=C --lc-ctype=C restore_check && runuser -u postgres -- pg_restore --no-owner -d restore_check < ${run}/synapse.dump`);
    const restored = Number((await vps.sh(`runuser -u postgres -- psql -XAtc "${events}" restore_check`)).stdout.trim());
    await vps.sh("runuser -u postgres -- dropdb restore_check");
    expect(restored).toBeGreaterThan(1000);
    expect(restored).toBeLessThanOrEqual(Number(await psql(`${events};`)));
    // The uploaded file is in the media mirror, byte for byte, where Synapse keeps it
    // (local_content/<2>/<2>/<rest of the media ID>).
    const mediaId = String(up.json().content_uri).split("/").pop()!;
    const stored = `local_content/${mediaId.slice(0, 2)}/${mediaId.slice(2, 4)}/${mediaId.slice(4)}`;
    const mirrored = (await vps.sh(`sha256sum /var/backups/synapse-deploy/media/${stored}`)).stdout.split(" ")[0];
    expect(mirrored).toBe(require("node:crypto").createHash("sha256").update(bytes).digest("hex"));

    const second = await adminCli(["backup-now"]);
    expect(second.code).toBe(0);
    expect(second.stdout).toMatch(/media: 0 new of \d+ files; 2 runs kept/);
  }), minutes(10));

  test("s7. npm run admin -- restore puts a kept run back in place: asked first, the current state backed up first, what came after the backup gone", () => timed("s7 restore in place", async () => {
    const room = (await https.post(`${matrix}/_matrix/client/v3/createRoom`, { name: "in place" }, adminToken)).json().room_id as string;
    const send = (txn: string, body: string) =>
      https.put(`${matrix}/_matrix/client/v3/rooms/${encodeURIComponent(room)}/send/m.room.message/${txn}`, { msgtype: "m.text", body }, adminToken);
    const roomBodies = async () => (await get(`${matrix}/_matrix/client/v3/rooms/${encodeURIComponent(room)}/messages?dir=b&limit=50`))
      .chunk.filter((e: any) => e.type === "m.room.message").map((e: any) => e.content.body);
    expect((await send("before", "before the backup")).status).toBe(200);
    expect((await adminCli(["backup-now"])).code).toBe(0);
    const list = JSON.parse((await adminCli(["backup-list", "--json"])).stdout);
    expect(list).toMatchObject({ offsite: [], offsiteConfigured: false });
    const run: string = list.local.at(-1);
    expect((await send("after", "after the backup")).status).toBe(200);

    // Without a terminal, nothing happens unless --yes.
    const unconfirmed = await adminCli(["restore", run]);
    expect(unconfirmed.code).toBe(1);
    expect(await roomBodies()).toContain("after the backup");
    const t0 = Date.now();
    const r = await adminCli(["restore", run, "--yes"]);
    expect(r.code).toBe(0);
    record("restore", "in place: npm run admin -- restore <run> (safety backup, restore, Synapse healthy)", (Date.now() - t0) / 1000);
    figure("restore.in-place", (Date.now() - t0) / 1000, "npm run admin -- restore <run>, from the command to Synapse answering again", "s");
    expect(r.stdout).toMatch(new RegExp(`^restored run ${run} from ${run}: \\d+ events, \\d+ users, \\d+ media files; signing key ed25519:a_\\w+; secrets identical to the backup's$`, "m"));
    // The state it replaced is a run of its own now.
    expect(JSON.parse((await adminCli(["backup-list", "--json"])).stdout).local).toHaveLength(list.local.length + 1);
    // Synapse runs on the restored database: what came after the backup is gone, the room takes new messages.
    expect((await vps.sh("systemctl is-active matrix-synapse")).stdout.trim()).toBe("active");
    const after = await roomBodies();
    expect(after).toContain("before the backup");
    expect(after).not.toContain("after the backup");
    expect((await send("again", "after the restore")).status).toBe(200);
    expect(await roomBodies()).toContain("after the restore");
  }), minutes(10));
});
