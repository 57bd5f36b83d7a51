// The rules the loaders of the rendered files would enforce (config/loaderRules.ts), one test
// each: a config that breaks the rule is refused before anything touches a host, naming the key;
// where the key means "derive it", the value is derived instead; a rule kept by rendering is
// checked in what is rendered.
import { loaderRules, parseSettings, RawConfig, Settings } from "../../config";
import { baseHomeserverPart } from "../../render/homeserver";
import { workerPlan, workersHomeserverPart } from "../../render/workers";
import { otherCertificate, otherCertificateKey, testCertificate, testCertificateKey, validRaw } from "../support/fixtures";

const secrets = new Set(["sshPrivateKey", "appServiceRegistrations", "tlsPrivateKey"]);
function errorsOf(overrides: RawConfig): string[] {
  const r = parseSettings(validRaw(overrides), secrets);
  return r.ok ? [] : r.errors;
}
function settingsOf(overrides: RawConfig): Settings {
  const r = parseSettings(validRaw(overrides), secrets);
  if (!r.ok) throw new Error(r.errors.join("\n"));
  return r.settings;
}
/** A certificate whose PEM armour is right and whose body is not a certificate. */
const notACertificate = "-----BEGIN CERTIFICATE-----\nMIIBnotacertificate\n-----END CERTIFICATE-----\n";
const registration = (id: string, token: string, extra: string[] = []) => [
  `id: ${id}`, "url: null", `as_token: ${token}`, "hs_token: hs", "sender_localpart: bot",
  "namespaces:", "  users:", "    - exclusive: true", "      regex: '@b_.*'", ...extra,
].join("\n");
const registrations = (...regs: string[]) => ({ appServiceRegistrations: JSON.stringify(regs) });

