// nginx's share of the federation limits: requests signed by a remote server (Authorization:
// X-Matrix origin=…) are counted per origin in a limit_req zone, a peer with a rate of its own in
// a zone of its own, and a denied origin gets 403. Unsigned requests (clients, key fetches) have
// an empty key, which limit_req does not count.
import { FederationLimits } from "../config/federationLimits";
import { NginxMap } from "./nginx";

export interface NginxGuard {
  maps: NginxMap[];
  /** http-level directives (limit_req_zone). */
  httpDirectives: string[];
  /** Directives in the HTTPS server block. */
  serverDirectives: string[];
}

const origin = "$federation_signed_origin";
const quoted = (s: string) => `"${s}"`;

export function federationGuard(l: FederationLimits): NginxGuard {
  const maps: NginxMap[] = [
    { source: "$http_authorization", variable: origin,
      entries: [["default", '""'], ["'~*^X-Matrix .*origin=\"?(?<signed_origin>[^\",]+)'", "$signed_origin"]] },
    // The default zone counts every origin without a rate of its own.
    { source: origin, variable: "$federation_limit_default",
      entries: [["default", origin], ...l.peers.map((p): [string, string] => [quoted(p.origin), '""'])] },
    ...l.peers.map((p, i): NginxMap => ({ source: origin, variable: `$federation_limit_peer${i + 1}`,
      entries: [["default", '""'], [quoted(p.origin), origin]] })),
  ];
  const zones = [
    { name: "federation_default", key: "$federation_limit_default", rate: l.originRate },
    ...l.peers.map((p, i) => ({ name: `federation_peer${i + 1}`, key: `$federation_limit_peer${i + 1}`, rate: p.rate })),
  ];
  const serverDirectives = [
    "limit_req_status 429;",
    ...zones.map((z) => `limit_req zone=${z.name} burst=${l.originBurst} nodelay;`),
  ];
  if (l.deny.length > 0) {
    maps.push({ source: origin, variable: "$federation_denied", entries: [["default", "0"], ...l.deny.map((d): [string, string] => [quoted(d), "1"])] });
    serverDirectives.push("if ($federation_denied) {", "    return 403;", "}");
  }
  return {
    maps,
    httpDirectives: zones.map((z) => `limit_req_zone ${z.key} zone=${z.name}:10m rate=${z.rate}r/s;`),
    serverDirectives,
  };
}
