// Stack config → one validated, typed Settings object. Pure: takes the raw strings Pulumi
// stores, returns every problem at once, each naming the key, what was given and the form
// expected, so a bad stack fails before anything touches a host.
import { isIP } from "node:net";
import { z } from "zod";
import { backupSchema, BackupSettings, backupSettings, RestoreSettings } from "./backups";
import { ConfigKey, configKeys, HostRole } from "./keys";
import { FederationLimits, peerRatePattern, tierFederationLimits } from "./federationLimits";
import { bucketNamePattern, calendarPattern, mediaBucketModes, MediaSettings, mediaSettings } from "./media";
import { pgSizePattern, Sizing, TierName, tierNames, tiers, uploadSizePattern } from "./tiers";
import { postgresReservedConnections, processCount, WorkerCounts, workerCounts } from "./workers";

export const projectName = "synapse";

export interface SshConnection {
  host: string;
  port: number;
  user: string;
  /** Secret: wrap in pulumi.secret before it reaches a resource. */
  privateKey: string;
}

export type TlsSettings =
  | { mode: "acme"; email: string; server: string; caBundle: string }
  | { mode: "provided"; certificate: string; privateKey: string }
  | { mode: "self-signed" };

export interface Settings {
  serverName: string;
  matrixHost: string;
  /** True when matrixHost differs from serverName, so /.well-known delegation is needed. */
  delegated: boolean;
  tier: TierName;
  sizing: Sizing;
  hosts: Record<HostRole, SshConnection>;
  /** Where PostgreSQL runs and who may reach it. */
  database: DatabaseNetwork;
  workerHosts: WorkerHosts;
  packageSource: "matrix-org" | "debian";
  tls: TlsSettings;
  enableRegistration: boolean;
  adminUser?: string;
  reportStats: boolean;
  federationPort8448: boolean;
  adminAllowedNetworks: string[];
  trustedKeyServers: string[];
  federation: FederationSettings;
  /** Rooms whose old history is purged on a timer: the room and the seconds of history to keep. */
  purgeHistory: { schedule: string; rooms: { roomId: string; keepSeconds: number }[] };
  /** The database report: when it runs, and the growth (MiB per day) that makes it fail. */
  databaseReport: { schedule: string; growthAlertMiB: number };
  /** synapse-backup on a timer (undefined: off); media is mirrored when it is on local disk. */
  backups?: BackupSettings;
  /** Restore from a backup before Synapse first starts (undefined: a new homeserver). */
  restore?: RestoreSettings;
  /** Cached remote media purged on a timer (with an admin and a remote media lifetime). */
  remoteMediaPurge?: { schedule: string; keepSeconds: number };
  /** synapse_auto_compressor on a timer (undefined: off): when it runs, its -c and -n. */
  stateCompressor?: { schedule: string; chunkSize: number; chunks: number };
  /** What the homeserver deletes by itself; empty strings keep things forever. */
  retention: RetentionSettings;
  /** What inbound federation may cost: Synapse's rc_federation and nginx's per-origin limits. */
  federationLimits: FederationLimits;
  media: MediaSettings;
  /** Synapse workers per kind; all 0 is a single process. */
  workers: WorkerCounts;
  /** `pulumi destroy` deletes the homeserver's data instead of keeping it. */
  destroyDeletesData: boolean;
}

/**
 * PostgreSQL on the Synapse host (loopback only), or on a database box that listens on its private
 * address and admits only the Synapse host's private address.
 */
export type DatabaseNetwork =
  | { box: false; address: "127.0.0.1" }
  | { box: true; address: string; clients: string[] };

/**
 * Where Synapse's processes run: all on the Synapse VPS, or some workers on worker hosts, which
 * reach the main process (replication, Redis) at its private address.
 */
export interface WorkerHosts {
  /** The Synapse VPS's private address; undefined without worker hosts. */
  mainAddress?: string;
  hosts: { address: string; connection: SshConnection }[];
}

