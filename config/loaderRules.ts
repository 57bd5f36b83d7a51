// The rules the loaders of what the program renders would enforce on a host: Synapse's config
// classes (read option by option in Synapse 1.160 for every option the program renders),
// PostgreSQL's settings (18) and nginx's site. Each is kept before anything touches a host, with
// the key named: by the key's form (keys.ts), by a check here, by deriving the value when the key
// says "derive it", or by rendering the option only in a form the loader accepts. The config
// reference lists this table (npm run gen); tests/unit/rules.test.ts has a test per rule.
import { X509Certificate, createPrivateKey } from "node:crypto";
import { durationToSeconds } from "./forms";
import type { ConfigValues, KeyName } from "./keys";
import { connectionsNeeded, postgresReservedConnections, processCount } from "./workers";
import type { Settings } from "./settings";

export interface LoaderRule {
  /** Names the rule; its unit test is named after it. */
  id: string;
  /** The keys it bears on; a refusal names the first. */
  keys: KeyName[];
  /** Whose loader refuses it, and where. */
  source: string;
  rule: string;
  /** How the program keeps it, and where (a form is the key's validator in config/keys.ts). */
  kept: "the key's form" | "refused" | "derived when unset, refused when given" | "rendered so";
  where: string;
  /** For the rules kept here: the errors (each naming a key) of a config that breaks it. */
  check?: (c: ConfigValues, s: Settings) => string[];
}

const project = "synapse";
const given = (v: unknown) => JSON.stringify(v);

