// The worker routing in a real nginx: the site the program renders, served on loopback, in front
// of stub upstreams that answer with their own name. Each request path from the table must land
// at the process Synapse's workers documentation assigns it, proven by who answered.
import * as http from "node:http";
import { tierWorkers } from "../../config";
import { mainUpstream, matrixLocations } from "../../render/nginx";
import { synapseListen } from "../../render/paths";
import { WorkerKind } from "../../config/workers";
import { workerPlan, workerRouting } from "../../render/workers";
import { request, sandboxAgent } from "./clients/https";
import { LoopbackNginx, startNginx, startStubs, stopAll } from "./support/loopbackNginx";
import { suiteNeeding } from "./support/requirements";

const httpsPort = 18443;
const httpPort = 18080;
const host = "matrix.example.org";

/** A process as routing sees it: "main" or a worker's kind. */
type Target = "main" | WorkerKind;

interface Case {
  what: string;
  method: string;
  path: string;
  headers?: Record<string, string>;
  /** Where it lands on the large tier (every kind) and on community (no client readers). */
  large: Target;
  community: Target;
}

const user = (name: string) => ({ authorization: `Bearer syt_${name}_AbCdEf_0a1b2c` });
const origin = (server: string) => ({ authorization: `X-Matrix origin="${server}",destination="example.org",key="ed25519:a",sig="c2ln"` });

const table: Case[] = [
  { what: "sync", method: "GET", path: "/_matrix/client/v3/sync?since=s1", headers: user("alice"), large: "synchrotron", community: "synchrotron" },
  { what: "sync (r0)", method: "GET", path: "/_matrix/client/r0/sync", headers: user("bob"), large: "synchrotron", community: "synchrotron" },
  { what: "sliding sync", method: "POST", path: "/_matrix/client/unstable/org.matrix.simplified_msc3575/sync", headers: user("alice"), large: "synchrotron", community: "synchrotron" },
  { what: "initial sync of a room", method: "GET", path: "/_matrix/client/v3/rooms/!r:example.org/initialSync", headers: user("alice"), large: "synchrotron", community: "synchrotron" },
  { what: "federation send", method: "PUT", path: "/_matrix/federation/v1/send/1700000000", headers: origin("a.example"), large: "federationReader", community: "federationReader" },
  { what: "federation query", method: "GET", path: "/_matrix/federation/v1/query/profile?user_id=@a:example.org", headers: origin("a.example"), large: "federationReader", community: "federationReader" },
  { what: "federation make_join", method: "GET", path: "/_matrix/federation/v1/make_join/!r:example.org/@u:a.example", headers: origin("a.example"), large: "federationReader", community: "federationReader" },
  { what: "federation send_join", method: "PUT", path: "/_matrix/federation/v2/send_join/!r:example.org/$e", headers: origin("a.example"), large: "federationReader", community: "federationReader" },
  { what: "key query", method: "POST", path: "/_matrix/key/v2/query", large: "federationReader", community: "federationReader" },
  { what: "own keys (served by every process; unrouted)", method: "GET", path: "/_matrix/key/v2/server", large: "main", community: "main" },
  { what: "openid userinfo stays on main", method: "GET", path: "/_matrix/federation/v1/openid/userinfo?access_token=x", large: "main", community: "main" },
  { what: "media upload", method: "POST", path: "/_matrix/media/v3/upload?filename=a.png", large: "media", community: "media" },
  { what: "media download", method: "GET", path: "/_matrix/client/v1/media/download/example.org/abc", large: "media", community: "media" },
  { what: "media thumbnail", method: "GET", path: "/_matrix/client/v1/media/thumbnail/example.org/abc?width=32&height=32", large: "media", community: "media" },
  { what: "legacy media download", method: "GET", path: "/_matrix/media/v3/download/example.org/abc", large: "media", community: "media" },
  { what: "federation media (before the federation routes)", method: "GET", path: "/_matrix/federation/v1/media/download/abc", headers: origin("a.example"), large: "media", community: "media" },
  { what: "login", method: "POST", path: "/_matrix/client/v3/login", large: "clientReader", community: "main" },
  { what: "createRoom", method: "POST", path: "/_matrix/client/v3/createRoom", headers: user("alice"), large: "clientReader", community: "main" },
  { what: "messages", method: "GET", path: "/_matrix/client/v3/rooms/!r:example.org/messages?dir=b", headers: user("alice"), large: "clientReader", community: "main" },
  { what: "keys upload", method: "POST", path: "/_matrix/client/v3/keys/upload", headers: user("alice"), large: "clientReader", community: "main" },
  { what: "send an event", method: "PUT", path: "/_matrix/client/v3/rooms/!r:example.org/send/m.room.message/t1", headers: user("alice"), large: "clientReader", community: "main" },
  { what: "push rules (unrouted)", method: "GET", path: "/_matrix/client/v3/pushrules/", headers: user("alice"), large: "main", community: "main" },
  { what: "admin API", method: "GET", path: "/_synapse/admin/v2/users/@a:example.org", large: "main", community: "main" },
  { what: "admin media API", method: "GET", path: "/_synapse/admin/v1/media/example.org/abc", large: "media", community: "media" },
  { what: "admin purge of the media cache", method: "POST", path: "/_synapse/admin/v1/purge_media_cache?before_ts=1", large: "media", community: "media" },
];

