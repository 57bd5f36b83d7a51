// Calls (TURN): the turn* keys and their rules, coturn's config and Synapse's side rendered from
// them, and what the program runs where (under Pulumi's mocks).
import YAML from "yaml";
import { parseSettings, RawConfig, Settings } from "../../config";
import { hostPackagePlans } from "../../render/packages";
import { cidrRange, deniedPeerRanges, renderTurnserverConf, turnFirewall, turnHomeserverPart, turnUris } from "../../render/turn";
import { renderTable } from "../../render/firewall";
import { validRaw } from "../support/fixtures";
import { runProgram, secretOf } from "../support/mockProgram";

const settingsOf = (raw: RawConfig): Settings => {
  const r = parseSettings({ ...validRaw(), ...raw });
  if (!r.ok) throw new Error(r.errors.join("\n"));
  return r.settings;
};
const errorsOf = (raw: RawConfig) => { const r = parseSettings({ ...validRaw(), ...raw }); return r.ok ? [] : r.errors; };

describe("config", () => {
  it("is off by default, and on the Synapse VPS under matrixHost's name when on", () => {
    expect(settingsOf({}).turn).toBeUndefined();
    expect(settingsOf({ turn: "true" }).turn).toEqual({
      connection: settingsOf({}).hosts.synapse, onSynapseHost: true, domain: "matrix.example.org",
      relayPorts: { min: 49152, max: 65535 }, userLifetime: "1h", allowedPeerRanges: [],
    });
  });

  it("takes a host of its own (the Synapse VPS's SSH settings), named turn.<serverName> unless told", () => {
    const t = settingsOf({ turn: "true", turnHost: "198.51.100.20", sshUser: "deploy", turnExternalIp: "203.0.113.50",
      turnRelayPorts: "40000-40999", turnUserLifetime: "2h", turnAllowedPeerRanges: '["10.10.0.0/16"]' }).turn!;
    expect(t).toMatchObject({
      onSynapseHost: false, domain: "turn.example.org", externalIp: "203.0.113.50", relayPorts: { min: 40000, max: 40999 },
      userLifetime: "2h", allowedPeerRanges: ["10.10.0.0/16"],
    });
    expect(t.connection).toMatchObject({ host: "198.51.100.20", user: "deploy", port: 22 });
    expect(settingsOf({ turn: "true", turnHost: "198.51.100.20", turnDomain: "relay.example.org" }).turn!.domain).toBe("relay.example.org");
  });

  it.each<[string, RawConfig, RegExp[]]>([
    ["a relay range below the program's ports, or the wrong way round", { turn: "true", turnRelayPorts: "3000-4000" },
      [/synapse:turnRelayPorts: given "3000-4000", expected min-max with 10000 ≤ min ≤ max ≤ 65535/]],
    ["a relay range backwards", { turn: "true", turnRelayPorts: "60000-50000" }, [/synapse:turnRelayPorts: given "60000-50000"/]],
    ["a relay range past 65535", { turn: "true", turnRelayPorts: "60000-70000" }, [/synapse:turnRelayPorts: given "60000-70000"/]],
    ["a relay range that is no range", { turn: "true", turnRelayPorts: "49152" }, [/synapse:turnRelayPorts: given "49152", expected a port range such as 49152-65535/]],
    ["the Synapse VPS as a host of its own", { turn: "true", turnHost: "203.0.113.10" }, [/synapse:turnHost: given "203.0.113.10", expected another host than the Synapse VPS/]],
    ["another name on the Synapse VPS (nginx's certificate names matrixHost)", { turn: "true", turnDomain: "turn.example.org" },
      [/synapse:turnDomain: given "turn.example.org", expected nothing or "matrix.example.org" without turnHost/]],
    ["milliseconds (Synapse refuses them)", { turn: "true", turnUserLifetime: "500ms" }, [/synapse:turnUserLifetime: given "500ms", expected a duration such as 90d/]],
    ["a peer range that is no CIDR", { turn: "true", turnAllowedPeerRanges: '["10.0.0.0"]' }, [/synapse:turnAllowedPeerRanges\[0\]: given .*expected a CIDR/]],
    ["its keys without turn", { turnHost: "198.51.100.20", turnRelayPorts: "50000-50100" }, [
      /synapse:turnHost: given "198.51.100.20", expected nothing without turn: true/, /synapse:turnRelayPorts: given "50000-50100", expected nothing without turn: true/]],
  ])("refuses %s", (_, raw, expected) => {
    const errors = errorsOf(raw);
    for (const e of expected) expect(errors).toEqual(expect.arrayContaining([expect.stringMatching(e)]));
    expect(errors).toHaveLength(expected.length);
  });
});

