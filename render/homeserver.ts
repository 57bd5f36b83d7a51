// homeserver.yaml, composed from parts that components contribute (the database section from
// PostgresDatabase, later workers, media storage…). Secrets never go here: they live in
// conf.d/secrets.yaml, so the preview diff of this file stays readable.
import YAML from "yaml";
import { RetentionSettings, Settings } from "../config";
import { mediaStorePath, synapseConfigDir, synapseListen } from "./paths";

/**
 * The private federation's CAs (federationCaCertificates), one file each next to homeserver.yaml:
 * Synapse reads each file of federation_custom_ca_list with Twisted's Certificate.loadPEM, which
 * takes the first certificate of a file and ignores the rest (checked on Synapse 1.160).
 */
export function federationCaFiles(certificates: string[]): { name: string; path: string; content: string }[] {
  return certificates.map((content, i) => {
    const name = i === 0 ? "federation-ca" : `federation-ca-${i + 1}`;
    return { name, path: `${name}.pem`, content };
  });
}

export interface Listener {
  port: number;
  /** metrics: Prometheus's own listener (a thread of its own, no resources). */
  type: "http" | "metrics";
  tls?: boolean;
  x_forwarded?: boolean;
  bind_addresses: string[];
  resources?: { names: string[]; compress?: boolean }[];
}

export interface DatabaseSection {
  name: "psycopg2";
  args: {
    user: string;
    dbname: string;
    host: string;
    port: number;
    /** libpq reads the password from this 0600 file, so the section itself holds no secret. */
    passfile: string;
    cp_min: number;
    cp_max: number;
    keepalives_idle?: number;
    keepalives_interval?: number;
    keepalives_count?: number;
  };
}

/** The keys this program sets; parts may add any other Synapse option. */
export interface HomeserverConfig {
  server_name: string;
  public_baseurl: string;
  listeners: Listener[];
  database: DatabaseSection;
  log_config: string;
  media_store_path: string;
  signing_key_path: string;
  max_upload_size: string;
  caches: { global_factor: number };
  trusted_key_servers: { server_name: string }[];
  suppress_key_server_warning: boolean;
  report_stats: boolean;
  enable_registration: boolean;
  registration_requires_token?: boolean;
  serve_server_wellknown: boolean;
  allow_public_rooms_over_federation: boolean;
  [key: string]: unknown;
}

export type HomeserverPart = Partial<HomeserverConfig>;

/** What SynapseHost itself decides, from settings alone. */
export function baseHomeserverPart(s: Settings): HomeserverPart {
  return {
    server_name: s.serverName,
    public_baseurl: `https://${s.matrixHost}/`,
    listeners: [{
      port: synapseListen.port,
      type: "http",
      tls: false,
      x_forwarded: true,
      bind_addresses: [synapseListen.host],
      resources: [{ names: ["client", "federation"], compress: false }],
    }],
    log_config: `${synapseConfigDir}/log.yaml`,
    media_store_path: mediaStorePath,
    signing_key_path: `${synapseConfigDir}/homeserver.signing.key`,
    max_upload_size: s.sizing.maxUploadSize,
    caches: { global_factor: s.sizing.cacheFactor },
    // An empty list fetches each server's keys from that server directly.
    trusted_key_servers: s.trustedKeyServers.map((server_name) => ({ server_name })),
    // Private federations: their own CA (instead of the system's), private addresses, a closed list.
    ...(s.federation.caCertificates.length > 0
      ? { federation_custom_ca_list: federationCaFiles(s.federation.caCertificates).map((f) => `${synapseConfigDir}/${f.path}`) } : {}),
    ...(s.federation.ipRangeAllowlist.length > 0 ? { ip_range_whitelist: s.federation.ipRangeAllowlist } : {}),
    ...(s.federation.domainAllowlist.length > 0 ? { federation_domain_whitelist: s.federation.domainAllowlist } : {}),
    ...retentionPart(s.retention),
    // What one remote server may cost this process (nginx limits its request rate before this).
    rc_federation: s.federationLimits.rc,
    suppress_key_server_warning: true,
    report_stats: s.values.reportStats,
    enable_registration: s.enableRegistration,
    // Open registration without e-mail or captcha invites spam bots: require a token
    // (created with the admin API) whenever registration is on.
    ...(s.enableRegistration ? { registration_requires_token: true } : {}),
    // nginx serves /.well-known (WellKnownSite), so Synapse need not.
    serve_server_wellknown: false,
    allow_public_rooms_over_federation: false,
    // Metrics for Prometheus (monitoring) and on the workers' listeners (they are loopback or private).
    ...(s.monitoring || Object.values(s.workers).some((n) => n > 0) ? { enable_metrics: true } : {}),
  };
}