const cases: Record<string, () => void> = {
  "duration": () => {
    expect(errorsOf({ mediaRetentionRemote: "500ms" })).toEqual([
      'synapse:mediaRetentionRemote: given "500ms", expected a duration such as 90d (a number and s, m, h, d, w or y)']);
    // Synapse would read a bare number as milliseconds.
    expect(errorsOf({ messageRetentionDefault: "1" })).toEqual([expect.stringMatching(/^synapse:messageRetentionDefault: given "1", expected a duration/)]);
  },
  "retention-bounds": () => {
    expect(errorsOf({ messageRetentionMin: "30d", messageRetentionMax: "1w" })).toEqual([
      'synapse:messageRetentionMin: given "30d", expected at most messageRetentionMax ("1w"): Synapse refuses allowed_lifetime_min above allowed_lifetime_max']);
    expect(errorsOf({ messageRetentionMin: "1w", messageRetentionMax: "30d" })).toEqual([]);
  },
  "upload-size": () => {
    expect(errorsOf({ maxUploadSize: "1T" })).toEqual([expect.stringMatching(/^synapse:maxUploadSize: given "1T", expected digits with an optional K, M or G/)]);
  },
  "cache-factor": () => {
    expect(errorsOf({ cacheFactor: "0.0" })).toEqual(['synapse:cacheFactor: given "0.0", expected a number > 0']);
  },
  "pool-order": () => {
    expect(errorsOf({ dbPoolMin: "20", dbPoolMax: "10" })).toEqual(["synapse:dbPoolMin: given 20, expected at most dbPoolMax (10)"]);
    // One end given alone: the other follows instead of the tier's value being refused.
    expect(settingsOf({ dbPoolMax: "3" }).sizing).toMatchObject({ dbPoolMin: 3, dbPoolMax: 3 });
    expect(settingsOf({ dbPoolMin: "30" }).sizing).toMatchObject({ dbPoolMin: 30, dbPoolMax: 30 });
  },
  "pool-connections": () => {
    expect(errorsOf({ tier: "community", postgresMaxConnections: "60" })).toEqual([
      "synapse:postgresMaxConnections: given 60, expected at least dbPoolMax × Synapse processes + 10 = 15 × 5 + 10 = 85 (or lower dbPoolMax or the worker counts; 0 derives it)"]);
    // Unset, it follows the pools: community's 100 is raised for a bigger pool and more workers.
    expect(settingsOf({ tier: "community", dbPoolMax: "40", workerSynchrotrons: "3" }).sizing.postgresMaxConnections).toBe(40 * 7 + 10);
  },
  "pg-memory": () => {
    expect(errorsOf({ postgresWorkMem: "32kB", postgresSharedBuffers: "8TB", postgresEffectiveCacheSize: "4kB", postgresMaintenanceWorkMem: "2048GB" })).toEqual([
      'synapse:postgresSharedBuffers: given "8TB", expected a PostgreSQL size such as 256MB (kB, MB, GB or TB), at least 128kB and below 8TB',
      'synapse:postgresEffectiveCacheSize: given "4kB", expected a PostgreSQL size such as 768MB (kB, MB, GB or TB), at least 8kB and below 16TB',
      'synapse:postgresWorkMem: given "32kB", expected a PostgreSQL size such as 8MB (kB, MB, GB or TB), at least 64kB and below 2TB',
      'synapse:postgresMaintenanceWorkMem: given "2048GB", expected a PostgreSQL size such as 64MB (kB, MB, GB or TB), at least 64kB and below 2TB',
    ]);
    expect(settingsOf({ postgresWorkMem: "64kB", postgresSharedBuffers: "128kB" }).sizing).toMatchObject({ postgresWorkMem: "64kB", postgresSharedBuffers: "128kB" });
  },
  "pg-max-connections": () => {
    expect(errorsOf({ postgresMaxConnections: "262109" })).toEqual(['synapse:postgresMaxConnections: given "262109", expected an integer from 10 to 262108']);
    expect(errorsOf({ postgresMaxConnections: "3" })).toEqual(['synapse:postgresMaxConnections: given "3", expected an integer from 10 to 262108']);
  },
  "certificates": () => {
    expect(errorsOf({ federationCaCertificates: notACertificate })).toEqual([
      "synapse:federationCaCertificates: given \"-----BEGIN CERTIFICATE-----\\nMIIBnotacertificate\\n-----END CERTIFICATE-----\\n\", expected PEM certificates that parse (the certificate is no valid X.509 certificate)"]);
    expect(errorsOf({ federationCaCertificates: testCertificate + notACertificate })).toEqual([
      expect.stringMatching(/^synapse:federationCaCertificates: given .*, expected PEM certificates that parse \(certificate 2 of 2 is no valid X.509 certificate\)$/)]);
    expect(errorsOf({ acmeCaBundle: notACertificate })).toEqual([expect.stringMatching(/^synapse:acmeCaBundle: given .*, expected PEM certificates that parse/)]);
    expect(settingsOf({ federationCaCertificates: testCertificate + otherCertificate }).federation.caCertificates).toEqual([testCertificate, otherCertificate]);
  },
  "tls-key-pair": () => {
    const provided = { tlsMode: "provided", tlsCertificate: testCertificate };
    expect(errorsOf({ ...provided, tlsPrivateKey: otherCertificateKey })).toEqual([
      "synapse:tlsPrivateKey: given a secret value, expected the private key of tlsCertificate's first certificate (nginx refuses a pair that does not match)"]);
    expect(errorsOf({ ...provided, tlsPrivateKey: testCertificateKey })).toEqual([]);
  },
  "ip-ranges": () => {
    expect(errorsOf({ federationIpRangeAllowlist: '["10.0.0.0/8", "10.0.0.0/40"]' })).toEqual([
      'synapse:federationIpRangeAllowlist[1]: given "[\\"10.0.0.0/8\\", \\"10.0.0.0/40\\"]", expected a CIDR such as 10.0.0.0/8']);
  },
  "server-name": () => {
    expect(errorsOf({ serverName: "Example.org", matrixHost: "matrix.example.org/?x=1" })).toEqual([
      expect.stringMatching(/^synapse:serverName: given "Example.org", expected a lower-case DNS name/),
      expect.stringMatching(/^synapse:matrixHost: given "matrix.example.org\/\?x=1", expected a lower-case DNS name/),
    ]);
  },
  "appservice-fields": () => {
    expect(errorsOf(registrations(registration("a", "ta").replace("sender_localpart: bot", "sender_localpart: bot=1")))).toEqual([
      "synapse:appServiceRegistrations[0]: given a secret value, expected an application service registration (sender_localpart: a Matrix localpart of a-z, 0-9 and ._-/ (Synapse refuses one that needs URL encoding, such as =))"]);
    expect(errorsOf(registrations(registration("a", "ta", ["protocols: irc", "io.element.msc4190: yes", "io.element.msc4502.scopes: [everything]", "ip_range_whitelist: [10.0.0.0/33]"])))).toEqual([
      "synapse:appServiceRegistrations[0]: given a secret value, expected an application service registration (protocols: a list of strings; " +
        "ip_range_whitelist: a list of IP addresses or CIDRs; io.element.msc4190: true or false; " +
        "io.element.msc4502.scopes: a list of the scopes Synapse knows (urn:matrix:client:io.element.msc4502:rooms:is_joined))"]);
    expect(errorsOf(registrations(registration("a", "ta", ["protocols: [irc]", "io.element.msc4190: true", "ip_range_whitelist: [10.0.0.1, 10.0.0.0/8]"])))).toEqual([]);
  },
  "appservice-ids": () => {
    expect(errorsOf(registrations(registration("one", "t1"), registration("one", "t2")))).toEqual([
      'synapse:appServiceRegistrations[1]: given a secret value, expected an id of its own ("one" is taken)']);
  },
  "appservice-tokens": () => {
    const errors = errorsOf(registrations(registration("one", "same-token"), registration("two", "same-token")));
    expect(errors).toEqual(["synapse:appServiceRegistrations[1]: given a secret value, expected an as_token of its own (an earlier registration has it)"]);
    expect(errors.join("\n")).not.toContain("same-token");
  },
  "registration": () => {
    expect(baseHomeserverPart(settingsOf({ enableRegistration: "true" }))).toMatchObject({ enable_registration: true, registration_requires_token: true });
  },
  "worker-singletons": () => {
    expect(errorsOf({ workerMedia: "2", workerBackground: "3" })).toEqual([
      "synapse:workerMedia: given 2, expected -1 (the tier's count) or 0 to 1",
      "synapse:workerBackground: given 3, expected -1 (the tier's count) or 0 to 1",
    ]);
  },
  "worker-writers": () => {
    const part = workersHomeserverPart(workerPlan(settingsOf({ tier: "large" }).workers));
    const writers = Object.values(part.stream_writers as Record<string, string[]>).flat();
    expect(writers.length).toBeGreaterThan(0);
    for (const w of writers) expect(Object.keys(part.instance_map as object)).toContain(w);
    expect(part.instance_map).toHaveProperty("main");
  },
};

describe("every rule the loaders of the rendered files enforce", () => {
  it("has a test here", () => {
    expect(Object.keys(cases).sort()).toEqual(loaderRules.map((r) => r.id).sort());
  });
  it.each(loaderRules.map((r) => r.id))("%s", (id) => cases[id]());
});
