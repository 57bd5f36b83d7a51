// Sliding sync as Element X does it (matrix-js-sdk's SlidingSync, Synapse's native MSC4186
// endpoint): logs in, makes ROOMS rooms, opens a room list sorted by recency with each room's name
// and last event, waits until the list holds them all, then sends a message into the oldest room
// and waits for it to arrive through the same connection (the room moves to the top with it).
// Prints one JSON line with what it saw. Env: BASE_URL, ADDRESS (the VPS), CA_FILE, USER_ID, PASSWORD, ROOMS.
import * as sdk from "matrix-js-sdk";
import { logger } from "matrix-js-sdk/lib/logger.js";
import { SlidingSync, SlidingSyncEvent, SlidingSyncState } from "matrix-js-sdk/lib/sliding-sync.js";
import { sandboxFetch } from "./sandboxFetch.mjs";

logger.setLevel?.("warn");
const { BASE_URL, ADDRESS, CA_FILE, USER_ID, PASSWORD } = process.env;
const roomCount = Number(process.env.ROOMS ?? 3);
const fetchFn = sandboxFetch(CA_FILE, ADDRESS);
const started = Date.now();

const login = await sdk.createClient({ baseUrl: BASE_URL, fetchFn }).loginRequest({
  type: "m.login.password", identifier: { type: "m.id.user", user: USER_ID }, password: PASSWORD,
});
const client = sdk.createClient({ baseUrl: BASE_URL, fetchFn, userId: login.user_id, accessToken: login.access_token, deviceId: login.device_id });
const tag = `sliding ${Date.now()}`;
const rooms = [];
for (let i = 0; i < roomCount; i++) rooms.push((await client.createRoom({ name: `${tag} ${i}`, preset: "private_chat" })).room_id);

const names = new Map();
const timelines = new Map();
let listCount = 0;
let responses = 0;
const sync = new SlidingSync(BASE_URL, new Map([["all", {
  ranges: [[0, 49]], sort: ["by_recency"], timeline_limit: 1, required_state: [["m.room.name", ""]],
}]]), { timeline_limit: 1, required_state: [] }, client, 5000);
sync.on(SlidingSyncEvent.RoomData, (roomId, data) => {
  if (data.name) names.set(roomId, data.name);
  for (const e of data.timeline ?? []) timelines.set(roomId, [...(timelines.get(roomId) ?? []), e.event_id]);
});
const waitFor = (what, test, ms = 60000) => new Promise((resolve, reject) => {
  const timer = setTimeout(() => reject(new Error(`sliding sync: no ${what} within ${ms / 1000} s`)), ms);
  const check = (state, resp, err) => {
    if (err) return;
    if (state === SlidingSyncState.Complete) {
      responses++;
      if (resp?.lists?.all) listCount = resp.lists.all.count;
      if (test()) { clearTimeout(timer); sync.off(SlidingSyncEvent.Lifecycle, check); resolve(); }
    }
  };
  sync.on(SlidingSyncEvent.Lifecycle, check);
});
const listed = waitFor("room list with every new room", () => rooms.every((r) => names.get(r)?.startsWith(tag)));
sync.start().catch(() => undefined);
await listed;
const listedSeconds = (Date.now() - started) / 1000;

const oldest = rooms[0];
const { event_id: eventId } = await client.sendEvent(oldest, "m.room.message", { msgtype: "m.text", body: `${tag}: new message` });
await waitFor("new message", () => (timelines.get(oldest) ?? []).includes(eventId));
sync.stop();
console.log(JSON.stringify({
  rooms: rooms.length, listed: rooms.filter((r) => names.get(r)?.startsWith(tag)).length, listCount, newMessage: true, responses,
  listedSeconds, seconds: (Date.now() - started) / 1000,
}));
process.exit(0);
