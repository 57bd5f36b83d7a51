// Inbound federation limits: per tier and overridden, in homeserver.yaml (rc_federation) and in
// the nginx site (per-origin zones, a peer's own zone, the deny list).
import YAML from "yaml";
import { parseSettings, RawConfig, tierFederationLimits } from "../../config";
import { federationGuard } from "../../render/federationLimits";
import { validRaw } from "../support/fixtures";
import { runProgram } from "../support/mockProgram";

const parsed = (raw: RawConfig) => parseSettings(validRaw(raw));

describe("config", () => {
  it("takes the tier's limits, each overridable", () => {
    const solo = parsed({});
    if (!solo.ok) throw new Error(solo.errors.join("\n"));
    expect(solo.settings.federationLimits).toEqual({ ...tierFederationLimits.solo, peers: [], deny: [] });
    const tuned = parsed({ tier: "large", rcFederationConcurrent: "4", federationOriginRate: "40", federationPeerRates: '["matrix.org=200","b.example:8448=50"]', federationDenyOrigins: '["spam.example"]' });
    if (!tuned.ok) throw new Error(tuned.errors.join("\n"));
    expect(tuned.settings.federationLimits).toEqual({
      rc: { ...tierFederationLimits.large.rc, concurrent: 4 }, originRate: 40, originBurst: tierFederationLimits.large.originBurst,
      peers: [{ origin: "matrix.org", rate: 200 }, { origin: "b.example:8448", rate: 50 }], deny: ["spam.example"],
    });
  });

  it("gives more room to bigger tiers", () => {
    const [solo, community, large] = (["solo", "community", "large"] as const).map((t) => tierFederationLimits[t]);
    for (const [a, b] of [[solo, community], [community, large]]) {
      expect(b.originRate).toBeGreaterThan(a.originRate);
      expect(b.rc.reject_limit).toBeGreaterThan(a.rc.reject_limit);
      expect(b.rc.concurrent).toBeGreaterThan(a.rc.concurrent);
    }
  });

  it.each<[string, RawConfig, RegExp]>([
    ["a peer rate without a rate", { federationPeerRates: '["matrix.org"]' }, /synapse:federationPeerRates\[0\]: given .*matrix.org.*, expected server.name=requests-per-second/],
    ["a peer twice", { federationPeerRates: '["a.example=5","a.example=9"]' }, /synapse:federationPeerRates\[1\]: .*expected each origin once/],
    ["a rate for a denied origin", { federationPeerRates: '["a.example=5"]', federationDenyOrigins: '["a.example"]' }, /expected no rate for a denied origin/],
    ["a negative rate", { federationOriginRate: "-1" }, /synapse:federationOriginRate: given "-1", expected an integer >= 1/],
    ["a deny entry that is no server name", { federationDenyOrigins: '["not a name"]' }, /synapse:federationDenyOrigins\[0\]: given .*expected a server name/],
  ])("refuses %s", (_, raw, expected) => {
    const r = parsed(raw);
    expect(r.ok ? [] : r.errors).toEqual([expect.stringMatching(expected)]);
  });
});

describe("nginx", () => {
  it("counts signed requests per origin, a peer in its own zone, and refuses denied origins", () => {
    const guard = federationGuard({ ...tierFederationLimits.solo, peers: [{ origin: "matrix.org", rate: 200 }], deny: ["spam.example"] });
    expect(guard.httpDirectives).toEqual([
      "limit_req_zone $federation_limit_default zone=federation_default:10m rate=10r/s;",
      "limit_req_zone $federation_limit_peer1 zone=federation_peer1:10m rate=200r/s;",
    ]);
    expect(guard.serverDirectives).toEqual(expect.arrayContaining([
      "limit_req_status 429;", "limit_req zone=federation_default burst=50 nodelay;", "limit_req zone=federation_peer1 burst=50 nodelay;",
      "if ($federation_denied) {",
    ]));
    const byVariable = Object.fromEntries(guard.maps.map((m) => [m.variable, m.entries]));
    // Unsigned requests have an empty key, which limit_req does not count.
    expect(byVariable.$federation_signed_origin[0]).toEqual(["default", '""']);
    expect(byVariable.$federation_limit_default).toEqual([["default", "$federation_signed_origin"], ['"matrix.org"', '""']]);
    expect(byVariable.$federation_limit_peer1).toEqual([["default", '""'], ['"matrix.org"', "$federation_signed_origin"]]);
    expect(byVariable.$federation_denied).toEqual([["default", "0"], ['"spam.example"', "1"]]);
  });

  it("has no deny map without a deny list", () => {
    const guard = federationGuard({ ...tierFederationLimits.solo, peers: [], deny: [] });
    expect(guard.maps.map((m) => m.variable)).toEqual(["$federation_signed_origin", "$federation_limit_default"]);
    expect(guard.serverDirectives.join("\n")).not.toContain("403");
  });
});

describe("the program", () => {
  it("puts rc_federation in homeserver.yaml and the limits in the matrix site (not the well-known one)", async () => {
    const run = await runProgram({ serverName: "example.org", host: "203.0.113.10", tlsMode: "self-signed", packageSource: "debian", tier: "community" });
    expect(YAML.parse(run.byName("synapse-staged-homeserver").inputs.stdin).rc_federation).toEqual(tierFederationLimits.community.rc);
    const site = String(run.byName("nginx-staged-site").inputs.stdin);
    expect(site).toContain("limit_req_zone $federation_limit_default zone=federation_default:10m rate=30r/s;");
    expect(site).toContain("limit_req zone=federation_default burst=100 nodelay;");
    expect(String(run.byName("well-known-staged-site").inputs.stdin)).not.toContain("limit_req");
  });
});