/** Synapse durations (e.g. "90d"); empty means keep forever / no bound. */
export interface RetentionSettings {
  mediaRemote: string;
  mediaLocal: string;
  forgottenRooms: string;
  messagesDefault: string;
  messagesMin: string;
  messagesMax: string;
}

/** Closed or private federations. */
export interface FederationSettings {
  /** PEM roots replacing the system's for federation; empty: the system's. */
  caCertificates: string;
  ipRangeAllowlist: string[];
  /** Empty: federate with anyone. */
  domainWhitelist: string[];
}

export const acmeDirectories: Record<string, string> = {
  production: "https://acme-v02.api.letsencrypt.org/directory",
  staging: "https://acme-staging-v02.api.letsencrypt.org/directory",
};

/** Raw values as Pulumi holds them: strings keyed by the bare key name; absent = unset. */
export type RawConfig = Record<string, string | undefined>;

export type SettingsResult = { ok: true; settings: Settings } | { ok: false; errors: string[] };

/** The one message a bad stack config produces: every problem, one per line. */
export function formatConfigErrors(errors: string[]): string {
  return `Invalid stack config (${errors.length} problem${errors.length === 1 ? "" : "s"}):\n` +
    errors.map((e) => `  - ${e}`).join("\n");
}

const dnsLabel = "[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?";
const dnsName = new RegExp(`^(?=.{1,253}$)${dnsLabel}(?:\\.${dnsLabel})+$`);
const privateKeyPem =
  /^-----BEGIN ((?:OPENSSH|RSA|EC|DSA|ENCRYPTED) )?PRIVATE KEY-----\r?\n(?:[A-Za-z0-9+/=:,\- ]*\r?\n)*[A-Za-z0-9+/=]+\r?\n-----END \1?PRIVATE KEY-----\s*$/;
const certificatePem = /^(?:-----BEGIN CERTIFICATE-----\r?\n[A-Za-z0-9+/=\r\n]+-----END CERTIFICATE-----\s*)+$/;

function isCidr(value: string): boolean {
  const [address, prefix, ...rest] = value.split("/");
  const family = isIP(address ?? "");
  if (rest.length > 0 || family === 0 || prefix === undefined || !/^\d{1,3}$/.test(prefix)) return false;
  return Number(prefix) <= (family === 4 ? 32 : 128);
}

const port = z.number().int().min(1, { error: "a port from 1 to 65535" }).max(65535, { error: "a port from 1 to 65535" });
const hostAddress = z.string().regex(/^[A-Za-z0-9.:\-\[\]]+$/, { error: "a host name or IP address" });
/** A Synapse duration: a number and a unit (ms, s, m, h, d, w, y). */
const durationPattern = /^[1-9][0-9]*(ms|s|m|h|d|w|y)$/;
const durationError = "a duration such as 90d (a number and ms, s, m, h, d, w or y)";
/** A room ID and how much of its history to keep. */
const purgeEntryPattern = /^(![A-Za-z0-9._~-]+:[a-z0-9.-]+(?::\d{1,5})?)=([1-9][0-9]*(?:s|m|h|d|w|y))$/;
const durationSeconds: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400, w: 7 * 86400, y: 365 * 86400 };
const ipAddress = z.string().refine((v) => isIP(v) !== 0, { error: "an IPv4 or IPv6 address" });
const optionalOverride = <T extends z.ZodTypeAny>(schema: T) => z.union([z.literal(""), z.literal(0), schema]);

