// The load: USERS matrix-js-sdk clients at once, each syncing (as Element does, long-polling) and
// sending messages into its room one after another for DURATION_S seconds (at most MESSAGES each).
// Every request's round trip is timed at the client's fetch. Prints one JSON line (raw timings).
// Env: BASE_URL, ADDRESS (the VPS), CA_FILE (for https), USERS (JSON [{userId, accessToken}]),
// ROOMS (how many rooms the users are spread over), DURATION_S, MESSAGES.
import * as sdk from "matrix-js-sdk";
import { logger } from "matrix-js-sdk/lib/logger.js";
import { Agent, fetch as undiciFetch } from "undici";
import * as fs from "node:fs";

logger.setLevel?.("error");
const { BASE_URL, ADDRESS, CA_FILE } = process.env;
const users = JSON.parse(process.env.USERS);
const roomCount = Number(process.env.ROOMS ?? 4);
const durationMs = Number(process.env.DURATION_S ?? 45) * 1000;
const maxMessages = Number(process.env.MESSAGES ?? 500);

const agent = new Agent({
  connections: 4,
  connect: {
    ...(CA_FILE ? { ca: fs.readFileSync(CA_FILE, "utf8") } : {}),
    lookup: (_h, o, cb) => (o?.all ? cb(null, [{ address: ADDRESS, family: 4 }]) : cb(null, ADDRESS, 4)),
  },
});
const timings = { send: [], sync: [] };
let errors = 0;
let measuring = false;
const fetchFn = async (url, init) => {
  const t0 = performance.now();
  const r = await undiciFetch(url, { ...init, dispatcher: agent });
  const kind = /\/sync\b/.test(String(url)) ? "sync" : /\/send\//.test(String(url)) ? "send" : undefined;
  if (measuring && kind) timings[kind].push(performance.now() - t0);
  if (measuring && r.status >= 400) errors++;
  return r;
};

const clients = users.map((u) => sdk.createClient({ baseUrl: BASE_URL, fetchFn, userId: u.userId, accessToken: u.accessToken }));
// The rooms: the first user of each group makes a public room, the others join it.
const rooms = [];
for (let g = 0; g < roomCount; g++) {
  rooms.push((await clients[g].createRoom({ name: `load ${g}`, preset: "public_chat" })).room_id);
}
for (let i = roomCount; i < clients.length; i++) await clients[i].joinRoom(rooms[i % roomCount]);
await Promise.all(clients.map((c) => new Promise((resolve) => {
  c.once(sdk.ClientEvent.Sync, resolve);
  c.startClient({ initialSyncLimit: 1, pollTimeout: 5000 });
})));

measuring = true;
const started = performance.now();
let sent = 0;
await Promise.all(clients.map(async (c, i) => {
  for (let n = 0; n < maxMessages && performance.now() - started < durationMs; n++) {
    try {
      await c.sendEvent(rooms[i % roomCount], "m.room.message", { msgtype: "m.text", body: `load ${i}.${n}` });
      sent++;
    } catch {
      errors++;
    }
  }
}));
const seconds = (performance.now() - started) / 1000;
measuring = false;
for (const c of clients) c.stopClient();

// Raw round trips (ms): the suite computes the percentiles.
console.log(JSON.stringify({ users: users.length, rooms: roomCount, sent, seconds, errors, send: timings.send, sync: timings.sync }));
process.exit(0);
