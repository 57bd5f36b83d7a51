// Stack config → one validated, typed Settings object. Pure: takes the raw strings Pulumi
// stores, returns every problem at once, each naming the key, what was given and the form
// expected, so a bad stack fails before anything touches a host.
import { isIP } from "node:net";
import { z } from "zod";
import { AppService } from "./appservices";
import { BackupSettings, backupSettings, RestoreSettings } from "./backups";
import { durationToSeconds, pemBlocks } from "./forms";
import { ConfigKey, configKeys, ConfigValues, HostRole, purgeEntryPattern, workerCountKeys } from "./keys";
import { FederationLimits, peerRatePattern, tierFederationLimits } from "./federationLimits";
import { loaderRuleErrors } from "./loaderRules";
import { MediaSettings, mediaSettings } from "./media";
import { MonitoringSettings, monitoringSettings } from "./monitoring";
import { renamedKeys } from "./renamed";
import { Sizing, TierName, tiers } from "./tiers";
import { PackageSource, VersionSettings, versionSettings } from "./versions";
import { connectionsNeeded, maxWorkersPerKind, processCount, processMemoryMiB, singletonKinds, WorkerCounts, workerKinds, tierWorkers } from "./workers";
import { TurnSettings, turnSettings } from "./turn";

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
  /**
   * Every key's value as the stack gives it, checked, defaults filled in: what a key that needs no
   * derivation is read from (settings.values.<key>), so adding one is its entry in keys.ts and the
   * code that reads it. The fields below are what is derived from the keys.
   */
  values: ConfigValues;
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
  packageSource: PackageSource;
  /** The Synapse release and PostgreSQL major the stack pins ("" = held at what the host got first). */
  versions: VersionSettings;
  tls: TlsSettings;
  enableRegistration: boolean;
  adminUser?: string;
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
  /** Rooms without local members deleted on a timer (with an admin and a retention). */
  emptyRoomPurge?: { schedule: string; keepSeconds: number };
  /** synapse-reclaim on a timer and after the compressor (undefined: off). */
  reclaim?: ReclaimSettings;
  /** synapse_auto_compressor on a timer (undefined: off): when it runs, its -c and -n. */
  stateCompressor?: { schedule: string; chunkSize: number; chunks: number };
  /** What the homeserver deletes by itself; empty strings keep things forever. */
  retention: RetentionSettings;
  /** What inbound federation may cost: Synapse's rc_federation and nginx's per-origin limits. */
  federationLimits: FederationLimits;
  media: MediaSettings;
  /** Synapse workers per kind; all 0 is a single process. */
  workers: WorkerCounts;
  /** The memory budget of each worker (MiB; systemd's MemoryHigh). */
  workerMemoryMiB: number;
  /** Application service registrations (secret), each with its id. */
  appServices: AppService[];
  /** A TURN server for calls (undefined: off). */
  turn?: TurnSettings;
  /** Prometheus, its exporters and alerts into a Matrix room (undefined: off). */
  monitoring?: MonitoringSettings;
}

/**
 * Where Debian's PostgreSQL puts its Unix socket (libpq's default directory there, so a passfile's
 * `localhost` line answers for it).
 */
export const postgresSocketDir = "/var/run/postgresql";

/**
 * PostgreSQL on the Synapse host, reached over its Unix socket (no TCP: see docs/benchmarks.md), or
 * on a database box that listens on its private address and admits only the Synapse host's private
 * address. `address` is where Synapse connects: the socket's directory or the box's address.
 */
export type DatabaseNetwork =
  | { box: false; address: typeof postgresSocketDir }
  | { box: true; address: string; clients: string[] };

/** A VPS for workers: its address on the private network, where they listen, and its SSH connection. */
export interface WorkerHostSpec {
  address: string;
  connection: SshConnection;
}

/**
 * Where Synapse's processes run: all on the Synapse VPS, or some workers on worker hosts, which
 * reach the main process (replication, Redis) at its private address.
 */
export type WorkerHosts =
  | { mainAddress?: undefined; hosts: [] }
  | { /** The Synapse VPS's private address. */ mainAddress: string; hosts: WorkerHostSpec[] };

/** synapse-reclaim: when it runs besides after the compressor, and when a rebuild pays. */
export interface ReclaimSettings {
  schedule: string;
  /** A table is rebuilt when at least this much of it is reclaimable… */
  minMiB: number;
  /** …and at least this share of it with its indexes. */
  minPercent: number;
}