const schema = z.object({
  serverName: z.string().regex(dnsName, {
    error: "a lower-case DNS name with at least one dot, e.g. example.org (no scheme, port or path)",
  }),
  matrixHost: z.union([z.literal(""), z.string().regex(dnsName, { error: "a lower-case DNS name, e.g. matrix.example.org" })]),
  tier: z.enum(tierNames, { error: `one of ${tierNames.join(", ")}` }),
  host: hostAddress,
  sshPort: port,
  sshUser: z.string().regex(/^[a-z_][a-z0-9_-]*$/, { error: "a Unix user name" }),
  sshPrivateKey: z.string().regex(privateKeyPem, { error: "a PEM or OpenSSH private key (-----BEGIN … PRIVATE KEY----- … -----END … PRIVATE KEY-----)" }),
  wellKnownHost: z.union([z.literal(""), hostAddress]),
  wellKnownSshPort: z.union([z.literal(0), port]),
  wellKnownSshUser: z.union([z.literal(""), z.string().regex(/^[a-z_][a-z0-9_-]*$/, { error: "a Unix user name" })]),
  wellKnownSshPrivateKey: z.union([z.literal(""), z.string().regex(privateKeyPem, { error: "a PEM or OpenSSH private key" })]),
  privateAddress: z.union([z.literal(""), ipAddress]),
  databaseHost: z.union([z.literal(""), hostAddress]),
  databasePrivateAddress: z.union([z.literal(""), ipAddress]),
  databaseSshPort: z.union([z.literal(0), port]),
  databaseSshUser: z.union([z.literal(""), z.string().regex(/^[a-z_][a-z0-9_-]*$/, { error: "a Unix user name" })]),
  workerHosts: z.array(ipAddress),
  databaseSshPrivateKey: z.union([z.literal(""), z.string().regex(privateKeyPem, { error: "a PEM or OpenSSH private key" })]),
  packageSource: z.enum(["matrix-org", "debian"], { error: "matrix-org or debian" }),
  tlsMode: z.enum(["acme", "provided", "self-signed"], { error: "acme, provided or self-signed" }),
  acmeEmail: z.union([z.literal(""), z.email({ error: "an e-mail address" })]),
  acmeServer: z.union([z.enum(["production", "staging"]), z.url({ protocol: /^https$/, error: "production, staging or an https:// ACME directory URL" })]),
  acmeCaBundle: z.union([z.literal(""), z.string().regex(certificatePem, { error: "one or more PEM certificates" })]),
  tlsCertificate: z.union([z.literal(""), z.string().regex(certificatePem, { error: "one or more PEM certificates" })]),
  tlsPrivateKey: z.union([z.literal(""), z.string().regex(privateKeyPem, { error: "a PEM private key" })]),
  enableRegistration: z.boolean(),
  adminUser: z.union([z.literal(""), z.string().regex(/^[a-z0-9._=\-/]+$/, { error: "a Matrix localpart: a-z, 0-9 and ._=-/" })]),
  reportStats: z.boolean(),
  federationPort8448: z.boolean(),
  adminAllowedNetworks: z.array(z.string().refine(isCidr, { error: "a CIDR such as 192.0.2.0/24 or 2001:db8::/32" })),
  trustedKeyServers: z.array(z.string().regex(dnsName, { error: "a server name such as matrix.org" })),
  mediaStorage: z.enum(["local", "s3"], { error: "local or s3" }),
  mediaBucketMode: z.enum(mediaBucketModes, { error: mediaBucketModes.join(", ") }),
  mediaBucket: z.union([z.literal(""), z.string().regex(bucketNamePattern, { error: "an S3 bucket name: 3-63 of a-z, 0-9, . and -" })]),
  mediaRegion: z.string().regex(/^[a-z0-9-]+$/, { error: "a region such as us-east-1" }),
  mediaEndpoint: z.union([z.literal(""), z.url({ protocol: /^https?$/, error: "an http(s):// URL such as https://s3.us-west-004.backblazeb2.com" })]),
  mediaAccessKeyId: z.union([z.literal(""), z.string().regex(/^[A-Za-z0-9+/=_-]+$/, { error: "an access key ID" })]),
  mediaSecretAccessKey: z.union([z.literal(""), z.string().regex(/^\S+$/, { error: "a secret access key (no spaces)" })]),
  mediaBucketVersioning: z.boolean(),
  mediaStoreLocal: z.boolean(),
  mediaStoreRemote: z.boolean(),
  mediaStoreSynchronous: z.boolean(),
  mediaKeepLocalCopy: z.boolean(),
  mediaUploadSchedule: z.string().regex(calendarPattern, { error: "a systemd OnCalendar expression such as daily or *-*-* 03:30" }),
  federationCaCertificates: z.union([z.literal(""), z.string().regex(certificatePem, { error: "one or more PEM certificates" })]),
  federationIpRangeAllowlist: z.array(z.string().refine(isCidr, { error: "a CIDR such as 10.0.0.0/8" })),
  federationOriginRate: z.number().int().min(0, { error: "an integer >= 1 (0 = the tier's)" }),
  federationOriginBurst: z.number().int().min(0, { error: "an integer >= 1 (0 = the tier's)" }),
  federationPeerRates: z.array(z.string().regex(peerRatePattern, { error: "server.name=requests-per-second, e.g. matrix.org=200" })),
  federationDenyOrigins: z.array(z.string().regex(dnsName, { error: "a server name such as spam.example" })),
  rcFederationSleepLimit: z.number().int().min(0, { error: "an integer >= 1 (0 = the tier's)" }),
  rcFederationRejectLimit: z.number().int().min(0, { error: "an integer >= 1 (0 = the tier's)" }),
  rcFederationConcurrent: z.number().int().min(0, { error: "an integer >= 1 (0 = the tier's)" }),
  databaseReportSchedule: z.string().regex(calendarPattern, { error: "a systemd OnCalendar expression such as weekly or Mon *-*-* 04:00" }),
  databaseGrowthAlertMiB: z.number().int().min(1, { error: "an integer >= 1" }),
  ...backupSchema,
  remoteMediaPurgeSchedule: z.string().regex(calendarPattern, { error: "a systemd OnCalendar expression such as daily" }),
  stateCompressor: z.boolean(),
  stateCompressorSchedule: z.string().regex(calendarPattern, { error: "a systemd OnCalendar expression such as monthly or *-*-01 03:00" }),
  stateCompressorChunkSize: z.number().int().min(1, { error: "an integer >= 1" }),
  stateCompressorChunks: z.number().int().min(1, { error: "an integer >= 1" }),
  purgeHistory: z.array(z.string().regex(purgeEntryPattern, { error: "!room:server=duration, e.g. !abc:example.org=90d" })),
  purgeHistorySchedule: z.string().regex(calendarPattern, { error: "a systemd OnCalendar expression such as daily" }),
  mediaRetentionRemote: z.union([z.literal(""), z.string().regex(durationPattern, { error: durationError })]),
  mediaRetentionLocal: z.union([z.literal(""), z.string().regex(durationPattern, { error: durationError })]),
  forgottenRoomRetention: z.union([z.literal(""), z.string().regex(durationPattern, { error: durationError })]),
  messageRetentionDefault: z.union([z.literal(""), z.string().regex(durationPattern, { error: durationError })]),
  messageRetentionMin: z.union([z.literal(""), z.string().regex(durationPattern, { error: durationError })]),
  messageRetentionMax: z.union([z.literal(""), z.string().regex(durationPattern, { error: durationError })]),
  federationDomainWhitelist: z.array(z.string().regex(dnsName, { error: "a server name such as example.org" })),
  destroyDeletesData: z.boolean(),
  workerSynchrotrons: z.number().int(),
  workerFederationSenders: z.number().int(),
  workerFederationReaders: z.number().int(),
  workerClientReaders: z.number().int(),
  workerEventPersisters: z.number().int(),
  workerMedia: z.number().int(),
  workerBackground: z.number().int(),
  cacheFactor: z.union([z.literal(""), z.string().regex(/^(?:\d+(?:\.\d+)?|\.\d+)$/, { error: "a positive number such as 0.5" })]),
  dbPoolMin: optionalOverride(z.number().int().min(1, { error: "an integer >= 1" })),
  dbPoolMax: optionalOverride(z.number().int().min(1, { error: "an integer >= 1" })),
  maxUploadSize: z.union([z.literal(""), z.string().regex(uploadSizePattern, {
    error: "digits with an optional K, M or G suffix, e.g. 50M (the sizes both nginx and Synapse understand)",
  })]),
  postgresSharedBuffers: z.union([z.literal(""), z.string().regex(pgSizePattern, { error: "a PostgreSQL size such as 256MB (kB, MB, GB or TB)" })]),
  postgresEffectiveCacheSize: z.union([z.literal(""), z.string().regex(pgSizePattern, { error: "a PostgreSQL size such as 768MB" })]),
  postgresWorkMem: z.union([z.literal(""), z.string().regex(pgSizePattern, { error: "a PostgreSQL size such as 8MB" })]),
  postgresMaintenanceWorkMem: z.union([z.literal(""), z.string().regex(pgSizePattern, { error: "a PostgreSQL size such as 64MB" })]),
  postgresMaxConnections: optionalOverride(z.number().int().min(10, { error: "an integer >= 10" })),
});

