// Private federations and a private ACME server: what homeserver.yaml, nginx and certbot get.
import YAML from "yaml";
import { parseSettings } from "../../config";
import { baseHomeserverPart } from "../../render/homeserver";
import { otherCertificate, testCertificate, validRaw } from "../support/fixtures";
import { runProgram } from "../support/mockProgram";

const root = testCertificate;
const closed = {
  federationCaCertificates: root, federationIpRangeAllowlist: '["10.231.0.0/16"]',
  federationDomainAllowlist: '["a.test","b.test"]', trustedKeyServers: "[]",
};

describe("a private federation in homeserver.yaml", () => {
  it("trusts its CA instead of the system's, allows its addresses and peers, fetches keys directly", () => {
    const r = parseSettings(validRaw(closed));
    if (!r.ok) throw new Error(r.errors.join("\n"));
    expect(baseHomeserverPart(r.settings)).toMatchObject({
      federation_custom_ca_list: ["/etc/matrix-synapse/federation-ca.pem"],
      ip_range_whitelist: ["10.231.0.0/16"],
      federation_domain_whitelist: ["a.test", "b.test"],
      trusted_key_servers: [],
    });
    // Certificate verification is never turned off.
    expect(JSON.stringify(baseHomeserverPart(r.settings))).not.toMatch(/federation_verify_certificates|accept_keys_insecurely/);
  });
});

describe("the program with a private federation and a private ACME server", () => {
  const stack = {
    serverName: "a.test", host: "203.0.113.10", packageSource: "debian", tlsMode: "acme", acmeEmail: "ops@a.test",
    acmeServer: "https://acme.test:14000/dir", acmeCaBundle: root, ...closed,
  };

  it("puts the federation CA next to homeserver.yaml, checked and activated with it", async () => {
    const run = await runProgram(stack);
    const ca = run.byName("synapse-staged-federation-ca");
    expect(ca.inputs.stdin).toBe(root);
    expect(ca.inputs.create).toContain("DEST=/var/lib/synapse-deploy/staged/synapse/federation-ca.pem");
    expect(run.byName("synapse-activate").inputs.create).toContain("federation-ca.pem'");
    const yaml = YAML.parse(run.byName("synapse-staged-homeserver").inputs.stdin);
    expect(yaml.federation_custom_ca_list).toEqual(["/etc/matrix-synapse/federation-ca.pem"]);
  });

  it("puts each of several federation CAs in a file of its own (Synapse reads one certificate per file)", async () => {
    const second = otherCertificate;
    const run = await runProgram({ ...stack, federationCaCertificates: root + second });
    expect(run.byName("synapse-staged-federation-ca").inputs.stdin).toBe(root);
    expect(run.byName("synapse-staged-federation-ca-2").inputs.stdin).toBe(second);
    expect(YAML.parse(run.byName("synapse-staged-homeserver").inputs.stdin).federation_custom_ca_list)
      .toEqual(["/etc/matrix-synapse/federation-ca.pem", "/etc/matrix-synapse/federation-ca-2.pem"]);
    expect(run.byName("synapse-activate").inputs.create).toContain("federation-ca-2.pem");
  });

  it("asks the private ACME server, trusting its root, for both sites", async () => {
    const run = await runProgram(stack);
    for (const name of ["nginx-acme", "well-known-acme"]) {
      expect(run.byName(name).inputs.create).toContain("SERVER=https://acme.test:14000/dir");
      expect(run.byName(name).inputs.stdin).toBe(root);
    }
    const production = await runProgram({ ...stack, acmeServer: "production", acmeCaBundle: "" });
    expect(production.byName("nginx-acme").inputs.create).toContain("SERVER=https://acme-v02.api.letsencrypt.org/directory");
    expect(production.byName("nginx-acme").inputs.stdin).toBeUndefined();
  });

  it("leaves /.well-known/matrix/server out when federation is on port 8448 without delegation", async () => {
    const on8448 = await runProgram({ ...stack, matrixHost: "a.test", federationPort8448: "true" });
    const site = on8448.byName("nginx-staged-site").inputs.stdin as string;
    expect(site).toContain("listen 8448 ssl;");
    expect(site).not.toContain("/.well-known/matrix/server");
    expect(site).toContain("location = /.well-known/matrix/client");
    const on443 = await runProgram({ ...stack, matrixHost: "a.test" });
    expect(on443.byName("nginx-staged-site").inputs.stdin).toContain("location = /.well-known/matrix/server");
  });
});