describe("rendering", () => {
  const t = settingsOf({ turn: "true", turnAllowedPeerRanges: '["10.231.0.0/16"]' }).turn!;

  it("turns CIDRs into coturn's ranges, as Synapse's TURN guide writes them", () => {
    expect(cidrRange("10.0.0.0/8")).toBe("10.0.0.0-10.255.255.255");
    expect(cidrRange("172.16.0.0/12")).toBe("172.16.0.0-172.31.255.255");
    expect(cidrRange("203.0.113.7/32")).toBe("203.0.113.7");
    expect(cidrRange("fc00::/7")).toBe("fc00::-fdff:ffff:ffff:ffff:ffff:ffff:ffff:ffff");
    expect(cidrRange("64:ff9b::/96")).toBe("64:ff9b::-64:ff9b::ffff:ffff");
    expect(cidrRange("::ffff:0:0/96")).toBe("::ffff:0:0-::ffff:ffff:ffff");
    expect(cidrRange("10.231.40.9/16")).toBe("10.231.0.0-10.231.255.255");
  });

  it("gives Synapse the three URIs, the secret's file, the lifetime and no guests", () => {
    expect(turnHomeserverPart(t)).toEqual({
      turn_uris: ["turn:matrix.example.org:3478?transport=udp", "turn:matrix.example.org:3478?transport=tcp", "turns:matrix.example.org:5349?transport=tcp"],
      turn_shared_secret_path: "/etc/matrix-synapse/turn-shared-secret",
      turn_user_lifetime: "1h",
      turn_allow_guests: false,
    });
    expect(turnUris({ domain: "turn.example.org" })[2]).toBe("turns:turn.example.org:5349?transport=tcp");
  });

  it("configures coturn with shared-secret auth, no secret in the readable part, and every private or special range denied", () => {
    const conf = renderTurnserverConf(t, "example.org");
    const lines = conf.split("\n");
    expect(lines).toEqual(expect.arrayContaining(["use-auth-secret", "realm=example.org", "no-cli", "no-multicast-peers", "no-tcp-relay",
      "listening-port=3478", "tls-listening-port=5349", "min-port=49152", "max-port=65535", "cert=/etc/synapse-deploy/turn-tls/fullchain.pem",
      "pkey=/etc/synapse-deploy/turn-tls/privkey.pem", "allowed-peer-ip=10.231.0.0-10.231.255.255"]));
    expect(conf).not.toMatch(/static-auth-secret/);
    expect(conf).not.toMatch(/external-ip/);
    const denied = lines.filter((l) => l.startsWith("denied-peer-ip=")).map((l) => l.slice("denied-peer-ip=".length));
    expect(denied).toEqual(deniedPeerRanges.map(cidrRange));
    // The ranges Synapse's guide names, and the cloud metadata service.
    expect(denied).toEqual(expect.arrayContaining(["10.0.0.0-10.255.255.255", "192.168.0.0-192.168.255.255", "172.16.0.0-172.31.255.255",
      "127.0.0.0-127.255.255.255", "169.254.0.0-169.254.255.255", "100.64.0.0-100.127.255.255", "::-::1", "fe80::-febf:ffff:ffff:ffff:ffff:ffff:ffff:ffff"]));
    expect(renderTurnserverConf({ ...t, externalIp: "203.0.113.50" }, "example.org")).toContain("\nexternal-ip=203.0.113.50\n");
  });

  it("opens exactly TURN's ports, and drops the relay's packets to denied ranges except the allowed ones", () => {
    const rules = renderTable(turnFirewall({ ...t, relayPorts: { min: 50000, max: 50100 } }));
    expect(rules).toContain("tcp dport { 3478, 5349 } accept");
    expect(rules).toContain("udp dport { 3478, 50000-50100 } accept");
    const allow = rules.indexOf('meta skuid "turnserver" udp sport 50000-50100 ip daddr 10.231.0.0/16 accept');
    const drop = rules.indexOf('meta skuid "turnserver" udp sport 50000-50100 ip daddr { 0.0.0.0/8, 10.0.0.0/8,');
    expect(allow).toBeGreaterThan(0);
    expect(drop).toBeGreaterThan(allow);
    expect(rules).toContain('meta skuid "turnserver" udp sport 50000-50100 ip6 daddr { ::/127,');
  });
});