type Parsed = z.infer<typeof schema>;

/** Turns Pulumi's strings into the key's declared type, or an error message. */
function coerce(key: ConfigKey, raw: string | undefined): { value?: unknown; error?: string } {
  if (raw === undefined) {
    if (key.required) return { error: "is required but not set (pulumi config set " + key.name + (key.secret ? " --secret" : "") + ")" };
    return { value: key.default ?? "" };
  }
  switch (key.type) {
    case "string":
      return { value: raw };
    case "integer":
      return /^-?\d+$/.test(raw.trim()) ? { value: Number(raw) } : { error: `expected an integer` };
    case "boolean":
      return raw === "true" || raw === "false" ? { value: raw === "true" } : { error: "expected true or false" };
    case "array": {
      try {
        const parsed: unknown = JSON.parse(raw);
        if (Array.isArray(parsed) && parsed.every((v) => typeof v === "string")) return { value: parsed };
      } catch { /* reported below */ }
      return { error: "expected a list of strings" };
    }
  }
}

function shown(key: ConfigKey | undefined, raw: string | undefined): string {
  if (raw === undefined) return "nothing";
  if (key?.secret) return "a secret value";
  return JSON.stringify(raw.length > 80 ? raw.slice(0, 77) + "..." : raw);
}

/**
 * @param secretKeys the keys the stack holds encrypted, when known: a secret key set in plain
 * text (without --secret) is refused, since its value would sit readable in Pulumi.<stack>.yaml.
 */
