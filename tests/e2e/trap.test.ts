// End-to-end: the database trap, as it bites, and closed in bytes on disk while Synapse serves.
// One public room grows big the way real ones do: puppets of an application service registered
// through the stack's config join it, then change their displaynames (each a state event, each
// a new state group, a full copy of the room's state every 100). Then the compressor's service runs
// as its timer would, and ends with synapse-reclaim, which rebuilds the bloated tables online with
// pg_repack while a client keeps reading the room. Checked: the state tables' bytes on disk go
// down, no read fails or waits, Synapse is never restarted by it, and every state group resolves
// to the same state (in the database, and for clients with Synapse's caches cold).
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { compressorBinary } from "../../render/compressor";
import { downVps } from "../sandbox/sandbox";
import { placeCompressor } from "./support/compressor";
import { PulumiWorkspace, repoRoot } from "./support/pulumi";
import { suiteNeeding } from "./support/requirements";
import { bootVps, devStack, expectClean, figure, httpsClient, outputDir, record, timed, Vps } from "./support/stack";
import { probeRoom, RoomAccess, roomAsSeenCold } from "./support/roomReader";
import { psqlOn, sizes, Sizes, stateDigestsSql } from "./support/state";

const suite = suiteNeeding("sandbox", "engine", "cargo");
const minutes = (n: number) => n * 60_000;
const N = 16;
const server = "sandbox.test";
const matrix = `https://matrix.${server}`;
const dir = path.join(outputDir, `vps${N}-trap`);
/** The room: members and displayname changes (≥ 1,500 each: the trap shows above ~1,000). */
const MEMBERS = Number(process.env.TRAP_MEMBERS ?? 1500);
const CHANGES = Number(process.env.TRAP_CHANGES ?? 1500);
const asToken = randomBytes(24).toString("hex");

let vps: Vps;
let ws: PulumiWorkspace;
let room: string;
let caFile: string;

/** The application service the test registers: puppets @m<n>:server, not rate limited. */
const registration = () => [
  "id: trap-puppets", "url: null", `as_token: ${asToken}`, `hs_token: ${randomBytes(24).toString("hex")}`,
  "sender_localpart: trapbot", "rate_limited: false",
  "namespaces:", "  users:", "    - exclusive: true", `      regex: '@m[0-9]+:${server.replace(".", "\\.")}'`, "",
].join("\n");

/** tests/e2e/clients/big-room.mjs: the puppets join, then change their displaynames. */
async function bigRoom(env: Record<string, string>): Promise<{ room: string; seconds: Record<string, number> }> {
  const child = spawn(process.execPath, [path.join(__dirname, "clients", "big-room.mjs")], {
    cwd: repoRoot, env: { ...process.env, BASE_URL: matrix, ADDRESS: vps.host, CA_FILE: caFile, AS_TOKEN: asToken, SERVER: server, ...env },
  });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (d) => { stdout += d; });
  child.stderr.on("data", (d) => { stderr += d; });
  const timer = setTimeout(() => child.kill("SIGKILL"), minutes(15));
  const code = await new Promise<number | null>((resolve) => child.on("close", resolve));
  clearTimeout(timer);
  fs.writeFileSync(path.join(dir, "big-room.log"), stderr);
  if (code !== 0) throw new Error(`big-room exited ${code}: ${stderr.slice(-3000)}\n${stdout}`);
  return JSON.parse(stdout.trim().split("\n").pop()!);
}

