// coturn's config, Synapse's TURN settings and the TURN host's firewall, from the TURN settings.
// Hardening as in Synapse's TURN guide (docs/setup/turn/coturn.md): shared-secret credentials
// only, no CLI, no multicast or TCP relay, per-user quotas, and the relay denied every private and
// special range, so it cannot be used to reach the VPS's own network or the cloud's metadata
// service; the firewall repeats that denial for the relay's sockets.
import { isIP } from "node:net";
import { TurnSettings, turnPorts } from "../config/turn";
import { FirewallTable, nftSet } from "./firewall";
import { HomeserverPart } from "./homeserver";
import { synapseConfigDir } from "./paths";

/** Where coturn's pieces live on its host. */
export const turnPaths = {
  conf: "/etc/turnserver.conf",
  /** Copies of the certificate, readable by coturn's user (the originals are root's). */
  tlsDir: "/etc/synapse-deploy/turn-tls",
  /** Copies the certificate there and restarts coturn when it changed: after each renewal too. */
  tlsTool: "/usr/local/sbin/synapse-turn-tls",
  renewalHook: "/etc/letsencrypt/renewal-hooks/deploy/synapse-deploy-coturn.sh",
} as const;
/** Synapse reads the shared secret from this 0600 file (turn_shared_secret_path, checked on 1.160). */
export const turnSecretFile = "turn-shared-secret";
/** The nginx site (and certificate directory) of a TURN host of its own. */
export const turnSiteName = "turn";

/**
 * Private and special-purpose ranges the relay must never reach (RFC 6890 and the ranges in
 * Synapse's TURN guide): loopback, the private networks, carrier-grade NAT, link-local (the cloud
 * metadata service at 169.254.169.254), documentation, benchmarking, 6to4 and NAT64 relays,
 * multicast and reserved.
 */
export const deniedPeerRanges = [
  "0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16", "172.16.0.0/12", "192.0.0.0/24", "192.0.2.0/24",
  "192.88.99.0/24", "192.168.0.0/16", "198.18.0.0/15", "198.51.100.0/24", "203.0.113.0/24", "224.0.0.0/4", "240.0.0.0/4",
  "::/127", "::ffff:0:0/96", "64:ff9b::/96", "64:ff9b:1::/48", "100::/64", "2001::/23", "2001:db8::/32", "2002::/16",
  "fc00::/7", "fe80::/10", "ff00::/8",
] as const;

const bits = (family: 4 | 6) => (family === 4 ? 32 : 128);

function toBigInt(address: string): bigint {
  if (isIP(address) === 4) return address.split(".").reduce((n, octet) => (n << 8n) + BigInt(Number(octet)), 0n);
  let [head, tail] = address.includes("::") ? address.split("::") : [address, undefined];
  // An IPv4 tail (::ffff:1.2.3.4) is two groups.
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(tail ?? head);
  const groups = (s: string | undefined) => (s ? s.split(":") : []);
  if (v4) {
    const n = toBigInt(v4[1]);
    const replaced = `${((n >> 16n) & 0xffffn).toString(16)}:${(n & 0xffffn).toString(16)}`;
    if (tail !== undefined) tail = tail.replace(v4[1], replaced); else head = head.replace(v4[1], replaced);
  }
  const h = groups(head);
  const t = groups(tail);
  const all = tail === undefined ? h : [...h, ...Array(8 - h.length - t.length).fill("0"), ...t];
  return all.reduce((n, g) => (n << 16n) + BigInt(parseInt(g, 16)), 0n);
}

function fromBigInt(n: bigint, family: 4 | 6): string {
  if (family === 4) return [24n, 16n, 8n, 0n].map((s) => String((n >> s) & 0xffn)).join(".");
  const groups = Array.from({ length: 8 }, (_, i) => ((n >> BigInt(16 * (7 - i))) & 0xffffn).toString(16));
  // The longest run of two or more zero groups becomes "::".
  let best = { at: -1, len: 1 };
  for (let i = 0; i < 8;) {
    let j = i;
    while (j < 8 && groups[j] === "0") j++;
    if (j - i > best.len) best = { at: i, len: j - i };
    i = j === i ? i + 1 : j;
  }
  if (best.at < 0) return groups.join(":");
  return `${groups.slice(0, best.at).join(":")}::${groups.slice(best.at + best.len).join(":")}`;
}

/** A CIDR as coturn's peer rules take it: the first and last address, "a-b" (one address alone). */
export function cidrRange(cidr: string): string {
  const [address, prefix] = cidr.split("/");
  const family = isIP(address) as 4 | 6;
  const size = BigInt(bits(family) - Number(prefix));
  const first = (toBigInt(address) >> size) << size;
  const last = first + (1n << size) - 1n;
  return first === last ? fromBigInt(first, family) : `${fromBigInt(first, family)}-${fromBigInt(last, family)}`;
}

