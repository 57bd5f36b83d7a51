// HTTP for the benchmark's Matrix clients: one connection pool per simulated client (as each
// phone or browser has its own), and every round trip timed from the moment the request goes on
// the wire (undici's diagnostics channel `undici:client:sendHeaders`) to its last body byte, so a
// request that waits for a connection is not counted against the server.
// Not matrix-js-sdk: its scheduler and local echo queue a client's sends one after another per
// room, a throttle inside the client; and no load-testing library speaks Matrix's long-poll
// /sync. The requests are the ones Element makes (PUT /send, GET /sync with since and timeout…).
import diagnostics from "node:diagnostics_channel";
import * as fs from "node:fs";
import { Agent, request } from "undici";

/** When each tagged request went on the wire (performance.now()), by its x-bench-id. */
const onWire = new Map();
const idHeader = "x-bench-id";
let nextId = 0;

function benchId(headers) {
  if (Array.isArray(headers)) {
    for (let i = 0; i + 1 < headers.length; i += 2) {
      if (String(headers[i]).toLowerCase() === idHeader) return String(headers[i + 1]);
    }
    return undefined;
  }
  return /(?:^|\r\n)x-bench-id: *([^\r\n]+)/i.exec(String(headers ?? ""))?.[1];
}

diagnostics.channel("undici:client:sendHeaders").subscribe(({ request: r }) => {
  const id = benchId(r.headers);
  if (id !== undefined) onWire.set(id, performance.now());
});

/**
 * A target: where requests go. `base` is the URL clients use (https://matrix.name through nginx,
 * or http://address:8008 at Synapse's own listener); every name resolves to `address`; `ca` is
 * the PEM file HTTPS trusts; `routes` ([regex, port] pairs) send a path to another port of the
 * same address (a worker's listener, when nginx is not in front to route).
 */
export function targetFrom(json) {
  const t = JSON.parse(json);
  return { ...t, routes: (t.routes ?? []).map(([re, port]) => [new RegExp(re), port]), ca: t.ca ? fs.readFileSync(t.ca, "utf8") : undefined };
}

/** A simulated client: its own connection pool, its token, and timed requests. */
export function matrixClient(target, accessToken) {
  const agent = new Agent({
    keepAliveTimeout: 60_000,
    connect: {
      ...(target.ca ? { ca: target.ca } : {}),
      lookup: (_h, o, cb) => (o?.all ? cb(null, [{ address: target.address, family: 4 }]) : cb(null, target.address, 4)),
    },
  });
  const urlFor = (path) => {
    for (const [re, port] of target.routes) {
      if (re.test(path.split("?")[0])) return `${new URL(target.base).protocol}//${target.address}:${port}${path}`;
    }
    return `${target.base}${path}`;
  };
  return {
    /**
     * Resolves with {status, json, ms}: ms from the request's first byte on the wire to the
     * response's last (NaN if it never went out). Rejects only when the connection fails.
     */
    async call(method, path, body, { raw, contentType } = {}) {
      const id = String(nextId++);
      const headers = { authorization: `Bearer ${accessToken}`, [idHeader]: id };
      if (body !== undefined) headers["content-type"] = contentType ?? "application/json";
      try {
        const r = await request(urlFor(path), {
          dispatcher: agent, method, headers,
          body: body === undefined ? undefined : raw ? body : JSON.stringify(body),
          headersTimeout: 120_000, bodyTimeout: 120_000,
        });
        const buf = Buffer.from(await r.body.arrayBuffer());
        const ms = performance.now() - (onWire.get(id) ?? NaN);
        let json;
        if ((r.headers["content-type"] ?? "").includes("json")) json = JSON.parse(buf.toString("utf8") || "{}");
        return { status: r.statusCode, json, bytes: buf.length, ms };
      } finally {
        onWire.delete(id);
      }
    },
    close: () => agent.close(),
  };
}

/** Nearest-rank percentile of a sample (NaN when empty). */
export function percentile(xs, p) {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.max(1, Math.ceil((p / 100) * s.length)) - 1];
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