export function parseSettings(raw: RawConfig, secretKeys?: ReadonlySet<string>): SettingsResult {
  const errors: string[] = [];
  const coerced: Record<string, unknown> = {};
  const byName = new Map(configKeys.map((k) => [k.name, k]));
  for (const key of configKeys) {
    const { value, error } = coerce(key, raw[key.name]);
    if (error) errors.push(`${projectName}:${key.name}: given ${shown(key, raw[key.name])}, ${error}`);
    else coerced[key.name] = value;
    if (key.secret && secretKeys && raw[key.name] !== undefined && !secretKeys.has(key.name)) {
      errors.push(`${projectName}:${key.name}: given a plain-text value, expected a secret ` +
        `(pulumi config set --secret ${key.name} …; the plain value is readable in Pulumi.<stack>.yaml: replace it)`);
    }
  }
  for (const name of Object.keys(raw)) {
    if (!byName.has(name)) errors.push(`${projectName}:${name}: unknown key; see the config reference in README.md`);
  }
  const result = schema.safeParse(coerced);
  if (!result.success) {
    for (const issue of result.error.issues) {
      const name = String(issue.path[0] ?? "");
      if (!(name in coerced)) continue; // already reported by coerce
      const where = issue.path.length > 1 ? `[${issue.path.slice(1).join(".")}]` : "";
      errors.push(`${projectName}:${name}${where}: given ${shown(byName.get(name), raw[name])}, expected ${issue.message}`);
    }
  }
  if (errors.length > 0 || !result.success) return { ok: false, errors };
  const settings = toSettings(result.data, errors);
  return errors.length > 0 ? { ok: false, errors } : { ok: true, settings };
}

