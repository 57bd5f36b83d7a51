// nginx sites from typed parts: upstreams and locations are lists other components extend
// (the worker pool adds its upstreams and routing locations ahead of the catch-all).
import { synapseListen, tlsRoot } from "./paths";

export interface NginxUpstream {
  name: string;
  servers: string[];
  /** e.g. `hash $mxid_localpart consistent;` */
  directives?: string[];
}

export interface NginxLocation {
  /** What follows `location`, e.g. `^~ /_synapse/admin` or `= /.well-known/matrix/server`. */
  match: string;
  directives: string[];
  /** Locations inside this one (they inherit its allow/deny rules). */
  nested?: NginxLocation[];
}

/** An http-level `map`: entries are [source pattern, value], e.g. ['"~Bearer syt_(?<u>.*?)_"', "$u"]. */
export interface NginxMap {
  source: string;
  variable: string;
  entries: [string, string][];
}

/** What a component adds to the matrix site: maps, upstreams, locations before the catch-all,
 *  and locations inside the admin API's fence. */
export interface NginxRouting {
  maps: NginxMap[];
  upstreams: NginxUpstream[];
  locations: NginxLocation[];
  adminLocations: NginxLocation[];
}

export interface NginxSite {
  /** File name under sites-available (without .conf). */
  name: string;
  serverNames: string[];
  /** Directory holding fullchain.pem and privkey.pem. */
  tlsDir: string;
  httpsPorts: number[];
  maps?: NginxMap[];
  /** http-level directives, e.g. limit_req_zone. */
  httpDirectives?: string[];
  /** Directives at the top of the HTTPS server block, e.g. limit_req. */
  serverDirectives?: string[];
  upstreams: NginxUpstream[];
  locations: NginxLocation[];
  /** Served on port 80 for ACME HTTP-01; everything else there redirects to HTTPS. */
  acmeWebroot: string;
}

export const acmeWebroot = "/var/www/acme";
export const tlsDirFor = (site: string) => `${tlsRoot}/${site}`;
export const mainUpstream: NginxUpstream = { name: "synapse_main", servers: [`${synapseListen.host}:${synapseListen.port}`] };

export function proxyTo(upstream: string, maxBodySize: string): string[] {
  return [
    `proxy_pass http://${upstream};`,
    "proxy_set_header X-Forwarded-For $remote_addr;",
    "proxy_set_header X-Forwarded-Proto $scheme;",
    "proxy_set_header Host $host;",
    "proxy_http_version 1.1;",
    // Without this nginx sends "Connection: close" and the upstream's keepalive pool stays empty:
    // every request would open a new connection to Synapse (nginx's docs for `keepalive`).
    'proxy_set_header Connection "";',
    `client_max_body_size ${maxBodySize};`,
  ];
}

export interface MatrixLocationOptions {
  upstream: string;
  maxUploadSize: string;
  adminAllowedNetworks: string[];
  /** Admin paths another process serves (the media worker's), checked before the main process. */
  adminLocations?: NginxLocation[];
}

/**
 * The admin API only from allowed networks (the host itself always), then the seed's catch-all
 * for /_matrix and /_synapse/client. `^~` makes the admin prefix win over every regex.
 */
export function matrixLocations(o: MatrixLocationOptions): NginxLocation[] {
  return [
    {
      match: "^~ /_synapse/admin",
      directives: [
        "allow 127.0.0.1;",
        "allow ::1;",
        ...o.adminAllowedNetworks.map((cidr) => `allow ${cidr};`),
        "deny all;",
        ...proxyTo(o.upstream, o.maxUploadSize),
      ],
      nested: o.adminLocations,
    },
    { match: "~* ^(\\/_matrix|\\/_synapse\\/client)", directives: proxyTo(o.upstream, o.maxUploadSize) },
  ];
}

function block(head: string, lines: string[], indent = "    "): string[] {
  return [`${head} {`, ...lines.map((l) => (l === "" ? "" : indent + l)), "}"];
}

function locationBlock(l: NginxLocation): string[] {
  const nested = (l.nested ?? []).flatMap((n) => ["", ...locationBlock(n)]);
  return block(`location ${l.match}`, [...l.directives, ...nested]);
}

export function renderSite(site: NginxSite): string {
  const names = site.serverNames.join(" ");
  const out: string[] = ["# Managed by the synapse Pulumi program; local edits are overwritten.", ""];
  for (const m of site.maps ?? []) {
    out.push(...block(`map ${m.source} ${m.variable}`, m.entries.map(([k, v]) => `${k} ${v};`)), "");
  }
  if (site.httpDirectives?.length) out.push(...site.httpDirectives, "");
  for (const u of site.upstreams) {
    out.push(...block(`upstream ${u.name}`, [...(u.directives ?? []), ...u.servers.map((s) => `server ${s};`), "keepalive 16;"]), "");
  }
  out.push(...block("server", [
    "listen 80;",
    "listen [::]:80;",
    `server_name ${names};`,
    "",
    ...block("location ^~ /.well-known/acme-challenge/", [`root ${site.acmeWebroot};`, "default_type text/plain;"]),
    ...block("location /", ["return 301 https://$host$request_uri;"]),
  ]), "");
  const listens = site.httpsPorts.flatMap((p) => [`listen ${p} ssl;`, `listen [::]:${p} ssl;`]);
  out.push(...block("server", [
    ...listens,
    `server_name ${names};`,
    "",
    `ssl_certificate ${site.tlsDir}/fullchain.pem;`,
    `ssl_certificate_key ${site.tlsDir}/privkey.pem;`,
    "ssl_protocols TLSv1.2 TLSv1.3;",
    "",
    ...(site.serverDirectives?.length ? [...site.serverDirectives, ""] : []),
    ...site.locations.flatMap((l) => [...locationBlock(l), ""]),
    ...block("location /", ["return 404;"]),
  ]), "");
  return out.join("\n");
}
