// A big public room, the way the database trap grows one: MEMBERS puppets of an application
// service join it, then CHANGES displayname changes go round them (each one a state event that
// Synapse stores as a new state group). Every request goes through Synapse's client API with the
// application service's token (`?user_id=` names the puppet); the registration's
// `rate_limited: false` is what lets them through at this pace, nothing in the homeserver's config.
// Prints one JSON line: the room, the counts and how long each phase took.
// Env: BASE_URL, ADDRESS (the VPS), CA_FILE, AS_TOKEN, SERVER, MEMBERS, CHANGES,
//      CONCURRENCY (requests in flight, default 4), PREFIX (puppet localparts, default "m"),
//      ROOM (an existing room instead of a new one), PHASES (default "register,join,displayname"),
//      and for a batch of a longer run: JOIN_FROM and JOIN_TO (the members who join, default all)
//      and CHANGE_FROM (the number of the first change, default 0; change k renames member k % MEMBERS);
//      for the "message" phase, MESSAGES (sent by the members in turn: history to page through).
import { Agent, fetch } from "undici";
import * as fs from "node:fs";

const { BASE_URL, ADDRESS, CA_FILE, AS_TOKEN, SERVER } = process.env;
const MEMBERS = Number(process.env.MEMBERS ?? 1500);
const CHANGES = Number(process.env.CHANGES ?? 1500);
const CONCURRENCY = Number(process.env.CONCURRENCY ?? 4);
const PREFIX = process.env.PREFIX ?? "m";
const PHASES = (process.env.PHASES ?? "register,join,displayname").split(",");
const JOIN_FROM = Number(process.env.JOIN_FROM ?? 0);
const JOIN_TO = Number(process.env.JOIN_TO ?? MEMBERS);
const CHANGE_FROM = Number(process.env.CHANGE_FROM ?? 0);
const agent = new Agent({
  connections: CONCURRENCY + 2,
  connect: { ca: fs.readFileSync(CA_FILE, "utf8"), lookup: (_h, o, cb) => (o?.all ? cb(null, [{ address: ADDRESS, family: 4 }]) : cb(null, ADDRESS, 4)) },
});

async function call(method, path, body, userId) {
  const url = `${BASE_URL}/_matrix/client/v3${path}${userId ? `${path.includes("?") ? "&" : "?"}user_id=${encodeURIComponent(userId)}` : ""}`;
  for (let attempt = 0; ; attempt++) {
    const r = await fetch(url, {
      method, dispatcher: agent,
      headers: { Authorization: `Bearer ${AS_TOKEN}`, "Content-Type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await r.text();
    // nginx answers a gateway error in HTML (Synapse slower than its proxy timeout on a loaded machine).
    const json = (r.headers.get("content-type") ?? "").includes("json") && text ? JSON.parse(text) : {};
    if (r.ok) return json;
    // A request racing another event of the room may be asked to retry, and a gateway error is
    // retried a few times; nothing else is.
    if (r.status === 429 || (r.status >= 500 && attempt < 5)) {
      await new Promise((res) => setTimeout(res, json.retry_after_ms ?? 500));
      continue;
    }
    const err = new Error(`${method} ${path}: ${r.status} ${text}`);
    err.errcode = json.errcode;
    throw err;
  }
}

/** Runs fn(i) for i in [from, to) with at most CONCURRENCY in flight; returns seconds taken. */
async function pool(name, from, to, fn) {
  const t0 = Date.now();
  let next = from;
  let done = 0;
  await Promise.all(Array.from({ length: Math.max(0, Math.min(CONCURRENCY, to - from)) }, async () => {
    for (let i = next++; i < to; i = next++) {
      await fn(i);
      if (++done % 250 === 0) process.stderr.write(`big-room: ${name} ${done}/${to - from} (${((Date.now() - t0) / 1000).toFixed(0)} s)\n`);
    }
  }));
  return (Date.now() - t0) / 1000;
}

const member = (i) => `@${PREFIX}${i}:${SERVER}`;
const started = Date.now();
const seconds = {};
if (PHASES.includes("register")) {
  seconds.register = await pool("register", 0, MEMBERS, async (i) => {
    try {
      await call("POST", "/register", { type: "m.login.application_service", username: `${PREFIX}${i}`, inhibit_login: true });
    } catch (e) {
      if (e.errcode !== "M_USER_IN_USE") throw e;
    }
  });
}
const room = process.env.ROOM ?? (await call("POST", "/createRoom", { preset: "public_chat", name: "a big room", visibility: "private" })).room_id;
if (PHASES.includes("join")) {
  seconds.join = await pool("join", JOIN_FROM, JOIN_TO, (i) => call("POST", `/join/${encodeURIComponent(room)}`, {}, member(i)));
}
if (PHASES.includes("displayname")) {
  seconds.displayname = await pool("displayname", CHANGE_FROM, CHANGE_FROM + CHANGES, (k) => {
    const i = k % MEMBERS;
    return call("PUT", `/rooms/${encodeURIComponent(room)}/state/m.room.member/${encodeURIComponent(member(i))}`,
      { membership: "join", displayname: `member ${i}, change ${Math.floor(k / MEMBERS) + 1}` }, member(i));
  });
}
if (PHASES.includes("message")) {
  seconds.message = await pool("message", 0, Number(process.env.MESSAGES ?? 0), (k) =>
    call("PUT", `/rooms/${encodeURIComponent(room)}/send/m.room.message/big${k}`, { msgtype: "m.text", body: `message ${k} of the big room` }, member(k % MEMBERS)));
}
seconds.total = (Date.now() - started) / 1000;
console.log(JSON.stringify({ room, members: MEMBERS, changes: CHANGES, concurrency: CONCURRENCY, seconds }));
await agent.close();