/** An address key's value, or the SSH address it defaults to when that is an IP address. */
function privateIp(c: Parsed, key: "privateAddress" | "databasePrivateAddress", fallbackKey: "host" | "databaseHost", errors: string[]): string {
  const value = c[key] || c[fallbackKey];
  if (isIP(value) === 0) {
    errors.push(`${projectName}:${key}: given nothing, expected an IP address (required with ${key === "privateAddress" ? "databaseHost or workerHosts" : "databaseHost"} when ${fallbackKey} ` +
      `${JSON.stringify(c[fallbackKey])} is not an IP address)`);
  }
  return value;
}

function databaseNetwork(c: Parsed, errors: string[]): DatabaseNetwork {
  if (c.databaseHost === "") {
    for (const key of ["databasePrivateAddress", "databaseSshUser", "databaseSshPrivateKey"] as const) {
      if (c[key] !== "") errors.push(`${projectName}:${key}: given a value, expected nothing without databaseHost`);
    }
    if (c.databaseSshPort !== 0) errors.push(`${projectName}:databaseSshPort: given ${c.databaseSshPort}, expected nothing without databaseHost`);
    return { box: false, address: "127.0.0.1" };
  }
  const address = privateIp(c, "databasePrivateAddress", "databaseHost", errors);
  const client = privateIp(c, "privateAddress", "host", errors);
  if (address === client) {
    errors.push(`${projectName}:databaseHost: given ${JSON.stringify(c.databaseHost)}, expected another host than the Synapse VPS ` +
      `(both have the private address ${address}); leave it empty for PostgreSQL on the Synapse VPS`);
  }
  return { box: true, address, clients: [client, ...c.workerHosts] };
}

function workerHosts(c: Parsed, synapse: SshConnection, errors: string[]): WorkerHosts {
  if (c.workerHosts.length === 0) return { hosts: [] };
  if (c.databaseHost === "") {
    errors.push(`${projectName}:workerHosts: given ${JSON.stringify(c.workerHosts)}, expected them with databaseHost ` +
      "(workers on other hosts reach PostgreSQL over the private network, which only a database box offers)");
  }
  const mainAddress = c.databaseHost === "" ? privateIp(c, "privateAddress", "host", []) : privateIp(c, "privateAddress", "host", errors);
  if (c.mediaStorage === "s3") {
    errors.push(`${projectName}:workerHosts: given ${JSON.stringify(c.workerHosts)}, expected none with mediaStorage s3 ` +
      "(every process loads the S3 storage provider, which is installed on the Synapse VPS only; not supported yet)");
  }
  const taken = new Set([mainAddress, c.databasePrivateAddress || c.databaseHost]);
  c.workerHosts.forEach((address, i) => {
    if (taken.has(address)) {
      errors.push(`${projectName}:workerHosts[${i}]: given ${JSON.stringify(address)}, expected a host of its own (not the Synapse VPS, the database box or another worker host)`);
    }
    taken.add(address);
  });
  return { mainAddress, hosts: c.workerHosts.map((address) => ({ address, connection: { ...synapse, host: address } })) };
}

/** "90d" → seconds (the pattern has already accepted it). */
function durationToSeconds(duration: string): number {
  const unit = duration.replace(/^\d+/, "");
  return Number(duration.slice(0, -unit.length)) * durationSeconds[unit];
}

function purgeHistory(c: Parsed, errors: string[]): Settings["purgeHistory"] {
  if (c.purgeHistory.length > 0 && c.adminUser === "") {
    errors.push(`${projectName}:purgeHistory: given ${JSON.stringify(c.purgeHistory)}, expected adminUser to be set too (the purges use the admin API with its token)`);
  }
  const rooms = c.purgeHistory.map((entry) => {
    const [, roomId, keep] = purgeEntryPattern.exec(entry)!;
    return { roomId, keepSeconds: durationToSeconds(keep) };
  });
  return { schedule: c.purgeHistorySchedule, rooms };
}

