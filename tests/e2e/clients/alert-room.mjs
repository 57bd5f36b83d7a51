// The admin reading the alert room, as a Matrix client would: logs in, joins ROOM_ID (the bot
// invited the admin), then reads the room's latest messages every two seconds until one from the
// bot sent after SINCE (ms since the epoch) matches PATTERN (a regular expression), for at most
// TIMEOUT_S. Prints the message as one JSON line; exits 1 with the messages it saw when none came.
// Env: BASE_URL, ADDRESS (the VPS), CA_FILE, USER_ID, PASSWORD, ROOM_ID, PATTERN, SINCE, TIMEOUT_S.
import * as sdk from "matrix-js-sdk";
import { logger } from "matrix-js-sdk/lib/logger.js";
import { sandboxFetch } from "./sandboxFetch.mjs";

logger.setLevel?.("warn");
const { BASE_URL, ADDRESS, CA_FILE, USER_ID, PASSWORD, ROOM_ID } = process.env;
const pattern = new RegExp(process.env.PATTERN);
const since = Number(process.env.SINCE ?? 0);
const deadline = Date.now() + Number(process.env.TIMEOUT_S ?? 120) * 1000;
const fetchFn = sandboxFetch(CA_FILE, ADDRESS);
const login = await sdk.createClient({ baseUrl: BASE_URL, fetchFn }).loginRequest({
  type: "m.login.password", identifier: { type: "m.id.user", user: USER_ID }, password: PASSWORD,
});
const client = sdk.createClient({ baseUrl: BASE_URL, fetchFn, userId: login.user_id, accessToken: login.access_token, deviceId: login.device_id });
await client.joinRoom(ROOM_ID);
let seen = [];
while (Date.now() < deadline) {
  const page = await client.createMessagesRequest(ROOM_ID, null, 50, sdk.Direction.Backward);
  seen = page.chunk.filter((e) => e.type === "m.room.message" && e.sender !== login.user_id && e.origin_server_ts >= since);
  const match = seen.reverse().find((e) => pattern.test(e.content.body));
  if (match) {
    console.log(JSON.stringify({ sender: match.sender, body: match.content.body, msgtype: match.content.msgtype,
      formatted: match.content.formatted_body, ts: match.origin_server_ts, afterSeconds: (match.origin_server_ts - since) / 1000 }));
    process.exit(0);
  }
  await new Promise((r) => setTimeout(r, 2000));
}
console.error(`no message matching ${pattern} in ${ROOM_ID} since ${new Date(since).toISOString()}; the bot's messages since then:\n${seen.map((e) => e.content.body).join("\n---\n")}`);
process.exit(1);