/** The three ways a client reaches TURN: UDP and TCP on 3478, TLS on 5349. */
export function turnUris(t: Pick<TurnSettings, "domain">): string[] {
  return [
    `turn:${t.domain}:${turnPorts.plain}?transport=udp`,
    `turn:${t.domain}:${turnPorts.plain}?transport=tcp`,
    `turns:${t.domain}:${turnPorts.tls}?transport=tcp`,
  ];
}

/** Synapse's side: where TURN is, the secret's file, how long credentials last, no guests. */
export function turnHomeserverPart(t: TurnSettings): HomeserverPart {
  return {
    turn_uris: turnUris(t),
    turn_shared_secret_path: `${synapseConfigDir}/${turnSecretFile}`,
    turn_user_lifetime: t.userLifetime,
    turn_allow_guests: false,
  };
}

/**
 * /etc/turnserver.conf without its secret: turn-activate.sh appends `static-auth-secret` (from
 * stdin) on the host, so this part stays readable in a preview's diff.
 */
export function renderTurnserverConf(t: TurnSettings, realm: string): string {
  return [
    "# Managed by the synapse Pulumi program; local edits are overwritten.",
    `listening-port=${turnPorts.plain}`,
    `tls-listening-port=${turnPorts.tls}`,
    // Credentials only from Synapse (the TURN REST API's shared secret), for this realm.
    "use-auth-secret",
    `realm=${realm}`,
    "fingerprint",
    `cert=${turnPaths.tlsDir}/fullchain.pem`,
    `pkey=${turnPaths.tlsDir}/privkey.pem`,
    "no-tlsv1",
    "no-tlsv1_1",
    ...(t.externalIp ? [`external-ip=${t.externalIp}`] : []),
    `min-port=${t.relayPorts.min}`,
    `max-port=${t.relayPorts.max}`,
    // Calls are UDP: no relay to arbitrary TCP endpoints; a call is up to 4 streams, so 12 per user.
    "no-tcp-relay",
    "user-quota=12",
    "total-quota=1200",
    "no-cli",
    "no-multicast-peers",
    "no-software-attribute",
    ...deniedPeerRanges.map((r) => `denied-peer-ip=${cidrRange(r)}`),
    // An allowed range wins over a denied one (coturn's rule).
    ...t.allowedPeerRanges.map((r) => `allowed-peer-ip=${cidrRange(r)}`),
    // To the journal (coturn's default is a file under /var/tmp).
    "log-file=stdout",
    "simple-log",
    "",
  ].join("\n");
}

/**
 * The TURN host's table: TURN's ports accepted (listening, plain and TLS, and the relay's range),
 * and the relay's own packets to a denied range dropped on the way out, whatever coturn's rules
 * say (coturn's user, from a relay port). A table cannot open a port another table drops: a
 * default-deny firewall of the admin's (ufw, firewalld) must open the same ports (docs/calls.md).
 */
export function turnFirewall(t: TurnSettings): FirewallTable {
  const relay = `${t.relayPorts.min}-${t.relayPorts.max}`;
  const byFamily = (ranges: readonly string[], family: 4 | 6) => ranges.filter((r) => isIP(r.split("/")[0]) === family);
  const egress = (family: 4 | 6) => {
    const ip = family === 4 ? "ip" : "ip6";
    const allowed = byFamily(t.allowedPeerRanges, family);
    return [
      ...(allowed.length ? [`  meta skuid "turnserver" udp sport ${relay} ${ip} daddr ${nftSet(allowed)} accept`] : []),
      `  meta skuid "turnserver" udp sport ${relay} ${ip} daddr ${nftSet(byFamily(deniedPeerRanges, family))} drop`,
    ];
  };
  return {
    name: "turn",
    description: `TURN on ${turnPorts.plain} and ${turnPorts.tls}, the relay on ${relay}, and no relay to private or special ranges`,
    chains: [
      "chain input {",
      "  type filter hook input priority filter; policy accept;",
      `  tcp dport ${nftSet(Object.values(turnPorts))} accept`,
      // TURN over TLS is TCP only: coturn starts no DTLS listener unless asked.
      `  udp dport ${nftSet([turnPorts.plain, relay])} accept`,
      "}",
      "chain output {",
      "  type filter hook output priority filter; policy accept;",
      ...egress(4),
      ...egress(6),
      "}",
    ],
  };
}