suiteNeeding("nginx").each(["community", "large"] as const)("worker routing in a real nginx: %s tier", (tier) => {
  const plan = workerPlan(tierWorkers[tier]);
  const kindOf = new Map<string, Target>([["main", "main"], ...plan.map((w) => [w.name, w.kind] as [string, Target])]);
  let stubs: http.Server[] = [];
  let nginx: LoopbackNginx;
  let agent: ReturnType<typeof sandboxAgent>;

  beforeAll(async () => {
    stubs = await startStubs([{ name: "main", port: synapseListen.port }, ...plan.map((w) => ({ name: w.name, port: w.port }))]);
    const routing = workerRouting(plan, "100M");
    nginx = await startNginx(`routing-${tier}`, {
      name: "matrix", serverNames: [host],
      maps: routing.maps,
      upstreams: [mainUpstream, ...routing.upstreams],
      locations: [...routing.locations, ...matrixLocations({
        upstream: mainUpstream.name, maxUploadSize: "100M", adminAllowedNetworks: [], adminLocations: routing.adminLocations,
      })],
    }, { https: httpsPort, http: httpPort });
    agent = sandboxAgent({ address: "127.0.0.1", ca: nginx.ca });
  });
  afterAll(async () => {
    await agent?.close();
    await stopAll(nginx, stubs);
  });

  const who = async (c: Pick<Case, "method" | "path" | "headers">) => {
    const r = await request(agent, `https://${host}:${httpsPort}${c.path}`, { method: c.method, headers: c.headers });
    expect(r.status).toBe(200);
    return r.json<{ process: string; url: string }>();
  };

  it.each(table)("$what: $method $path", async (c) => {
    const answer = await who(c);
    expect(kindOf.get(answer.process)).toBe(c[tier]);
    expect(answer.url).toBe(c.path); // passed on unchanged
  });

  it("keeps a user's syncs on one synchrotron, a server's transactions on one reader, a room's pagination on one process", async () => {
    const sticky = async (c: Pick<Case, "method" | "path" | "headers">) => {
      const seen = new Set<string>();
      for (let i = 0; i < 8; i++) seen.add((await who(c)).process);
      return seen.size;
    };
    expect(await sticky({ method: "GET", path: "/_matrix/client/v3/sync", headers: user("carol") })).toBe(1);
    expect(await sticky({ method: "GET", path: "/_matrix/client/v3/sync?access_token=syt_carol_x_y" })).toBe(1);
    expect(await sticky({ method: "PUT", path: "/_matrix/federation/v1/send/1", headers: origin("b.example") })).toBe(1);
    expect(await sticky({ method: "GET", path: "/_matrix/client/v3/rooms/!q:example.org/messages", headers: user("dave") })).toBe(1);
    if (tier === "large") {
      // With two synchrotrons, different users do spread out (one of these pairs differs).
      const users = ["u1", "u2", "u3", "u4", "u5", "u6", "u7", "u8"];
      const homes = new Set(await Promise.all(users.map(async (u) => (await who({ method: "GET", path: "/_matrix/client/v3/sync", headers: user(u) })).process)));
      expect(homes.size).toBe(2);
    }
  });
});