/** What Synapse deletes by itself: cached remote media (by default), forgotten rooms, old history. */
function retentionPart(r: RetentionSettings): HomeserverPart {
  const media = {
    ...(r.mediaLocal ? { local_media_lifetime: r.mediaLocal } : {}),
    ...(r.mediaRemote ? { remote_media_lifetime: r.mediaRemote } : {}),
  };
  return {
    ...(r.staleDevices ? { delete_stale_devices_after: r.staleDevices } : {}),
    ...(Object.keys(media).length > 0 ? { media_retention: media } : {}),
    ...(r.forgottenRooms ? { forgotten_room_retention_period: r.forgottenRooms } : {}),
    ...(r.messagesDefault || r.messagesMin || r.messagesMax ? {
      retention: {
        enabled: true,
        ...(r.messagesDefault ? { default_policy: { max_lifetime: r.messagesDefault } } : {}),
        ...(r.messagesMin ? { allowed_lifetime_min: r.messagesMin } : {}),
        ...(r.messagesMax ? { allowed_lifetime_max: r.messagesMax } : {}),
        // Synapse's own purge jobs; one a day is enough for lifetimes counted in days.
        purge_jobs: [{ interval: "1d" }],
      },
    } : {}),
  };
}

/** Keys several parts may contribute to: their lists are concatenated in part order. */
const listKeys = new Set(["listeners"]);

/** Merges parts; two parts setting the same top-level key is a programming error. */
export function composeHomeserver(parts: HomeserverPart[]): HomeserverConfig {
  const merged: Record<string, unknown> = {};
  const owner: Record<string, number> = {};
  parts.forEach((part, i) => {
    for (const [key, value] of Object.entries(part)) {
      if (value === undefined) continue;
      if (listKeys.has(key) && Array.isArray(merged[key]) && Array.isArray(value)) {
        merged[key] = [...(merged[key] as unknown[]), ...value];
        continue;
      }
      if (key in merged) throw new Error(`homeserver.yaml: key '${key}' set by part ${owner[key]} and part ${i}`);
      merged[key] = value;
      owner[key] = i;
    }
  });
  for (const key of ["server_name", "listeners", "database"]) {
    if (!(key in merged)) throw new Error(`homeserver.yaml: no part sets '${key}'`);
  }
  return merged as HomeserverConfig;
}

const header = "# Managed by the synapse Pulumi program; local edits are overwritten.\n";

export function renderYaml(value: unknown): string {
  return header + YAML.stringify(value, { lineWidth: 0, sortMapEntries: false });
}

export function renderHomeserver(parts: HomeserverPart[]): string {
  return renderYaml(composeHomeserver(parts));
}

/** Synapse's logging: to stderr, which systemd hands to the journal. */
export function renderLogConfig(): string {
  return renderYaml({
    version: 1,
    formatters: { precise: { format: "%(name)s - %(lineno)d - %(levelname)s - %(request)s - %(message)s" } },
    filters: { context: { "()": "synapse.logging.context.LoggingContextFilter", request: "" } },
    handlers: { console: { class: "logging.StreamHandler", formatter: "precise", filters: ["context"] } },
    loggers: { "synapse.storage.SQL": { level: "INFO" } },
    root: { level: "INFO", handlers: ["console"] },
    disable_existing_loggers: false,
  });
}

export interface SynapseSecrets {
  registrationSharedSecret: string;
  macaroonSecretKey: string;
  formSecret: string;
}

/** conf.d/secrets.yaml: written 0600 through stdin, never shown in a diff. `extra`: other
 *  components' secret keys (the workers' replication secret). */
export function renderSecrets(s: SynapseSecrets, extra: Record<string, string> = {}): string {
  const own = {
    registration_shared_secret: s.registrationSharedSecret,
    macaroon_secret_key: s.macaroonSecretKey,
    form_secret: s.formSecret,
  };
  for (const key of Object.keys(extra)) {
    if (key in own) throw new Error(`conf.d/secrets.yaml: key '${key}' is SynapseHost's own`);
  }
  return renderYaml({ ...own, ...extra });
}

/** A libpq host that is a Unix socket's directory (an absolute path), not an address. */
export function isUnixSocket(host: string): boolean {
  return host.startsWith("/");
}

/**
 * ~/.pgpass format: host:port:database:user:password. The first line names Synapse's own host, the
 * one the host tools connect to (they read it). For a connection over the socket in libpq's default
 * directory libpq looks for a `localhost` line instead, so that case has a second, `localhost`, line.
 */
export function renderPassfile(db: DatabaseSection["args"], password: string): string {
  const esc = (v: string | number) => String(v).replace(/([:\\])/g, "\\$1");
  const line = (host: string) => `${[host, db.port, db.dbname, db.user, password].map(esc).join(":")}\n`;
  return line(db.host) + (isUnixSocket(db.host) ? line("localhost") : "");
}