function federationLimits(c: Parsed, errors: string[]): FederationLimits {
  const base = tierFederationLimits[c.tier];
  const peers = c.federationPeerRates.map((entry) => {
    const m = peerRatePattern.exec(entry)!;
    return { origin: m[1], rate: Number(m[2]) };
  });
  const seen = new Set<string>();
  peers.forEach((p, i) => {
    if (seen.has(p.origin)) errors.push(`${projectName}:federationPeerRates[${i}]: given ${JSON.stringify(c.federationPeerRates[i])}, expected each origin once`);
    if (c.federationDenyOrigins.includes(p.origin)) {
      errors.push(`${projectName}:federationPeerRates[${i}]: given ${JSON.stringify(c.federationPeerRates[i])}, expected no rate for a denied origin (federationDenyOrigins)`);
    }
    seen.add(p.origin);
  });
  return {
    rc: {
      ...base.rc,
      sleep_limit: c.rcFederationSleepLimit || base.rc.sleep_limit,
      reject_limit: c.rcFederationRejectLimit || base.rc.reject_limit,
      concurrent: c.rcFederationConcurrent || base.rc.concurrent,
    },
    originRate: c.federationOriginRate || base.originRate,
    originBurst: c.federationOriginBurst || base.originBurst,
    peers,
    deny: c.federationDenyOrigins,
  };
}