suite("the database trap: a big room, and its state tables rebuilt online", () => {
  beforeAll(async () => {
    vps = await bootVps(N, "packages");
    // The compressor is built once per recipe beforehand (globalSetup): its install step finds it.
    await placeCompressor(vps);
    // A small test database: rebuild a table from 1 MiB reclaimable (the default, 8 MiB, suits real ones).
    // Rooms no local user is in are deleted after a second here (30 days by default): t3 watches it.
    ws = await devStack(vps, `vps${N}-trap`, { adminUser: "admin", stateCompressor: "true", reclaimMinMiB: "1", emptyRoomRetention: "1s" });
    await ws.configSet("appServiceRegistrations[0]", registration(), { secret: true, path: true });
    fs.mkdirSync(dir, { recursive: true });
  }, minutes(5));

  afterAll(async () => {
    if (process.env.E2E_KEEP !== "1") await downVps(N);
  }, minutes(2));

  test("t1. an application service's puppets fill a public room: members and displayname changes, state groups piling up", () => timed("t1 a big room", async () => {
    expectClean(await ws.update("up"));
    expect(String((await ws.outputs()).stateCompressor)).toContain(`built: ${compressorBinary()}`);
    const https = await httpsClient(vps);
    caFile = path.join(dir, "ca.pem");
    fs.writeFileSync(caFile, https.ca);
    https.close();
    const made = await bigRoom({ MEMBERS: String(MEMBERS), CHANGES: String(CHANGES), CONCURRENCY: process.env.TRAP_CONCURRENCY ?? "4" });
    room = made.room;
    for (const [phase, seconds] of Object.entries(made.seconds)) record("trap", `${phase} (${MEMBERS} members, ${CHANGES} changes)`, seconds);
    const psql = psqlOn(vps);
    const counted = (await psql(`SELECT (SELECT count(*) FROM room_memberships WHERE room_id = '${room}' AND membership = 'join'),
      (SELECT count(*) FROM state_events WHERE room_id = '${room}' AND type = 'm.room.member')`)).split(" ").map(Number);
    // Every member joined once, and every change is a membership event of its own.
    expect(counted[0]).toBeGreaterThanOrEqual(MEMBERS);
    expect(counted[1]).toBeGreaterThanOrEqual(MEMBERS + CHANGES);
  }), minutes(12));

  test("t2. the compressor and the online rebuild give the bytes back while a client reads the room: no failed read, the same state", () => timed("t2 the trap closed online", async () => {
    const psql = psqlOn(vps);
    const access: RoomAccess = { vps, baseUrl: matrix, caFile, token: asToken, room };
    const viewBefore = await roomAsSeenCold(access);
    expect(viewBefore.state.length).toBeGreaterThan(MEMBERS);
    const before: Sizes = await sizes(vps);
    const digestsBefore = await psql(stateDigestsSql);
    const pid = (await vps.sh("systemctl show -p MainPID --value matrix-synapse")).stdout.trim();
    const since = (await vps.sh("date '+%Y-%m-%d %H:%M:%S'")).stdout.trim();
    const reader = probeRoom(access);
    const t0 = Date.now();
    await vps.sh("systemctl start synapse-compress-state.service");
    const treatment = (Date.now() - t0) / 1000;
    const read = await reader.stop();
    const journal = (await vps.sh(`journalctl -u synapse-compress-state --since '${since}' --no-pager -o cat`)).stdout;
    fs.writeFileSync(path.join(dir, "treatment.log"), journal);
    const after: Sizes = await sizes(vps);
    fs.writeFileSync(path.join(dir, "sizes.json"), JSON.stringify({ before, after, read, treatment }, null, 2) + "\n");

    // The rebuild ran online and gave the bytes back.
    expect(journal).toMatch(/^synapse-reclaim: state_groups_state: .* rebuilt online: /m);
    expect(after.stateRows).toBeLessThan(before.stateRows);
    expect(after.stateBytes).toBeLessThan(before.stateBytes * 0.5);
    expect(after.dbBytes).toBeLessThan(before.dbBytes);
    // Nothing pg_repack needed is left behind: a dump restores on a host without it.
    expect(await psql("SELECT count(*) FROM pg_extension WHERE extname IN ('pg_repack', 'pgstattuple');")).toBe("0");
    expect(await psql("SELECT count(*) FROM pg_indexes WHERE indexname = 'synapse_deploy_repack_key';")).toBe("0");
    // No downtime: every read answered, none slow, and Synapse never restarted.
    expect(read.reads).toBeGreaterThanOrEqual(Math.floor(treatment));
    expect(read.failures).toEqual([]);
    expect(read.p99).toBeLessThan(2000);
    expect((await vps.sh("systemctl show -p MainPID --value matrix-synapse")).stdout.trim()).toBe(pid);
    // Every state group of every room resolves to the same full state, and clients see the same
    // room from Synapse with its caches cold.
    expect(await psql(stateDigestsSql)).toBe(digestsBefore);
    expect(await roomAsSeenCold(access)).toEqual(viewBefore);

    figure("trap.e2e.members", MEMBERS, "members of the e2e trap scenario's room");
    figure("trap.e2e.changes", CHANGES, "displayname changes in it");
    figure("trap.e2e.state-before", before.stateBytes / 2 ** 20, "state tables before the treatment (e2e)", "MiB");
    figure("trap.e2e.state-after", after.stateBytes / 2 ** 20, "state tables after it (e2e)", "MiB");
    figure("trap.e2e.treatment", treatment, "compressor and online rebuild (e2e)", "s");
    figure("trap.e2e.probe-p99", read.p99, "slowest 1 % of the reads during the treatment (e2e)", "ms");
  }), minutes(8));

  test("t3. a room no local user is in any more is deleted from the database by its timer's service", () => timed("t3 empty rooms deleted", async () => {
    const as = (method: string, p: string, body: unknown, userId: string) => vps.sh(
      `curl -fsS -X ${method} -H @- -H 'Content-Type: application/json' -d @/dev/fd/3 'http://127.0.0.1:8008/_matrix/client/v3${p}?user_id=${encodeURIComponent(userId)}' 3<<'JSON'\n${JSON.stringify(body)}\nJSON`,
      { stdin: `Authorization: Bearer ${asToken}\n` });
    const left = JSON.parse((await as("POST", "/createRoom", { name: "left behind" }, `@m0:${server}`)).stdout).room_id as string;
    await as("POST", `/rooms/${encodeURIComponent(left)}/leave`, {}, `@m0:${server}`);
    const token = (await ws.outputs()).adminAccessToken;
    const details = (id: string) => vps.sh(`curl -s -o /dev/null -w '%{http_code}' -H @- 'http://127.0.0.1:8008/_synapse/admin/v1/rooms/${encodeURIComponent(id)}'`,
      { stdin: `Authorization: Bearer ${token}\n` });
    expect((await details(left)).stdout).toBe("200");
    await new Promise((r) => setTimeout(r, 1500));
    const since = (await vps.sh("date '+%Y-%m-%d %H:%M:%S'")).stdout.trim();
    await vps.sh("systemctl start synapse-purge-empty-rooms.service");
    const journal = (await vps.sh(`journalctl -u synapse-purge-empty-rooms --since '${since}' --no-pager -o cat`)).stdout;
    expect(journal).toContain(`synapse-purge-empty-rooms: ${left}: complete`);
    expect(journal).toContain("synapse-purge-empty-rooms: 1 room(s) without local members deleted");
    expect((await details(left)).stdout).toBe("404");
    // The big room, which the application service's own user is in, stays.
    expect((await details(room)).stdout).toBe("200");
  }), minutes(3));
});
