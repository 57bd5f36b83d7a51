// Message load, as Matrix clients make it: each simulated client long-polls /sync (30 s, as
// Element) and sends into its room. Two modes:
//   closed  every client sends one message after another (the next once the last is answered),
//           for DURATION_S: the rate the server sustains;
//   open    messages go out at a fixed total rate whatever the answers, in steps (RATES, one
//           STEP_S each): the rate at which latency breaks.
// A warm-up (WARMUP_S of the same load) comes first and is not measured. Every message carries
// its send time, so each client's /sync also measures delivery: from the send to another member's
// client having it. With RECEIVER set (federation inbound), the senders are on another homeserver
// and delivery is timed at the receiver's client, on the homeserver under test.
// The server's CPU time is read from its cgroup (CPU_FILE, cpuacct.usage in ns) exactly at the
// measured window's edges. Prints one JSON line of raw samples (ms); the suite computes figures.
// Env: TARGET (JSON, see http.mjs), USERS (JSON [{userId, accessToken, room}]), MODE,
//      DURATION_S, RATES (msg/s, comma-separated), STEP_S, WARMUP_S, CPU_FILE,
//      RECEIVER (optional JSON {target, user: {userId, accessToken}}).
import * as fs from "node:fs";
import { matrixClient, sleep, targetFrom } from "./http.mjs";

const env = process.env;
const target = targetFrom(env.TARGET);
const users = JSON.parse(env.USERS);
const mode = env.MODE ?? "closed";
const warmupMs = Number(env.WARMUP_S ?? 10) * 1000;
const cpuSeconds = () => (env.CPU_FILE ? Number(fs.readFileSync(env.CPU_FILE, "utf8")) / 1e9 : NaN);
const filter = encodeURIComponent(JSON.stringify({ room: { timeline: { limit: 20 } } }));

let txn = 0;
let measuring = false;
const samples = { send: [], delivery: [], errors: 0, syncs: 0 };

/** A client's sync loop until `running()` is false; delivery times of others' messages while measuring. */
async function syncLoop(client, userId, running) {
  let since;
  while (running()) {
    const r = await client.call("GET", `/_matrix/client/v3/sync?filter=${filter}&timeout=${since ? 30000 : 0}${since ? `&since=${since}` : ""}`)
      .catch(() => ({ status: 0 }));
    if (r.status !== 200) {
      if (measuring) samples.errors++;
      await sleep(500);
      continue;
    }
    if (measuring) samples.syncs++;
    since = r.json.next_batch;
    const now = Date.now();
    for (const room of Object.values(r.json.rooms?.join ?? {})) {
      for (const e of room.timeline?.events ?? []) {
        const m = /^bench (\d+) (m|w)\b/.exec(e.content?.body ?? "");
        if (m && e.sender !== userId && m[2] === "m" && measuring) samples.delivery.push(now - Number(m[1]));
      }
    }
  }
}

/** One message: its wire round trip while measuring (m), or a warm-up one (w). */
async function send(client, room, measured) {
  const body = { msgtype: "m.text", body: `bench ${Date.now()} ${measured ? "m" : "w"} ${txn}` };
  const r = await client.call("PUT", `/_matrix/client/v3/rooms/${encodeURIComponent(room)}/send/m.room.message/b${process.pid}.${txn++}`, body)
    .catch(() => ({ status: 0, ms: NaN }));
  if (!measured) return;
  if (r.status === 200) samples.send.push(r.ms);
  else samples.errors++;
}

const clients = users.map((u) => ({ ...u, client: matrixClient(target, u.accessToken) }));
let syncing = true;
// With a receiver, the senders need no sync: delivery is timed where the messages arrive.
const receiver = env.RECEIVER ? JSON.parse(env.RECEIVER) : undefined;
const syncers = receiver
  ? [{ userId: receiver.user.userId, client: matrixClient(targetFrom(JSON.stringify(receiver.target)), receiver.user.accessToken) }]
  : clients;
const loops = syncers.map((c) => syncLoop(c.client, c.userId, () => syncing));
await sleep(2000);

async function closed(ms, measured) {
  const end = performance.now() + ms;
  await Promise.all(clients.map(async (c) => {
    while (performance.now() < end) await send(c.client, c.room, measured);
  }));
}

/** Sends at `rate` msg/s for `ms`, round-robin over the clients, not waiting for answers. */
async function open(rate, ms, measured) {
  const start = performance.now();
  const count = Math.floor((rate * ms) / 1000);
  const inflight = [];
  for (let i = 0; i < count; i++) {
    const due = start + (i * 1000) / rate;
    const wait = due - performance.now();
    if (wait > 0) await sleep(wait);
    const c = clients[i % clients.length];
    inflight.push(send(c.client, c.room, measured));
  }
  await Promise.all(inflight);
}

const result = { mode, users: clients.length, steps: [] };
if (mode === "closed") {
  await closed(warmupMs, false);
  const cpu0 = cpuSeconds();
  const t0 = performance.now();
  measuring = true;
  await closed(Number(env.DURATION_S ?? 30) * 1000, true);
  const seconds = (performance.now() - t0) / 1000;
  // Messages still on their way to the other clients: give them a moment to arrive.
  await sleep(1500);
  measuring = false;
  result.steps.push({ seconds, cpuSeconds: cpuSeconds() - cpu0, sent: samples.send.length, ...samples });
} else {
  const rates = (env.RATES ?? "5,10,20,40").split(",").map(Number);
  const stepMs = Number(env.STEP_S ?? 15) * 1000;
  await open(rates[0], warmupMs, false);
  for (const rate of rates) {
    Object.assign(samples, { send: [], delivery: [], errors: 0, syncs: 0 });
    const cpu0 = cpuSeconds();
    const t0 = performance.now();
    measuring = true;
    await open(rate, stepMs, true);
    const seconds = (performance.now() - t0) / 1000;
    await sleep(1500);
    measuring = false;
    result.steps.push({ rate, seconds, cpuSeconds: cpuSeconds() - cpu0, sent: samples.send.length, ...samples });
    // A step the server could not keep up with ends the ramp: the next would only queue more.
    if (samples.errors > samples.send.length * 0.05 || seconds > (stepMs / 1000) * 2) break;
  }
}
syncing = false;
console.log(JSON.stringify(result));
// Long-polls still open are abandoned with the process.
process.exit(0);
void loops;