/** Synapse durations (e.g. "90d"); empty means keep forever / no bound. */
export interface RetentionSettings {
  /** Devices unused this long are deleted ("": never). */
  staleDevices: string;
  mediaRemote: string;
  mediaLocal: string;
  forgottenRooms: string;
  messagesDefault: string;
  messagesMin: string;
  messagesMax: string;
}

/** Closed or private federations. */
export interface FederationSettings {
  /** PEM roots replacing the system's for federation, one certificate each; none: the system's. */
  caCertificates: string[];
  ipRangeAllowlist: string[];
  /** Empty: federate with anyone. */
  domainAllowlist: string[];
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

/** The stack's schema: every key's form, from the one table of keys. */
const schema = z.object(Object.fromEntries(configKeys.map((k) => [k.name, k.schema]))) as unknown as z.ZodType<ConfigValues>;

type Parsed = ConfigValues;

/** Turns Pulumi's strings into the key's declared type, or an error message. */
function coerce(key: ConfigKey, raw: string | undefined): { value?: unknown; error?: string } {
  if (raw === undefined) {
    if (key.required) return { error: "is required but not set (pulumi config set " + key.name + (key.secret ? " --secret" : "") + ")" };
    return { value: key.default ?? (key.type === "array" ? [] : "") };
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
    if (byName.has(name) || raw[name] === undefined) continue;
    const moved = renamedKeys[name];
    if (moved?.to) {
      errors.push(`${projectName}:${name}: was renamed to ${moved.to} (${moved.why}): set ${moved.to} to its value ` +
        `(pulumi config set${byName.get(moved.to)?.secret ? " --secret" : ""} ${moved.to} …) and remove ${name} (pulumi config rm ${name})`);
    }
    else if (moved) errors.push(`${projectName}:${name}: was removed (${moved.why}): pulumi config rm ${name}`);
    else errors.push(`${projectName}:${name}: unknown key; see the config reference in docs/configuration.md`);
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
  // What the loaders of the rendered files would refuse (Synapse's, PostgreSQL's, nginx's).
  errors.push(...loaderRuleErrors(result.data, settings));
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
    return { box: false, address: postgresSocketDir };
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

/** The tier's worker counts with the per-kind keys on top; every out-of-range value reported. */
function workerCounts(c: Parsed, errors: string[]): WorkerCounts {
  const counts = { ...tierWorkers[c.tier] };
  for (const kind of workerKinds) {
    const name = workerCountKeys[kind].key;
    const given = c[name];
    if (given === -1) continue;
    const max = singletonKinds.has(kind) ? 1 : maxWorkersPerKind;
    if (given < 0 || given > max) {
      errors.push(`${projectName}:${name}: given ${given}, expected -1 (the tier's count) or 0 to ${max}`);
      continue;
    }
    counts[kind] = given;
  }
  return counts;
}

/**
 * The tier's sizing with the override keys on top. A 0 or "" means "derive it": from the tier,
 * or from the other keys where the tier's value would contradict what the user set (a pool
 * raised above the tier's max_connections raises max_connections; one key of the pool set alone
 * moves the other). Only values the user gave are refused.
 */
function sizingOf(c: Parsed, processes: number): Sizing {
  const base = tiers[c.tier];
  const dbPoolMax = c.dbPoolMax || Math.max(base.dbPoolMax, c.dbPoolMin || 0);
  const dbPoolMin = c.dbPoolMin || Math.min(base.dbPoolMin, dbPoolMax);
  const needed = connectionsNeeded(dbPoolMax, processes);
  const sizing: Sizing = {
    cacheFactor: c.cacheFactor === "" ? base.cacheFactor : Number(c.cacheFactor),
    dbPoolMin,
    dbPoolMax,
    maxUploadSize: c.maxUploadSize || base.maxUploadSize,
    postgresSharedBuffers: c.postgresSharedBuffers || base.postgresSharedBuffers,
    postgresEffectiveCacheSize: c.postgresEffectiveCacheSize || base.postgresEffectiveCacheSize,
    postgresWorkMem: c.postgresWorkMem || base.postgresWorkMem,
    postgresMaintenanceWorkMem: c.postgresMaintenanceWorkMem || base.postgresMaintenanceWorkMem,
    postgresMaxConnections: c.postgresMaxConnections || Math.max(base.postgresMaxConnections, needed),
  };
  return sizing;
}

function retentionOf(c: Parsed): RetentionSettings {
  return {
    staleDevices: c.staleDeviceRetention,
    mediaRemote: c.mediaRetentionRemote, mediaLocal: c.mediaRetentionLocal, forgottenRooms: c.forgottenRoomRetention,
    messagesDefault: c.messageRetentionDefault, messagesMin: c.messageRetentionMin, messagesMax: c.messageRetentionMax,
  };
}

/** Each certificate of a PEM bundle (the form has accepted the bundle); a single one as it was given. */
function pemCertificates(bundle: string): string[] {
  const certificates = pemBlocks(bundle);
  return certificates.length === 1 ? [bundle] : certificates;
}

/** The registrations, without the tokens only the loader's rules read. */
function appServicesOf(c: Parsed): AppService[] {
  return c.appServiceRegistrations.map(({ id, registration }) => ({ id, registration }));
}

/**
 * The keys of a section that a boolean key switches on (turn, monitoring) do nothing while it is
 * off: one of them set then is a mistake (the switch forgotten), said as such.
 */
function unusedWhileOff(c: Parsed, switchKey: "turn" | "monitoring", errors: string[]): void {
  if (c[switchKey]) return;
  const section = configKeys.find((k) => k.name === switchKey)!.section;
  for (const key of configKeys.filter((k) => k.section === section && k.name !== switchKey)) {
    const value = c[key.name as keyof Parsed];
    const unset = key.default ?? (key.type === "array" ? [] : "");
    if (JSON.stringify(value) === JSON.stringify(unset)) continue;
    errors.push(`${projectName}:${key.name}: given ${key.secret ? "a secret value" : JSON.stringify(value)}, expected nothing without ${switchKey}: true (it has no effect while ${switchKey} is off)`);
  }
}

/** Cross-key rules and defaults that depend on other keys. */
function toSettings(c: Parsed, errors: string[]): Settings {
  const workers = workerCounts(c, errors);
  const sizing = sizingOf(c, processCount(workers));
  unusedWhileOff(c, "turn", errors);
  unusedWhileOff(c, "monitoring", errors);

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
    values: c,
    serverName: c.serverName,
    matrixHost,
    delegated: matrixHost !== c.serverName,
    tier: c.tier,
    sizing,
    hosts: { synapse, database: databaseConnection, wellKnown },
    database: databaseNetwork(c, errors),
    workerHosts: workerHosts(c, synapse, errors),
    packageSource: c.packageSource,
    versions: versionSettings(c, errors, projectName),
    tls,
    enableRegistration: c.enableRegistration,
    adminUser: c.adminUser || undefined,
    trustedKeyServers: c.trustedKeyServers,
    federation: {
      caCertificates: pemCertificates(c.federationCaCertificates),
      ipRangeAllowlist: c.federationIpRangeAllowlist,
      domainAllowlist: c.federationDomainAllowlist,
    },
    federationLimits: federationLimits(c, errors),
    databaseReport: { schedule: c.databaseReportSchedule, growthAlertMiB: c.databaseGrowthAlertMiB },
    purgeHistory: purgeHistory(c, errors),
    ...backupSettings(c, errors, projectName),
    remoteMediaPurge: c.adminUser !== "" && c.mediaRetentionRemote !== ""
      ? { schedule: c.remoteMediaPurgeSchedule, keepSeconds: durationToSeconds(c.mediaRetentionRemote) }
      : undefined,
    emptyRoomPurge: c.adminUser !== "" && c.emptyRoomRetention !== ""
      ? { schedule: c.emptyRoomPurgeSchedule, keepSeconds: durationToSeconds(c.emptyRoomRetention) }
      : undefined,
    reclaim: c.reclaimSpace ? { schedule: c.reclaimSchedule, minMiB: c.reclaimMinMiB, minPercent: c.reclaimMinPercent } : undefined,
    stateCompressor: c.stateCompressor
      ? { schedule: c.stateCompressorSchedule, chunkSize: c.stateCompressorChunkSize, chunks: c.stateCompressorChunks }
      : undefined,
    retention: retentionOf(c),
    media: mediaSettings(c, errors, projectName),
    workers,
    workerMemoryMiB: processMemoryMiB[c.tier].worker,
    appServices: appServicesOf(c),
    ...optional("turn", turnSettings(c, synapse, matrixHost, c.serverName, projectName, errors)),
    ...optional("monitoring", monitoringSettings(c, projectName, errors)),
  };
}

/** `{key: value}`, or nothing when the value is undefined (the settings' optional parts). */
function optional<K extends string, V>(key: K, value: V | undefined): Partial<Record<K, V>> {
  return value === undefined ? {} : ({ [key]: value } as Record<K, V>);
}
