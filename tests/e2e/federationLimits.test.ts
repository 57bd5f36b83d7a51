// Federation that cannot swamp the host, in a real nginx: the site the program renders from stack
// config (per-origin rate, a peer with its own rate, a deny list) served on loopback in front of a
// stub Synapse. Requests signed by one origin flood it; bounded counts, loopback only.
import * as http from "node:http";
import { parseSettings } from "../../config";
import { federationGuard } from "../../render/federationLimits";
import { matrixLocations, NginxUpstream } from "../../render/nginx";
import { validRaw } from "../support/fixtures";
import { request, sandboxAgent } from "./clients/https";
import { LoopbackNginx, startNginx, startStubs, stopAll } from "./support/loopbackNginx";
import { suiteNeeding } from "./support/requirements";

const ports = { https: 18444, http: 18081 };
const stubPort = 18008;
const host = "matrix.example.org";
const signedBy = (server: string) => ({ authorization: `X-Matrix origin="${server}",destination="example.org",key="ed25519:a",sig="c2ln"` });

suiteNeeding("nginx")("per-origin federation limits in a real nginx", () => {
  let nginx: LoopbackNginx;
  let stubs: http.Server[] = [];
  let agent: ReturnType<typeof sandboxAgent>;

  beforeAll(async () => {
    const parsed = parseSettings(validRaw({
      federationOriginRate: "5", federationOriginBurst: "5",
      federationPeerRates: '["big.example=5000"]', federationDenyOrigins: '["spam.example"]',
    }));
    if (!parsed.ok) throw new Error(parsed.errors.join("\n"));
    const guard = federationGuard(parsed.settings.federationLimits);
    const main: NginxUpstream = { name: "synapse_main", servers: [`127.0.0.1:${stubPort}`] };
    stubs = await startStubs([{ name: "main", port: stubPort }]);
    nginx = await startNginx("federation-limits", {
      name: "matrix", serverNames: [host], maps: guard.maps, httpDirectives: guard.httpDirectives, serverDirectives: guard.serverDirectives,
      upstreams: [main], locations: matrixLocations({ upstream: main.name, maxUploadSize: "50M", adminAllowedNetworks: [] }),
    }, ports);
    agent = sandboxAgent({ address: "127.0.0.1", ca: nginx.ca });
  });
  afterAll(async () => {
    await agent?.close();
    await stopAll(nginx, stubs);
  });

  /** Sends `count` requests as fast as one connection allows; the status codes, counted. */
  async function send(count: number, headers: Record<string, string> = {}, path = "/_matrix/federation/v1/send/1") {
    const statuses: Record<number, number> = {};
    for (let i = 0; i < count; i++) {
      const r = await request(agent, `https://${host}:${ports.https}${path.replace(/1$/, String(i))}`, { method: "PUT", headers, body: {} });
      statuses[r.status] = (statuses[r.status] ?? 0) + 1;
    }
    return statuses;
  }

  it("limits a flood from one origin with 429s, while another origin at the same time is served", async () => {
    const [flood, calm] = await Promise.all([send(60, signedBy("flood.example")), send(4, signedBy("calm.example"))]);
    expect(flood[429]).toBeGreaterThan(20);
    expect(flood[200]).toBeGreaterThanOrEqual(6); // the first request and the burst of 5
    expect(calm).toEqual({ 200: 4 });
  });

  it("gives a peer with its own rate its own allowance", async () => {
    expect(await send(40, signedBy("big.example"))).toEqual({ 200: 40 });
  });

  it("refuses a denied origin with 403 before Synapse sees it", async () => {
    expect(await send(3, signedBy("spam.example"))).toEqual({ 403: 3 });
  });

  it("does not count unsigned requests (clients) against any origin", async () => {
    expect(await send(40, {}, "/_matrix/client/v3/rooms/!r:example.org/send/m.room.message/1")).toEqual({ 200: 40 });
  });
});
