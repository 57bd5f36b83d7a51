import { parseSettings, RawConfig, Settings, sizingMagnitudes, tierNames, tiers } from "../../config";
import { testCertificate, testPrivateKey, validRaw } from "../support/fixtures";

function errorsOf(raw: RawConfig): string[] {
  const r = parseSettings(raw);
  if (r.ok) throw new Error("expected the config to be rejected");
  return r.errors;
}

function settingsOf(raw: RawConfig): Settings {
  const r = parseSettings(raw);
  if (!r.ok) throw new Error(r.errors.join("\n"));
  return r.settings;
}

describe("valid config", () => {
  it("derives defaults", () => {
    const s = settingsOf(validRaw());
    expect(s.matrixHost).toBe("matrix.example.org");
    expect(s.delegated).toBe(true);
    expect(s.tier).toBe("solo");
    expect(s.sizing).toEqual(tiers.solo);
    expect(s.packageSource).toBe("matrix-org");
    expect(s.enableRegistration).toBe(false);
    expect(s.hosts.synapse).toEqual({ host: "203.0.113.10", port: 22, user: "root", privateKey: testPrivateKey });
    expect(s.hosts.wellKnown).toEqual(s.hosts.synapse);
    expect(s.tls).toEqual({ mode: "acme", email: "admin@example.org", server: "https://acme-v02.api.letsencrypt.org/directory", caBundle: "" });
    expect(s.federation).toEqual({ caCertificates: [], ipRangeAllowlist: [], domainAllowlist: [] });
    expect(s.trustedKeyServers).toEqual(["matrix.org"]);
    // Versions: what the hosts get first, then held.
    expect(s.versions).toEqual({ synapse: "", postgres: "", dropOldPostgres: "" });
  });

  it("takes pinned versions, a PyPI install and an old cluster to drop", () => {
    const s = settingsOf(validRaw({ packageSource: "pypi", synapseVersion: "1.161.0rc1", postgresVersion: "18", postgresDropOldCluster: "17" }));
    expect(s.packageSource).toBe("pypi");
    expect(s.versions).toEqual({ synapse: "1.161.0rc1", postgres: "18", dropOldPostgres: "17" });
    // Without postgresVersion the held major is known on the host only: the drop step refuses the cluster in use there.
    expect(settingsOf(validRaw({ postgresDropOldCluster: "17" })).versions.dropOldPostgres).toBe("17");
  });

  it("lets each sizing knob be overridden", () => {
    const s = settingsOf(validRaw({
      tier: "community", cacheFactor: "1.5", dbPoolMax: "30", maxUploadSize: "1G",
      postgresSharedBuffers: "2GB", postgresMaxConnections: "300",
    }));
    expect(s.sizing).toEqual({ ...tiers.community, cacheFactor: 1.5, dbPoolMax: 30, maxUploadSize: "1G",
      postgresSharedBuffers: "2GB", postgresMaxConnections: 300 });
  });

  it("derives the pool's other end from the one the user set, instead of refusing the tier's value", () => {
    // Before: dbPoolMax 3 alone was refused with "dbPoolMin: given 5", a value nobody gave.
    expect(settingsOf(validRaw({ dbPoolMax: "3" })).sizing).toMatchObject({ dbPoolMin: 3, dbPoolMax: 3 });
    expect(settingsOf(validRaw({ dbPoolMin: "30" })).sizing).toMatchObject({ dbPoolMin: 30, dbPoolMax: 30, postgresMaxConnections: 50 });
    expect(settingsOf(validRaw({ dbPoolMin: "2" })).sizing).toMatchObject({ dbPoolMin: 2, dbPoolMax: 10 });
  });

  it("takes the well-known host's own connection", () => {
    const s = settingsOf(validRaw({ wellKnownHost: "198.51.100.7", wellKnownSshUser: "deploy", wellKnownSshPort: "2222" }));
    expect(s.hosts.wellKnown).toEqual({ host: "198.51.100.7", port: 2222, user: "deploy", privateKey: testPrivateKey });
  });

  it("resolves the ACME server's shorthands and takes a private one with its root", () => {
    expect(settingsOf(validRaw({ acmeServer: "staging" })).tls).toMatchObject({ server: "https://acme-staging-v02.api.letsencrypt.org/directory" });
    const ca = testCertificate;
    expect(settingsOf(validRaw({ acmeServer: "https://acme.corp.example:14000/dir", acmeCaBundle: ca })).tls)
      .toEqual({ mode: "acme", email: "admin@example.org", server: "https://acme.corp.example:14000/dir", caBundle: ca });
  });

  it("takes a private federation's CA, address ranges and peers", () => {
    const s = settingsOf(validRaw({ federationCaCertificates: testCertificate,
      federationIpRangeAllowlist: '["10.0.0.0/8"]', federationDomainAllowlist: '["a.example","b.example"]', trustedKeyServers: "[]" }));
    expect(s.federation.ipRangeAllowlist).toEqual(["10.0.0.0/8"]);
    expect(s.federation.domainAllowlist).toEqual(["a.example", "b.example"]);
    expect(s.trustedKeyServers).toEqual([]);
  });

  it("serves .well-known from the matrix host when it is the server name", () => {
    expect(settingsOf(validRaw({ matrixHost: "example.org" })).delegated).toBe(false);
  });
});