export const loaderRules: LoaderRule[] = [
  {
    id: "duration", source: "Synapse: Config.parse_duration (synapse/config/_base.py)",
    keys: ["mediaRetentionRemote", "mediaRetentionLocal", "forgottenRoomRetention", "staleDeviceRetention",
      "messageRetentionDefault", "messageRetentionMin", "messageRetentionMax"],
    rule: "a duration is a number and s, m, h, d, w or y; a bare number would be milliseconds, any other suffix is refused",
    kept: "the key's form", where: "config/forms.ts",
  },
  {
    id: "retention-bounds", source: "Synapse: RetentionConfig (synapse/config/retention.py)",
    keys: ["messageRetentionMin", "messageRetentionMax"],
    rule: "allowed_lifetime_min is at most allowed_lifetime_max",
    kept: "refused", where: "config/loaderRules.ts",
    check: (c) => c.messageRetentionMin !== "" && c.messageRetentionMax !== "" &&
      durationToSeconds(c.messageRetentionMin) > durationToSeconds(c.messageRetentionMax)
      ? [`${project}:messageRetentionMin: given ${given(c.messageRetentionMin)}, expected at most messageRetentionMax ` +
        `(${given(c.messageRetentionMax)}): Synapse refuses allowed_lifetime_min above allowed_lifetime_max`]
      : [],
  },
  {
    id: "upload-size", source: "Synapse: Config.parse_size; nginx: client_max_body_size",
    keys: ["maxUploadSize"],
    rule: "digits and K, M, G (or T, which nginx does not read): the same value goes to both",
    kept: "the key's form", where: "config/tiers.ts",
  },
  {
    id: "cache-factor", source: "Synapse: CacheConfig (synapse/config/cache.py)",
    keys: ["cacheFactor"],
    rule: "caches.global_factor is a number; above 0, or every cache holds nothing",
    kept: "refused", where: "config/loaderRules.ts",
    check: (c, s) => s.sizing.cacheFactor > 0 ? [] : [`${project}:cacheFactor: given ${given(c.cacheFactor)}, expected a number > 0`],
  },
  {
    id: "pool-order", source: "Twisted's ThreadPool under Synapse's database pool (asserts min ≤ max when Synapse starts)",
    keys: ["dbPoolMin", "dbPoolMax"],
    rule: "cp_min is at most cp_max; one end set alone moves the other",
    kept: "derived when unset, refused when given", where: "config/loaderRules.ts; derived in config/settings.ts",
    check: (c) => c.dbPoolMin && c.dbPoolMax && c.dbPoolMin > c.dbPoolMax
      ? [`${project}:dbPoolMin: given ${c.dbPoolMin}, expected at most dbPoolMax (${c.dbPoolMax})`] : [],
  },
  {
    id: "pool-connections", source: "PostgreSQL: max_connections (it refuses connections beyond it)",
    keys: ["postgresMaxConnections", "dbPoolMax", "tier"],
    rule: "every Synapse process's pool (cp_max each; the tier and the worker* keys count the processes) and PostgreSQL's reserve fit in max_connections",
    kept: "derived when unset, refused when given", where: "config/loaderRules.ts; derived in config/settings.ts",
    check: (c, s) => {
      const processes = processCount(s.workers);
      const needed = connectionsNeeded(s.sizing.dbPoolMax, processes);
      return s.sizing.postgresMaxConnections >= needed ? [] : [`${project}:postgresMaxConnections: given ${s.sizing.postgresMaxConnections}, expected at least ` +
        `dbPoolMax × Synapse processes + ${postgresReservedConnections} = ${s.sizing.dbPoolMax} × ${processes} + ` +
        `${postgresReservedConnections} = ${needed} (or lower dbPoolMax or the worker counts; 0 derives it)`];
    },
  },
  {
    id: "pg-memory", source: "PostgreSQL 18: the bounds of shared_buffers, effective_cache_size, work_mem, maintenance_work_mem",
    keys: ["postgresSharedBuffers", "postgresEffectiveCacheSize", "postgresWorkMem", "postgresMaintenanceWorkMem"],
    rule: "each within PostgreSQL's bounds (shared_buffers at least 128kB, work_mem at least 64kB…), or PostgreSQL does not start",
    kept: "the key's form", where: "config/tiers.ts",
  },
  {
    id: "pg-max-connections", source: "PostgreSQL 18: max_connections",
    keys: ["postgresMaxConnections"],
    rule: "more than the reserved superuser connections, and with the other backends at most 262143",
    kept: "the key's form", where: "config/tiers.ts",
  },
  {
    id: "certificates", source: "Synapse: TlsConfig (Certificate.loadPEM of each federation_custom_ca_list file); nginx: ssl_certificate; certbot: its CA bundle",
    keys: ["federationCaCertificates", "tlsCertificate", "acmeCaBundle"],
    rule: "each certificate parses as X.509; Synapse reads one certificate per file, so each federation CA gets a file of its own",
    kept: "the key's form", where: "config/forms.ts; one file each in render/homeserver.ts",
  },
  {
    id: "tls-key-pair", source: "nginx: ssl_certificate_key (nginx -t refuses a key that is not the certificate's)",
    keys: ["tlsPrivateKey", "tlsCertificate"],
    rule: "the private key is the first certificate's",
    kept: "refused", where: "config/loaderRules.ts",
    check: (c) => {
      if (c.tlsMode !== "provided" || c.tlsCertificate === "" || c.tlsPrivateKey === "") return [];
      try {
        if (new X509Certificate(c.tlsCertificate).checkPrivateKey(createPrivateKey(c.tlsPrivateKey))) return [];
      } catch { /* a key OpenSSL cannot read is no match either */ }
      return [`${project}:tlsPrivateKey: given a secret value, expected the private key of tlsCertificate's first certificate (nginx refuses a pair that does not match)`];
    },
  },
  {
    id: "ip-ranges", source: "Synapse: generate_ip_set for ip_range_whitelist (synapse/config/server.py)",
    keys: ["federationIpRangeAllowlist"],
    rule: "each entry is an IP range netaddr reads",
    kept: "the key's form", where: "config/forms.ts",
  },
  {
    id: "server-name", source: "Synapse: server_name and public_baseurl (synapse/config/server.py)",
    keys: ["serverName", "matrixHost"],
    rule: "a server name Synapse can parse; public_baseurl an https URL without query or fragment, made from matrixHost",
    kept: "the key's form", where: "config/forms.ts",
  },
  {
    id: "appservice-fields", source: "Synapse: _load_appservice (synapse/config/appservice.py), ApplicationService",
    keys: ["appServiceRegistrations"],
    rule: "id (no |), as_token, hs_token and sender_localpart strings, sender_localpart needing no URL encoding, url a string or null, " +
      "namespaces of {exclusive, regex}, protocols and scopes lists, the MSC flags booleans, ip_range_whitelist ranges",
    kept: "the key's form", where: "config/appservices.ts",
  },
  {
    id: "appservice-ids", source: "Synapse: load_appservices (synapse/config/appservice.py)",
    keys: ["appServiceRegistrations"],
    rule: "no two registrations share an id (here they would share a file, too)",
    kept: "refused", where: "config/loaderRules.ts",
    check: (c) => duplicates(c.appServiceRegistrations.map((s) => s.id))
      .map(([i, id]) => `${project}:appServiceRegistrations[${i}]: given a secret value, expected an id of its own (${given(id)} is taken)`),
  },
  {
    id: "appservice-tokens", source: "Synapse: load_appservices (synapse/config/appservice.py)",
    keys: ["appServiceRegistrations"],
    rule: "no two registrations share an as_token",
    kept: "refused", where: "config/loaderRules.ts",
    // A registration whose id is taken is refused already (the same file twice has one token too).
    check: (c) => duplicates(c.appServiceRegistrations.map((s) => s.asToken))
      .filter(([i]) => c.appServiceRegistrations.findIndex((s) => s.id === c.appServiceRegistrations[i].id) === i)
      .map(([i]) => `${project}:appServiceRegistrations[${i}]: given a secret value, expected an as_token of its own (an earlier registration has it)`),
  },
  {
    id: "registration", source: "Synapse: HomeServerConfig (synapse/config/homeserver.py)",
    keys: ["enableRegistration"],
    rule: "open registration needs a captcha, e-mail or a token (or enable_registration_without_verification)",
    kept: "rendered so", where: "render/homeserver.ts (registration_requires_token)",
  },
  {
    id: "worker-singletons", source: "Synapse: WorkerConfig (media_instance_running_background_jobs and run_background_tasks_on name one instance)",
    keys: ["workerMedia", "workerBackground"],
    rule: "at most one media worker and one background worker",
    kept: "refused", where: "config/settings.ts (workerCounts)",
  },
  {
    id: "worker-writers", source: "Synapse: WorkerConfig (synapse/config/workers.py)",
    keys: ["workerEventPersisters", "workerMedia"],
    rule: "every stream writer (event persisters, the media worker) in instance_map, with the main process",
    kept: "rendered so", where: "render/workers.ts",
  },
];

/** [index, value] of each value already seen earlier in the list. */
function duplicates(values: string[]): [number, string][] {
  return values.flatMap((v, i) => (values.indexOf(v) < i ? [[i, v] as [number, string]] : []));
}

/** The errors of every rule kept here. */
export function loaderRuleErrors(c: ConfigValues, s: Settings): string[] {
  return loaderRules.flatMap((r) => r.check?.(c, s) ?? []);
}