describe("the program", () => {
  const stack = { serverName: "example.org", host: "203.0.113.10", tlsMode: "self-signed", packageSource: "debian", adminUser: "admin", turn: "true" };

  it("shares a generated secret with Synapse (a 0600 file) and coturn (stdin), never in a command or readable file", async () => {
    const run = await runProgram(stack);
    const secret = secretOf("turn-shared-secret");
    const file = run.byName("synapse-staged-turn-shared-secret");
    expect(file.inputs.create).toContain("DEST=/var/lib/synapse-deploy/staged/synapse/turn-shared-secret\nMODE=0600\nOWNER=matrix-synapse:\n");
    expect(file.inputs.stdin).toBe(secret);
    expect(file.secretInputs).toContain("stdin");
    const activate = run.byName("turn-activate");
    expect(activate.inputs.stdin).toBe(secret);
    expect(activate.secretInputs).toContain("stdin");
    for (const r of run.resources.filter((x) => x.type === "command:remote:Command")) {
      expect({ name: r.name, leaks: String(r.inputs.create ?? "").includes(secret) }).toEqual({ name: r.name, leaks: false });
      if (!r.secretInputs.includes("stdin")) expect({ name: r.name, leaks: String(r.inputs.stdin ?? "").includes(secret) }).toEqual({ name: r.name, leaks: false });
    }
    const homeserver = YAML.parse(run.byName("synapse-staged-homeserver").inputs.stdin);
    expect(homeserver).toMatchObject({ turn_shared_secret_path: "/etc/matrix-synapse/turn-shared-secret", turn_allow_guests: false });
    expect(run.outputs.turnUris).toEqual(homeserver.turn_uris);
  });

  it("starts coturn on the Synapse VPS once nginx has its certificate, with its firewall after the package", async () => {
    const run = await runProgram(stack);
    const dependsOn = (name: string) => run.byName(name).dependencies.map((u) => u.split("::").pop());
    expect(dependsOn("turn-activate")).toEqual(expect.arrayContaining(["nginx-activate", "turn-staged-turnserver-conf", "turn-staged-synapse-turn-tls"]));
    expect(run.byName("turn-activate").inputs.create).toContain("TLS_SOURCE=/etc/synapse-deploy/tls/matrix\n");
    expect(dependsOn("turn-firewall")).toContain("turn-activate");
    expect(run.byName("turn-teardown").inputs.delete).toContain("TABLE=synapse_turn\n");
    expect(run.byName("host-packages-synapse").inputs.create).toMatch(/PACKAGES='[^']*\bcoturn\b/);
    expect(run.resources.filter((r) => r.name.startsWith("turn-site"))).toEqual([]);
  });

  it("on a host of its own: coturn and an nginx site for its certificate there, Synapse's side on the Synapse VPS", async () => {
    const own = { ...stack, turnHost: "198.51.100.20" };
    const run = await runProgram(own);
    const host = (name: string) => run.byName(name).inputs.connection.host;
    // Other names than on the Synapse VPS: moving coturn deletes the old steps, whose teardown runs there.
    expect(run.resources.filter((r) => /^turn-(activate|teardown)$/.test(r.name))).toEqual([]);
    expect(host("turn-host-activate")).toBe("198.51.100.20");
    expect(host("turn-host-teardown")).toBe("198.51.100.20");
    expect(host("turn-host-site-activate")).toBe("198.51.100.20");
    expect(run.byName("turn-host-site-staged-site").inputs.stdin).toContain("server_name turn.example.org;");
    expect(run.byName("turn-host-activate").inputs.create).toContain("TLS_SOURCE=/etc/synapse-deploy/tls/turn\n");
    expect(run.byName("turn-host-activate").dependencies.map((u) => u.split("::").pop())).toEqual(expect.arrayContaining(["turn-host-site-activate", "synapse-activate"]));
    expect(host("synapse-staged-turn-shared-secret")).toBe("203.0.113.10");
    const r = parseSettings({ ...validRaw(), ...own, tlsMode: "self-signed" });
    if (!r.ok) throw new Error(r.errors.join("\n"));
    expect(hostPackagePlans(r.settings).find((p) => p.role === "turn")).toMatchObject({
      connection: { host: "198.51.100.20" }, packages: ["coturn", "nftables", "nginx", "openssl", "ssl-cert"],
    });
  });
});
