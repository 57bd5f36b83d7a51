// A client reading one room over HTTPS, as a user's app would: the probe that runs while
// maintenance does (every read timed, every failure kept), and the room as a client sees it with
// Synapse's caches cold. Used by the trap e2e and the trap benchmark.
import * as fs from "node:fs";
import { Agent, fetch } from "undici";
import { percentile } from "../../../bench/stats";
import { psqlOn } from "./state";
import { Vps } from "./stack";

export interface RoomAccess { vps: Vps; baseUrl: string; caFile: string; token: string; room: string }

const agentFor = (a: RoomAccess) => new Agent({
  connect: { ca: fs.readFileSync(a.caFile, "utf8"), lookup: (_h, o, cb) => (o?.all ? cb(null, [{ address: a.vps.host, family: 4 }]) : cb(null, a.vps.host, 4)) },
});

export interface ProbeResult {
  reads: number; failures: string[]; p50: number; p99: number; max: number;
  /** With warmUp: how long the reads before the probe took (ms), each path once. */
  warmUp?: number[];
}

/**
 * Reads the room's state and its latest messages, one after the other, at least once a second
 * (every 500 ms unless a read is slower), until stopped. With `warmUp`, each path is read once
 * first, timed on its own, and `ready` resolves once the probe proper starts: a purge or a restart
 * just before empties Synapse's caches, and the first reads of a big room then measure that, not
 * what runs while the probe does.
 */
export function probeRoom(a: RoomAccess, opts: { warmUp?: boolean } = {}): { ready: Promise<void>; stop: () => Promise<ProbeResult> } {
  const agent = agentFor(a);
  const latencies: number[] = [];
  const warmUp: number[] = [];
  const failures: string[] = [];
  let running = true;
  const room = encodeURIComponent(a.room);
  const paths = [`/rooms/${room}/state`, `/rooms/${room}/messages?dir=b&limit=20`];
  /** One timed read of `p`; a failure is kept. */
  const read = async (p: string): Promise<number> => {
    const t0 = Date.now();
    try {
      const r = await fetch(`${a.baseUrl}/_matrix/client/v3${p}`, { dispatcher: agent, headers: { Authorization: `Bearer ${a.token}` } });
      await r.arrayBuffer();
      if (r.status !== 200) failures.push(`${p}: HTTP ${r.status}`);
    } catch (e) {
      failures.push(`${p}: ${(e as Error).message}`);
    }
    return Date.now() - t0;
  };
  const ready = (async () => {
    if (opts.warmUp) for (const p of paths) warmUp.push(await read(p));
  })();
  const loop = (async () => {
    await ready;
    for (let i = 0; running; i++) {
      const took = await read(paths[i % 2]);
      latencies.push(took);
      await new Promise((r) => setTimeout(r, Math.max(0, 500 - took)));
    }
  })();
  return {
    ready,
    stop: async () => {
      running = false;
      await loop;
      await agent.close();
      const none = latencies.length === 0;
      return {
        reads: latencies.length, failures, p50: none ? 0 : percentile(latencies, 50), p99: none ? 0 : percentile(latencies, 99), max: none ? 0 : Math.max(...latencies),
        ...(opts.warmUp ? { warmUp } : {}),
      };
    },
  };
}

/**
 * The room as a client sees it, with Synapse restarted first so nothing comes from its caches:
 * its current state, and the state at `samples` events spread over its whole history (`/context`
 * reads it from the state groups the compressor and a rebuild rewrite).
 */
export async function roomAsSeenCold(a: RoomAccess, samples = 20): Promise<{ state: string[]; contexts: [string, string[]][] }> {
  await a.vps.sh("systemctl restart matrix-synapse && for i in $(seq 90); do curl -fs -o /dev/null http://127.0.0.1:8008/health && exit 0; sleep 1; done; exit 1");
  const agent = agentFor(a);
  const get = async (p: string) => {
    const r = await fetch(`${a.baseUrl}/_matrix/client/v3/rooms/${encodeURIComponent(a.room)}${p}`, { dispatcher: agent, headers: { Authorization: `Bearer ${a.token}` } });
    if (r.status !== 200) throw new Error(`GET ${p}: ${r.status} ${await r.text()}`);
    return r.json() as Promise<any>;
  };
  try {
    const ids = (await psqlOn(a.vps)(`SELECT event_id FROM events WHERE room_id = '${a.room}' ORDER BY stream_ordering`)).split("\n");
    const sample = Array.from({ length: samples }, (_, i) => ids[Math.round((i * (ids.length - 1)) / (samples - 1))]);
    const contexts: [string, string[]][] = [];
    for (const id of sample) contexts.push([id, (await get(`/context/${encodeURIComponent(id)}?limit=0`)).state.map((e: any) => e.event_id).sort()]);
    return { state: (await get("/state")).map((e: any) => e.event_id).sort(), contexts };
  } finally {
    await agent.close();
  }
}
