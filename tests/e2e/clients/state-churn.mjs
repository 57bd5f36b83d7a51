// State-heavy activity from a real Matrix client (matrix-js-sdk): ROOMS public rooms, MEMBERS
// users who join them all, then ROUNDS rounds per room of a topic change, a power-level change,
// a member leaving and rejoining, and MESSAGES_PER_ROUND messages (default 1) from members in turn. Users are made and logged in through the admin
// API (no password logins, which rc_login limits) and exempted from rate limits, as an admin
// would for a bot; joins wait when Synapse's per-room join limit asks them to. Prints one JSON line: the rooms and how many state events were sent.
// Env: BASE_URL, ADDRESS (the VPS), CA_FILE, ADMIN_TOKEN, SERVER, ROOMS, MEMBERS, ROUNDS, MESSAGES_PER_ROUND.
import * as sdk from "matrix-js-sdk";
import { logger } from "matrix-js-sdk/lib/logger.js";
import { sandboxFetch } from "./sandboxFetch.mjs";

logger.setLevel?.("warn");
const { BASE_URL, ADDRESS, CA_FILE, ADMIN_TOKEN, SERVER } = process.env;
const ROOMS = Number(process.env.ROOMS ?? 4);
const MEMBERS = Number(process.env.MEMBERS ?? 30);
const ROUNDS = Number(process.env.ROUNDS ?? 60);
const MESSAGES_PER_ROUND = Number(process.env.MESSAGES_PER_ROUND ?? 1);
const fetchFn = sandboxFetch(CA_FILE, ADDRESS);
const clientFor = (userId, accessToken) => sdk.createClient({ baseUrl: BASE_URL, fetchFn, userId, accessToken });

async function admin(method, path, body) {
  const r = await fetchFn(`${BASE_URL}/_synapse/admin${path}`, {
    method, headers: { Authorization: `Bearer ${ADMIN_TOKEN}`, "Content-Type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await r.text();
  if (!r.ok) throw new Error(`${method} ${path}: ${r.status} ${text}`);
  return JSON.parse(text);
}

const started = Date.now();
const me = clientFor(undefined, ADMIN_TOKEN);
const adminId = (await me.whoami()).user_id;
await admin("POST", `/v1/users/${encodeURIComponent(adminId)}/override_ratelimit`, { messages_per_second: 0, burst_count: 0 });
const members = [];
for (let i = 0; i < MEMBERS; i++) {
  const userId = `@churn${i}:${SERVER}`;
  await admin("PUT", `/v2/users/${encodeURIComponent(userId)}`, { password: `churn-${i}-${Date.now()}`, displayname: `churn ${i}` });
  const { access_token } = await admin("POST", `/v1/users/${encodeURIComponent(userId)}/login`, {});
  await admin("POST", `/v1/users/${encodeURIComponent(userId)}/override_ratelimit`, { messages_per_second: 0, burst_count: 0 });
  members.push(clientFor(userId, access_token));
}

// Joins are limited per room (rc_joins_per_room, 1/s after a burst of 10) whoever joins, which
// no per-user exemption lifts: wait as long as Synapse asks, as a client does.
async function patiently(op) {
  for (;;) {
    try {
      return await op();
    } catch (e) {
      if (e?.errcode !== "M_LIMIT_EXCEEDED") throw e;
      await new Promise((r) => setTimeout(r, Math.min(e.data?.retry_after_ms ?? 1000, 10_000)));
    }
  }
}

let stateEvents = 0;
async function churn(r) {
  const { room_id: roomId } = await me.createRoom({ name: `churn ${r}`, preset: "public_chat", visibility: "private" });
  for (const m of members) { await patiently(() => m.joinRoom(roomId)); stateEvents++; }
  for (let i = 0; i < ROUNDS; i++) {
    const m = members[(i * 7 + r) % members.length];
    await me.sendStateEvent(roomId, "m.room.topic", { topic: `round ${i} of room ${r}` }, ""); stateEvents++;
    const levels = await me.getStateEvent(roomId, "m.room.power_levels", "");
    levels.users = { ...levels.users, [m.getUserId()]: (i % 50) + 1, [adminId]: 100 };
    await me.sendStateEvent(roomId, "m.room.power_levels", levels, ""); stateEvents++;
    await m.leave(roomId); stateEvents++;
    await patiently(() => m.joinRoom(roomId)); stateEvents++;
    for (let j = 0; j < MESSAGES_PER_ROUND; j++) {
      const sender = j === 0 ? m : members[(i * 7 + r + j) % members.length];
      await sender.sendEvent(roomId, "m.room.message", { msgtype: "m.text", body: `message ${i}.${j} in room ${r}` });
    }
  }
  return roomId;
}
const rooms = await Promise.all(Array.from({ length: ROOMS }, (_, r) => churn(r)));
console.log(JSON.stringify({ rooms, members: MEMBERS, stateEvents, seconds: (Date.now() - started) / 1000 }));
process.exit(0);
