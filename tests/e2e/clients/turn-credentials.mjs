// What a calling client asks first: TURN credentials from the homeserver (matrix-js-sdk's
// turnServer(), GET /voip/turnServer). Logs in, asks COUNT times a second apart (the username
// embeds its expiry second, so each answer is its own set), prints them as one JSON line.
// Env: BASE_URL, ADDRESS (the VPS), CA_FILE, USER_ID, PASSWORD, COUNT.
import * as sdk from "matrix-js-sdk";
import { logger } from "matrix-js-sdk/lib/logger.js";
import { sandboxFetch } from "./sandboxFetch.mjs";

logger.setLevel?.("warn");
const { BASE_URL, ADDRESS, CA_FILE, USER_ID, PASSWORD } = process.env;
const fetchFn = sandboxFetch(CA_FILE, ADDRESS);
const login = await sdk.createClient({ baseUrl: BASE_URL, fetchFn }).loginRequest({
  type: "m.login.password", identifier: { type: "m.id.user", user: USER_ID }, password: PASSWORD,
});
const client = sdk.createClient({ baseUrl: BASE_URL, fetchFn, userId: login.user_id, accessToken: login.access_token, deviceId: login.device_id });
const answers = [];
for (let i = 0; i < Number(process.env.COUNT ?? 1); i++) {
  if (i > 0) await new Promise((r) => setTimeout(r, 1100));
  answers.push(await client.turnServer());
}
console.log(JSON.stringify(answers));
process.exit(0);