describe("bad input", () => {
  it.each<[string, RawConfig, RegExp]>([
    ["a bad server name", { serverName: "https://Example.org" }, /synapse:serverName: given "https:\/\/Example.org", expected a lower-case DNS name/],
    ["a server name with a port", { serverName: "example.org:8448" }, /synapse:serverName: .*no scheme, port or path/],
    ["an unknown tier", { tier: "huge" }, /synapse:tier: given "huge", expected one of solo, community, large/],
    ["a missing key", { serverName: undefined }, /synapse:serverName: given nothing, is required but not set \(pulumi config set serverName\)/],
    ["a missing secret", { sshPrivateKey: undefined }, /synapse:sshPrivateKey: given nothing, is required .*--secret/],
    ["a port out of range", { sshPort: "70000" }, /synapse:sshPort: given "70000", expected a port from 1 to 65535/],
    ["a port that is not a number", { sshPort: "ssh" }, /synapse:sshPort: given "ssh", expected an integer/],
    ["a malformed private key", { sshPrivateKey: "ssh-ed25519 AAAAC3Nza... me@laptop" }, /synapse:sshPrivateKey: given a secret value, expected a PEM or OpenSSH private key/],
    ["an upload size nginx can't express", { maxUploadSize: "1T" }, /synapse:maxUploadSize: given "1T", expected digits with an optional K, M or G/],
    ["an upload size in words", { maxUploadSize: "50MB" }, /synapse:maxUploadSize: given "50MB"/],
    ["an unknown package source", { packageSource: "snap" }, /synapse:packageSource: given "snap", expected matrix-org, debian, pypi/],
    ["a Synapse version that is no release", { synapseVersion: "latest" }, /synapse:synapseVersion: given "latest", expected a Synapse release such as 1\.160\.0/],
    ["a Synapse version with a Debian revision", { synapseVersion: "1.160.0-1" }, /synapse:synapseVersion: given "1\.160\.0-1", expected a Synapse release such as 1\.160\.0 \(or 1\.161\.0rc1\)/],
    ["a PostgreSQL version that is no major", { postgresVersion: "17.2" }, /synapse:postgresVersion: given "17\.2", expected a PostgreSQL major version such as 17/],
    ["an old cluster to drop that is no major", { postgresDropOldCluster: "true" }, /synapse:postgresDropOldCluster: given "true", expected the major version of the old cluster to drop, such as 17/],
    // The cluster in use is never dropped, nor one newer than it (a database never moves down).
    ["the cluster in use as the one to drop", { postgresVersion: "18", postgresDropOldCluster: "18" },
      /^synapse:postgresDropOldCluster: given "18", expected a major version older than postgresVersion \("18"\): only a cluster an upgrade moved from is dropped, never the one in use$/],
    ["ACME without an e-mail", { acmeEmail: undefined }, /synapse:acmeEmail: given nothing, expected an e-mail address \(required when tlsMode is acme\)/],
    ["a provided certificate missing", { tlsMode: "provided" }, /synapse:tlsCertificate: given nothing/],
    ["a bad CIDR", { adminAllowedNetworks: '["10.0.0.0/33"]' }, /synapse:adminAllowedNetworks\[0\]: given .*expected a CIDR/],
    ["a list that is not a list", { adminAllowedNetworks: "10.0.0.0/8" }, /synapse:adminAllowedNetworks: given "10.0.0.0\/8", expected a list of strings/],
    ["a boolean that is not one", { enableRegistration: "yes" }, /synapse:enableRegistration: given "yes", expected true or false/],
    ["a pool that cannot fit", { dbPoolMin: "20", dbPoolMax: "10" }, /synapse:dbPoolMin: given 20, expected at most dbPoolMax \(10\)/],
    ["connections below the pool", { postgresMaxConnections: "12" }, /synapse:postgresMaxConnections: given 12, expected at least dbPoolMax × Synapse processes \+ 10 = 10 × 1 \+ 10 = 20/],
    ["a bad PostgreSQL size", { postgresWorkMem: "8M" }, /synapse:postgresWorkMem: given "8M", expected a PostgreSQL size/],
    ["an unknown key", { sererName: "typo.org" }, /synapse:sererName: unknown key/],
    ["a bad matrix host", { matrixHost: "Matrix Host" }, /synapse:matrixHost: given "Matrix Host", expected a lower-case DNS name/],
    ["a cache factor that is not a number", { cacheFactor: "fast" }, /synapse:cacheFactor: given "fast", expected a positive number/],
    ["a cache factor of zero", { cacheFactor: "0" }, /synapse:cacheFactor: given "0", expected a number > 0/],
    ["an admin localpart with capitals", { adminUser: "Admin!" }, /synapse:adminUser: given "Admin!", expected a Matrix localpart/],
    ["a trusted key server that is no server name", { trustedKeyServers: '["not a name"]' }, /synapse:trustedKeyServers\[0\]: given .*expected a server name/],
    ["a well-known SSH user that is no user name", { wellKnownSshUser: "Deploy User" }, /synapse:wellKnownSshUser: given "Deploy User", expected a Unix user name/],
    ["a well-known SSH port out of range", { wellKnownSshPort: "99999" }, /synapse:wellKnownSshPort: given "99999", expected a port from 1 to 65535/],
    ["a negative pool size", { dbPoolMax: "-1" }, /synapse:dbPoolMax: given "-1", expected an integer >= 1/],
    ["a provided certificate that is no PEM", { tlsMode: "provided", tlsCertificate: "cert", tlsPrivateKey: "key" }, /synapse:tlsCertificate: given "cert", expected one or more PEM certificates[\s\S]*synapse:tlsPrivateKey: given a secret value, expected a PEM private key/],
    ["an ACME server over plain HTTP", { acmeServer: "http://acme.example/dir" }, /synapse:acmeServer: given "http:\/\/acme.example\/dir", expected production, staging or an https:\/\/ ACME directory URL/],
    ["an ACME CA bundle that is no PEM", { acmeCaBundle: "my-ca.pem" }, /synapse:acmeCaBundle: given "my-ca.pem", expected one or more PEM certificates/],
    ["a federation range that is no CIDR", { federationIpRangeAllowlist: '["10.0.0.0"]' }, /synapse:federationIpRangeAllowlist\[0\]: given .*expected a CIDR/],
    ["a federation peer that is no server name", { federationDomainAllowlist: '["https://a.example"]' }, /synapse:federationDomainAllowlist\[0\]: given .*expected a server name/],
    ["an ACME e-mail that is no address", { acmeEmail: "admin at example" }, /synapse:acmeEmail: given "admin at example", expected an e-mail address/],
    // Rules of Synapse's own config loader, checked before a host is touched:
    // Config.parse_duration knows s, m, h, d, w and y only.
    ["a duration in milliseconds", { mediaRetentionRemote: "500ms" }, /synapse:mediaRetentionRemote: given "500ms", expected a duration such as 90d \(a number and s, m, h, d, w or y\)/],
    // RetentionConfig: allowed_lifetime_min may not exceed allowed_lifetime_max.
    ["retention bounds the wrong way round", { messageRetentionMin: "30d", messageRetentionMax: "1w" },
      /^synapse:messageRetentionMin: given "30d", expected at most messageRetentionMax \("1w"\): Synapse refuses allowed_lifetime_min above allowed_lifetime_max$/],
  ])("rejects %s, naming the key, the value and the expected form", (_what, overrides, pattern) => {
    const errors = errorsOf(validRaw(overrides));
    expect(errors.join("\n")).toMatch(pattern);
  });

  it("names a key that was renamed or removed, with what to do, instead of calling it unknown", () => {
    expect(errorsOf(validRaw({ federationDomainWhitelist: '["a.example"]' }))).toEqual([
      "synapse:federationDomainWhitelist: was renamed to federationDomainAllowlist (December 2026, named like federationIpRangeAllowlist; " +
        "the value is the same list): set federationDomainAllowlist to its value (pulumi config set federationDomainAllowlist …) " +
        "and remove federationDomainWhitelist (pulumi config rm federationDomainWhitelist)",
    ]);
  });

  it("reports every problem at once", () => {
    const errors = errorsOf({ serverName: "bad name", tier: "huge", sshPort: "0", sshPrivateKey: "nope", host: "203.0.113.1", maxUploadSize: "5T" });
    const keys = errors.map((e) => e.split(":")[1]);
    expect(keys).toEqual(expect.arrayContaining(["serverName", "tier", "sshPort", "sshPrivateKey", "maxUploadSize"]));
  });

  it("refuses a secret key set in plain text (without --secret), and accepts it encrypted", () => {
    const raw = validRaw({ tlsMode: "provided", tlsCertificate: undefined, tlsPrivateKey: undefined });
    const pem = "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIA==\n-----END PRIVATE KEY-----\n";
    const plain = parseSettings({ ...raw, tlsPrivateKey: pem }, new Set(["sshPrivateKey"]));
    expect(plain.ok ? [] : plain.errors).toEqual(expect.arrayContaining([
      expect.stringMatching(/^synapse:tlsPrivateKey: given a plain-text value, expected a secret \(pulumi config set --secret tlsPrivateKey/),
    ]));
    expect(JSON.stringify(plain)).not.toContain("MC4CAQAw");
    const encrypted = parseSettings({ ...raw, tlsPrivateKey: pem }, new Set(["sshPrivateKey", "tlsPrivateKey"]));
    expect(encrypted.ok ? [] : encrypted.errors.filter((e) => e.includes("plain-text"))).toEqual([]);
    // An optional secret left unset is no problem.
    expect(parseSettings(validRaw(), new Set(["sshPrivateKey"])).ok).toBe(true);
  });

  it("never echoes a secret value", () => {
    const secret = "-----BEGIN PRIVATE KEY-----\nnot base64 at all!!\n-----END PRIVATE KEY-----";
    const errors = errorsOf(validRaw({ sshPrivateKey: secret, tlsMode: "provided", tlsPrivateKey: "hunter2" }));
    expect(errors.join("\n")).not.toContain("hunter2");
    expect(errors.join("\n")).not.toContain("not base64");
  });
});

describe("tiers", () => {
  it("never gives a bigger tier a smaller knob", () => {
    for (let i = 1; i < tierNames.length; i++) {
      const smaller = sizingMagnitudes(tiers[tierNames[i - 1]]);
      const bigger = sizingMagnitudes(tiers[tierNames[i]]);
      for (const knob of Object.keys(smaller) as (keyof typeof smaller)[]) {
        expect({ knob, tier: tierNames[i], value: bigger[knob] >= smaller[knob] }).toEqual({ knob, tier: tierNames[i], value: true });
      }
    }
  });

  it.each(tierNames)("%s validates as its own defaults", (tier) => {
    expect(settingsOf(validRaw({ tier })).sizing).toEqual(tiers[tier]);
  });
});
