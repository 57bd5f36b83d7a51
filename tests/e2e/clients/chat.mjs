// A real Matrix client (matrix-js-sdk): logs in, creates a room, sends COUNT messages and reads
// them all back through /sync. Prints one JSON line with what it saw.
// Env: BASE_URL, ADDRESS (the VPS), CA_FILE, USER_ID, PASSWORD, COUNT.
import * as sdk from "matrix-js-sdk";
import { logger } from "matrix-js-sdk/lib/logger.js";
import { sandboxFetch } from "./sandboxFetch.mjs";

logger.setLevel?.("warn");
const { BASE_URL, ADDRESS, CA_FILE, USER_ID, PASSWORD } = process.env;
const count = Number(process.env.COUNT ?? 100);
const fetchFn = sandboxFetch(CA_FILE, ADDRESS);

const started = Date.now();
const login = await sdk.createClient({ baseUrl: BASE_URL, fetchFn }).loginRequest({
  type: "m.login.password", identifier: { type: "m.id.user", user: USER_ID }, password: PASSWORD,
});
const client = sdk.createClient({ baseUrl: BASE_URL, fetchFn, userId: login.user_id, accessToken: login.access_token, deviceId: login.device_id });
const { room_id: roomId } = await client.createRoom({ name: `e2e ${new Date().toISOString()}`, preset: "private_chat" });
const sent = [];
for (let i = 0; i < count; i++) {
  const body = `message ${i} of ${count}`;
  await client.sendEvent(roomId, "m.room.message", { msgtype: "m.text", body });
  sent.push(body);
}
const sendSeconds = (Date.now() - started) / 1000;

// Read back with the sync loop, as a client would.
await new Promise((resolve, reject) => {
  const timer = setTimeout(() => reject(new Error("no sync within 60 s")), 60000);
  client.on(sdk.ClientEvent.Sync, (state) => { if (state === "PREPARED") { clearTimeout(timer); resolve(); } });
  client.startClient({ initialSyncLimit: count + 20 });
});
const room = client.getRoom(roomId);
const received = room.getLiveTimeline().getEvents()
  .filter((e) => e.getType() === "m.room.message").map((e) => e.getContent().body);
client.stopClient();
console.log(JSON.stringify({ roomId, sent: sent.length, received: received.length,
  inOrder: JSON.stringify(received) === JSON.stringify(sent), sendSeconds, seconds: (Date.now() - started) / 1000 }));
process.exit(0);
