// The benchmark's request scenarios, each a few requests a real client makes, timed on the wire
// (http.mjs) with the server's CPU time read from its cgroup (CPU_FILE) around the whole scenario:
//   initial-sync  a user in 100+ rooms opens the app: /sync without `since`, REPEAT times (each
//                 with its own filter: Synapse answers an identical request from a cache);
//   big-room      in a room of 1,000+ members: /members, /messages paginated back PAGES pages,
//                 then a user joins it (JOINER, one per run);
//   media         UPLOADS images uploaded, each then fetched as two thumbnails (scaled, cropped).
// Prints one JSON line: {scenario, ms: {what: [samples]}, cpuSeconds, operations, errors}.
// Env: TARGET (JSON, see http.mjs), SCENARIO, USER (JSON {userId, accessToken}), CPU_FILE, and per
//      scenario: REPEAT; ROOM, PAGES, JOINER (JSON {userId, accessToken}); UPLOADS, SEED.
import * as fs from "node:fs";
import { png } from "../../tests/e2e/clients/png.ts";
import { matrixClient, targetFrom } from "./http.mjs";

const env = process.env;
const target = targetFrom(env.TARGET);
const user = JSON.parse(env.USER);
const client = matrixClient(target, user.accessToken);
const cpuSeconds = () => (env.CPU_FILE ? Number(fs.readFileSync(env.CPU_FILE, "utf8")) / 1e9 : NaN);
const ms = {};
let errors = 0;
let operations = 0;

async function timed(what, method, path, body, opts) {
  const r = await client.call(method, path, body, opts);
  if (r.status !== 200) {
    errors++;
    process.stderr.write(`requests: ${method} ${path.slice(0, 120)}: ${r.status} ${JSON.stringify(r.json ?? {}).slice(0, 300)}\n`);
  } else {
    (ms[what] ??= []).push(r.ms);
  }
  return r;
}

const cpu0 = cpuSeconds();
const scenario = env.SCENARIO;
if (scenario === "initial-sync") {
  const repeat = Number(env.REPEAT ?? 5);
  let rooms = 0;
  for (let i = 0; i < repeat; i++) {
    const filter = encodeURIComponent(JSON.stringify({ room: { timeline: { limit: 10 + i } } }));
    const r = await timed("initial sync", "GET", `/_matrix/client/v3/sync?filter=${filter}&timeout=0`);
    rooms = Object.keys(r.json?.rooms?.join ?? {}).length;
    operations++;
  }
  process.stderr.write(`requests: initial sync saw ${rooms} rooms\n`);
} else if (scenario === "big-room") {
  const room = encodeURIComponent(env.ROOM);
  const members = await timed("/members", "GET", `/_matrix/client/v3/rooms/${room}/members`);
  process.stderr.write(`requests: /members listed ${members.json?.chunk?.length ?? 0} members\n`);
  let from = "";
  for (let page = 0; page < Number(env.PAGES ?? 10); page++) {
    const r = await timed("/messages page", "GET", `/_matrix/client/v3/rooms/${room}/messages?dir=b&limit=50${from ? `&from=${encodeURIComponent(from)}` : ""}`);
    from = r.json?.end ?? "";
    if (!from) break;
  }
  const joiner = JSON.parse(env.JOINER);
  const j = await matrixClient(target, joiner.accessToken).call("POST", `/_matrix/client/v3/rooms/${room}/join`, {});
  if (j.status === 200) (ms.join ??= []).push(j.ms);
  else errors++;
  operations++;
} else if (scenario === "media") {
  const uploads = Number(env.UPLOADS ?? 3);
  for (let i = 0; i < uploads; i++) {
    const image = png(1600, 1200, Number(env.SEED ?? 0) * 1000 + i);
    const up = await timed("upload", "POST", `/_matrix/media/v3/upload?filename=bench${i}.png`, image, { raw: true, contentType: "image/png" });
    const mxc = up.json?.content_uri;
    if (!mxc) continue;
    const [server, id] = mxc.slice("mxc://".length).split("/");
    await timed("thumbnail", "GET", `/_matrix/client/v1/media/thumbnail/${server}/${id}?width=320&height=240&method=scale`);
    await timed("thumbnail", "GET", `/_matrix/client/v1/media/thumbnail/${server}/${id}?width=96&height=96&method=crop`);
    operations++;
  }
} else {
  throw new Error(`unknown SCENARIO ${scenario}`);
}
console.log(JSON.stringify({ scenario, ms, cpuSeconds: cpuSeconds() - cpu0, operations, errors }));
process.exit(0);