/** Cross-key rules and defaults that depend on other keys. */
function toSettings(c: Parsed, errors: string[]): Settings {
  const base = tiers[c.tier];
  const sizing: Sizing = {
    cacheFactor: c.cacheFactor === "" ? base.cacheFactor : Number(c.cacheFactor),
    dbPoolMin: c.dbPoolMin || base.dbPoolMin,
    dbPoolMax: c.dbPoolMax || base.dbPoolMax,
    maxUploadSize: c.maxUploadSize || base.maxUploadSize,
    postgresSharedBuffers: c.postgresSharedBuffers || base.postgresSharedBuffers,
    postgresEffectiveCacheSize: c.postgresEffectiveCacheSize || base.postgresEffectiveCacheSize,
    postgresWorkMem: c.postgresWorkMem || base.postgresWorkMem,
    postgresMaintenanceWorkMem: c.postgresMaintenanceWorkMem || base.postgresMaintenanceWorkMem,
    postgresMaxConnections: c.postgresMaxConnections || base.postgresMaxConnections,
  };
  if (sizing.cacheFactor <= 0) errors.push(`${projectName}:cacheFactor: given ${JSON.stringify(c.cacheFactor)}, expected a number > 0`);
  if (sizing.dbPoolMin > sizing.dbPoolMax) {
    errors.push(`${projectName}:dbPoolMin: given ${sizing.dbPoolMin}, expected at most dbPoolMax (${sizing.dbPoolMax})`);
  }
  const workers = workerCounts(c.tier, {
    synchrotron: c.workerSynchrotrons, federationSender: c.workerFederationSenders,
    federationReader: c.workerFederationReaders, clientReader: c.workerClientReaders,
    eventPersister: c.workerEventPersisters, media: c.workerMedia, background: c.workerBackground,
  }, errors, projectName);
  // Every Synapse process has its own pool of up to cp_max connections; they and PostgreSQL's own
  // reserved and maintenance connections must fit in max_connections.
  const processes = processCount(workers);
  const needed = sizing.dbPoolMax * processes + postgresReservedConnections;
  if (sizing.postgresMaxConnections < needed) {
    errors.push(`${projectName}:postgresMaxConnections: given ${sizing.postgresMaxConnections}, expected at least ` +
      `dbPoolMax × Synapse processes + ${postgresReservedConnections} = ${sizing.dbPoolMax} × ${processes} + ` +
      `${postgresReservedConnections} = ${needed} (or lower dbPoolMax or the worker counts)`);
  }

  let tls: TlsSettings = { mode: "self-signed" };
  if (c.tlsMode === "acme") {
    if (c.acmeEmail === "") errors.push(`${projectName}:acmeEmail: given nothing, expected an e-mail address (required when tlsMode is acme)`);
    tls = { mode: "acme", email: c.acmeEmail, server: acmeDirectories[c.acmeServer] ?? c.acmeServer, caBundle: c.acmeCaBundle };
  } else if (c.tlsMode === "provided") {
    if (c.tlsCertificate === "") errors.push(`${projectName}:tlsCertificate: given nothing, expected a PEM certificate (required when tlsMode is provided)`);
    if (c.tlsPrivateKey === "") errors.push(`${projectName}:tlsPrivateKey: given nothing, expected a PEM private key (required when tlsMode is provided)`);
    tls = { mode: "provided", certificate: c.tlsCertificate, privateKey: c.tlsPrivateKey };
  }

  const matrixHost = c.matrixHost || `matrix.${c.serverName}`;
  const synapse: SshConnection = { host: c.host, port: c.sshPort, user: c.sshUser, privateKey: c.sshPrivateKey };
  const wellKnown: SshConnection = {
    host: c.wellKnownHost || c.host,
    port: c.wellKnownSshPort || c.sshPort,
    user: c.wellKnownSshUser || c.sshUser,
    privateKey: c.wellKnownSshPrivateKey || c.sshPrivateKey,
  };
  const databaseConnection: SshConnection = c.databaseHost === "" ? synapse : {
    host: c.databaseHost,
    port: c.databaseSshPort || c.sshPort,
    user: c.databaseSshUser || c.sshUser,
    privateKey: c.databaseSshPrivateKey || c.sshPrivateKey,
  };
  return {
    serverName: c.serverName,
    matrixHost,
    delegated: matrixHost !== c.serverName,
    tier: c.tier,
    sizing,
    hosts: { synapse, database: databaseConnection, wellKnown },
    database: databaseNetwork(c, errors),
    workerHosts: workerHosts(c, synapse, errors),
    packageSource: c.packageSource,
    tls,
    enableRegistration: c.enableRegistration,
    adminUser: c.adminUser || undefined,
    reportStats: c.reportStats,
    federationPort8448: c.federationPort8448,
    adminAllowedNetworks: c.adminAllowedNetworks,
    trustedKeyServers: c.trustedKeyServers,
    federation: {
      caCertificates: c.federationCaCertificates,
      ipRangeAllowlist: c.federationIpRangeAllowlist,
      domainWhitelist: c.federationDomainWhitelist,
    },
    federationLimits: federationLimits(c, errors),
    databaseReport: { schedule: c.databaseReportSchedule, growthAlertMiB: c.databaseGrowthAlertMiB },
    purgeHistory: purgeHistory(c, errors),
    ...backupSettings(c, errors, projectName),
    remoteMediaPurge: c.adminUser !== "" && c.mediaRetentionRemote !== ""
      ? { schedule: c.remoteMediaPurgeSchedule, keepSeconds: durationToSeconds(c.mediaRetentionRemote) }
      : undefined,
    stateCompressor: c.stateCompressor
      ? { schedule: c.stateCompressorSchedule, chunkSize: c.stateCompressorChunkSize, chunks: c.stateCompressorChunks }
      : undefined,
    retention: {
      mediaRemote: c.mediaRetentionRemote, mediaLocal: c.mediaRetentionLocal, forgottenRooms: c.forgottenRoomRetention,
      messagesDefault: c.messageRetentionDefault, messagesMin: c.messageRetentionMin, messagesMax: c.messageRetentionMax,
    },
    media: mediaSettings(c, errors, projectName),
    workers,
    destroyDeletesData: c.destroyDeletesData,
  };
}
