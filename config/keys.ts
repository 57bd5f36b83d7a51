// Every project config key, declared once: its Pulumi type, default, description, whether it is a
// secret, and the form its value must take (a zod schema). settings.ts builds the stack's schema
// from this table; `npm run gen` writes Pulumi.yaml's `config:` block and the config reference
// (docs/configuration.md) from it. Adding a key is one entry here plus the code that uses it.
// Cross-key rules (one key needs another, 0 = the tier's value) are in settings.ts.
import { z } from "zod";
import hostLayout from "./hostLayout.json";
import { bucketNamePattern, calendarPattern, dnsName, forms, isCidr, override, unset } from "./forms";
import { appServiceRegistration } from "./appservices";
import { mediaBucketModes } from "./media";
import { packageSources, postgresMajorPattern, synapseVersionPattern } from "./versions";
import { promDurationPattern, promSizePattern, tierMonitoring } from "./monitoring";
import { relayPortsPattern } from "./turn";
import { peerRatePattern, tierFederationLimits } from "./federationLimits";
import { pgMaxConnectionsBounds, pgSizeBounds, pgSizeBytes, pgSizePattern, TierName, tierNames, uploadSizePattern } from "./tiers";
import { tierWorkers, workerCountKeys, WorkerKind, workerKinds } from "./workers";

export type ConfigType = "string" | "integer" | "boolean" | "array";

/** One key as the table declares it. */
export interface KeySpec<S extends z.ZodTypeAny = z.ZodTypeAny> {
  /** Where the config reference lists it. */
  section: Section;
  type: ConfigType;
  description: string;
  /** Default as Pulumi.yaml declares it; undefined = required, or an optional secret (see below). */
  default?: string | number | boolean | string[];
  secret?: boolean;
  /** Set only by `pulumi config set`; has no default and the program fails without it. */
  required?: boolean;
  /** The form of the value once Pulumi's string is read as `type`. */
  schema: S;
}

/** A key with its name, as the rest of the program reads the table. */
export type ConfigKey = KeySpec & { name: string };

/** The config reference's sections, in order. */
export const sections = [
  "The homeserver", "Hosts and SSH", "A database box and worker hosts", "Versions and upgrades", "TLS", "Users and federation",
  "Federation limits", "What the homeserver deletes by itself", "Keeping the database small", "Backups and restore",
  "Media in a bucket", "Workers", "Calls (TURN)", "Monitoring and alerts", "Sizing (overrides of the tier)", "Teardown",
] as const;
export type Section = (typeof sections)[number];

const key = <S extends z.ZodTypeAny>(spec: KeySpec<S>) => spec;

/** "(solo 10, community 30, large 100)": a tier table's values, for a description. */
const perTier = (value: (tier: TierName) => string | number) => `(${tierNames.map((t) => `${t} ${value(t)}`).join(", ")})`;

const ageRecipient = z.string().regex(/^age1[02-9ac-hj-np-z]{58}$/, { error: "an age public key (age1…, from age-keygen)" });
const ageIdentity = z.string().regex(/^AGE-SECRET-KEY-1[02-9ACDEFGHJKLMNPQRSTUVWXYZ]{58}$/, { error: "an age private key (AGE-SECRET-KEY-1…)" });
/** A room ID and how much of its history to keep. */
export const purgeEntryPattern = /^(![A-Za-z0-9._~-]+:[a-z0-9.-]+(?::\d{1,5})?)=([1-9][0-9]*(?:s|m|h|d|w|y))$/;
/** A restore's source: the newest off-host run, one by name (its UTC start time), or a path on the Synapse VPS. */
export const restoreSourcePattern = new RegExp(`^(offsite|offsite:${hostLayout.backupRunName.pattern}|/[A-Za-z0-9._/-]+)$`);

// Each worker kind's count key is declared from the kind's entry (config/workers.ts).
export { workerCountKeys };
type WorkerCountKey = (typeof workerCountKeys)[WorkerKind]["key"];

const workerKeys = Object.fromEntries(workerKinds.map((kind) => [workerCountKeys[kind].key, key({
  section: "Workers", type: "integer", default: -1, schema: z.number().int(),
  description: `${workerCountKeys[kind].what}; -1 means the tier's count ${perTier((t) => tierWorkers[t][kind])}.`,
})])) as Record<WorkerCountKey, KeySpec<z.ZodNumber>>;

/** A PostgreSQL memory setting within PostgreSQL's own bounds. */
const pgSize = (example: string, bounds: { min: string; below: string }) => {
  const form = `a PostgreSQL size such as ${example} (kB, MB, GB or TB), at least ${bounds.min} and below ${bounds.below}`;
  const within = (v: string) => !pgSizePattern.test(v) || (pgSizeBytes(v) >= pgSizeBytes(bounds.min) && pgSizeBytes(v) < pgSizeBytes(bounds.below));
  return unset(z.string().regex(pgSizePattern, { error: form }).refine(within, { error: form }));
};
const promDuration = (example: string) => z.string().regex(promDurationPattern, { error: `a duration such as ${example} (a number and s, m, h, d or w)` });
const calendar = (example: string) => z.string().regex(calendarPattern, { error: `a systemd OnCalendar expression such as ${example}` });
const serverNames = (example: string) => z.array(z.string().regex(dnsName, { error: `a server name such as ${example}` }));

export const keyTable = {
  serverName: key({ section: "The homeserver", type: "string", required: true, schema: forms.serverName,
    description: "The Matrix server name: the part after the colon in @user:server. A DNS name. Permanent." }),
  matrixHost: key({ section: "The homeserver", type: "string", default: "", schema: unset(forms.dnsName),
    description: "Public host name of the homeserver; empty means matrix.<serverName>." }),
  tier: key({ section: "The homeserver", type: "string", default: "solo", schema: z.enum(tierNames, { error: `one of ${tierNames.join(", ")}` }),
    description: "Sizing tier: solo (a 2 GB / 2 CPU host), community (4 GB / 4 CPU) or large (8 GB); each fits its host with 20 % to spare." }),

  host: key({ section: "Hosts and SSH", type: "string", required: true, schema: forms.host,
    description: "SSH address of the Synapse VPS (runs Synapse, PostgreSQL and nginx)." }),
  sshPort: key({ section: "Hosts and SSH", type: "integer", default: 22, schema: forms.port, description: "SSH port of the Synapse VPS." }),
  sshUser: key({ section: "Hosts and SSH", type: "string", default: "root", schema: forms.unixUser,
    description: "SSH user of the Synapse VPS (root, or a user with passwordless sudo)." }),
  sshPrivateKey: key({ section: "Hosts and SSH", type: "string", secret: true, required: true, schema: forms.privateKey,
    description: "OpenSSH/PEM private key for the SSH connections (set with --secret)." }),
  wellKnownHost: key({ section: "Hosts and SSH", type: "string", default: "", schema: unset(forms.host),
    description: "SSH address of the host that serves https://<serverName>/.well-known/matrix/*; empty means the Synapse VPS." }),
  wellKnownSshPort: key({ section: "Hosts and SSH", type: "integer", default: 0, schema: z.union([z.literal(0), forms.port]),
    description: "SSH port of the well-known host; 0 means sshPort." }),
  wellKnownSshUser: key({ section: "Hosts and SSH", type: "string", default: "", schema: unset(forms.unixUser),
    description: "SSH user of the well-known host; empty means sshUser." }),
  wellKnownSshPrivateKey: key({ section: "Hosts and SSH", type: "string", secret: true, schema: unset(forms.privateKey),
    description: "Private key for the well-known host; unset means sshPrivateKey." }),

  privateAddress: key({ section: "A database box and worker hosts", type: "string", default: "", schema: unset(forms.ip),
    description: "The Synapse VPS's IP address on the private network (the database box and worker hosts see it there); empty means host (then an IP address). Used only with databaseHost." }),
  databaseHost: key({ section: "A database box and worker hosts", type: "string", default: "", schema: unset(forms.host),
    description: "SSH address of a dedicated database box running PostgreSQL; empty means PostgreSQL on the Synapse VPS." }),
  databasePrivateAddress: key({ section: "A database box and worker hosts", type: "string", default: "", schema: unset(forms.ip),
    description: "The database box's IP address on the private network: PostgreSQL listens there only and Synapse connects to it; empty means databaseHost (then an IP address)." }),
  databaseSshPort: key({ section: "A database box and worker hosts", type: "integer", default: 0, schema: z.union([z.literal(0), forms.port]),
    description: "SSH port of the database box; 0 means sshPort." }),
  databaseSshUser: key({ section: "A database box and worker hosts", type: "string", default: "", schema: unset(forms.unixUser),
    description: "SSH user of the database box; empty means sshUser." }),
  databaseSshPrivateKey: key({ section: "A database box and worker hosts", type: "string", secret: true, schema: unset(forms.privateKey),
    description: "Private key for the database box; unset means sshPrivateKey." }),
  workerHosts: key({ section: "A database box and worker hosts", type: "array", default: [], schema: z.array(forms.ip),
    description: "IP addresses of more VPSes for Synapse's workers, on the private network and reachable by SSH there (sshPort, sshUser, sshPrivateKey); needs databaseHost. Synchrotrons, federation readers and senders, client readers and event persisters are spread over them; the media and background workers stay on the Synapse VPS." }),

  packageSource: key({ section: "Versions and upgrades", type: "string", default: "matrix-org", schema: z.enum(packageSources, { error: packageSources.join(", ") }),
    description: "matrix-org (packages.matrix.org, matrix-synapse-py3), debian (the distribution's matrix-synapse) or pypi (Synapse from PyPI into a virtualenv at /opt/venvs/matrix-synapse, matrix.org's layout, with a lock of its dependencies)." }),
  synapseVersion: key({ section: "Versions and upgrades", type: "string", default: "", schema: unset(z.string().regex(synapseVersionPattern, { error: "a Synapse release such as 1.160.0 (or 1.161.0rc1)" })),
    description: "The Synapse release to run, e.g. 1.160.0; changing it is what upgrades (or downgrades) Synapse, with a backup first. Empty: the newest the package source has when Synapse is first installed (or the one already installed), then held (the stack output synapseVersion) until you set one." }),
  postgresVersion: key({ section: "Versions and upgrades", type: "string", default: "", schema: unset(z.string().regex(postgresMajorPattern, { error: "a PostgreSQL major version such as 17" })),
    description: "The PostgreSQL major version on the database host, e.g. 17; changing it to a newer one moves the database to a new cluster of that version (the old one is kept, stopped). Empty: the distribution's default when PostgreSQL is first installed (or the cluster already serving), then held (the stack output postgresVersion)." }),
  postgresDropOldCluster: key({ section: "Versions and upgrades", type: "string", default: "", schema: unset(z.string().regex(postgresMajorPattern, { error: "the major version of the old cluster to drop, such as 17" })),
    description: "The major version of a cluster a PostgreSQL upgrade moved the database from (e.g. 17), to drop (pg_dropcluster) once you are satisfied with the new one; empty keeps it. Only a cluster this program moved from is ever dropped." }),
  tlsMode: key({ section: "TLS", type: "string", default: "acme", schema: z.enum(["acme", "provided", "self-signed"], { error: "acme, provided or self-signed" }),
    description: "acme (Let's Encrypt via certbot, HTTP-01), provided (tlsCertificate + tlsPrivateKey) or self-signed (sandbox only)." }),
  acmeEmail: key({ section: "TLS", type: "string", default: "", schema: unset(z.email({ error: "an e-mail address" })),
    description: "Contact e-mail for ACME; required when tlsMode is acme." }),
  acmeServer: key({ section: "TLS", type: "string", default: "production",
    schema: z.union([z.enum(["production", "staging"]), z.url({ protocol: /^https$/, error: "production, staging or an https:// ACME directory URL" })]),
    description: "ACME directory: production or staging (Let's Encrypt's), or the https:// URL of another ACME server (a company CA)." }),
  acmeCaBundle: key({ section: "TLS", type: "string", default: "", schema: unset(forms.certificates),
    description: "PEM certificate(s) certbot trusts for a private ACME server's HTTPS; empty means the system's CAs." }),
  tlsCertificate: key({ section: "TLS", type: "string", default: "", schema: unset(forms.certificates),
    description: "PEM certificate chain covering matrixHost and serverName; required when tlsMode is provided." }),
  tlsPrivateKey: key({ section: "TLS", type: "string", secret: true, schema: unset(forms.pemPrivateKey),
    description: "PEM private key of tlsCertificate; required when tlsMode is provided (set with --secret)." }),

  enableRegistration: key({ section: "Users and federation", type: "boolean", default: false, schema: z.boolean(),
    description: "Open public registration (off by default)." }),
  adminUser: key({ section: "Users and federation", type: "string", default: "",
    schema: unset(z.string().regex(/^[a-z0-9._=\-/]+$/, { error: "a Matrix localpart: a-z, 0-9 and ._=-/" })),
    description: "Localpart of a first admin user created with the registration shared secret; empty means none." }),
  reportStats: key({ section: "Users and federation", type: "boolean", default: false, schema: z.boolean(),
    description: "Send anonymous usage statistics to matrix.org." }),
  federationPort8448: key({ section: "Users and federation", type: "boolean", default: false, schema: z.boolean(),
    description: "Also listen on 8448 for federation (only needed without .well-known delegation)." }),
  adminAllowedNetworks: key({ section: "Users and federation", type: "array", default: [], schema: z.array(forms.cidr),
    description: "CIDRs allowed to reach /_synapse/admin through nginx; the host itself always is." }),
  trustedKeyServers: key({ section: "Users and federation", type: "array", default: ["matrix.org"],
    schema: serverNames("matrix.org"),
    description: "Server names trusted to vouch for other servers' signing keys; an empty list fetches each server's keys from it directly." }),
  appServiceRegistrations: key({ section: "Users and federation", type: "array", secret: true, schema: z.array(appServiceRegistration),
    description: "Application service registrations (bridges, bots), each the YAML file the bridge gives you, set with --secret (pulumi config set --secret --path 'appServiceRegistrations[0]' < registration.yaml); Synapse loads each from a 0600 file." }),
  federationCaCertificates: key({ section: "Users and federation", type: "string", default: "", schema: unset(forms.certificates),
    description: "PEM root certificate(s) Synapse trusts for federation instead of the system's (federation_custom_ca_list): a private federation's CA." }),
  federationIpRangeAllowlist: key({ section: "Users and federation", type: "array", default: [],
    schema: z.array(z.string().refine(isCidr, { error: "a CIDR such as 10.0.0.0/8" })),
    description: "CIDRs Synapse may federate with although they are private addresses (ip_range_whitelist): a private network of homeservers." }),
  federationDomainAllowlist: key({ section: "Users and federation", type: "array", default: [], schema: serverNames("example.org"),
    description: "The only server names this homeserver federates with (federation_domain_whitelist); empty means any." }),

  federationOriginRate: key({ section: "Federation limits", type: "integer", default: 0, schema: forms.tierOverride,
    description: `nginx: inbound federation requests per second per origin server (from its signature), above which it answers 429; 0 means the tier's ${perTier((t) => tierFederationLimits[t].originRate)}.` }),
  federationOriginBurst: key({ section: "Federation limits", type: "integer", default: 0, schema: forms.tierOverride,
    description: `nginx: requests an origin may send above its rate before the 429s start; 0 means the tier's ${perTier((t) => tierFederationLimits[t].originBurst)}.` }),
  federationPeerRates: key({ section: "Federation limits", type: "array", default: [],
    schema: z.array(z.string().regex(peerRatePattern, { error: "server.name=requests-per-second, e.g. matrix.org=200" })),
    description: "Origins with their own nginx rate, as server.name=requests-per-second (e.g. matrix.org=200)." }),
  federationDenyOrigins: key({ section: "Federation limits", type: "array", default: [], schema: serverNames("spam.example"),
    description: "Origin servers nginx refuses with 403 before Synapse sees their requests." }),
  rcFederationSleepLimit: key({ section: "Federation limits", type: "integer", default: 0, schema: forms.tierOverride,
    description: `Synapse rc_federation.sleep_limit: requests per window from one server before they are delayed; 0 means the tier's ${perTier((t) => tierFederationLimits[t].rc.sleep_limit)}.` }),
  rcFederationRejectLimit: key({ section: "Federation limits", type: "integer", default: 0, schema: forms.tierOverride,
    description: `Synapse rc_federation.reject_limit: requests queued from one server before the rest are rejected; 0 means the tier's ${perTier((t) => tierFederationLimits[t].rc.reject_limit)}.` }),
  rcFederationConcurrent: key({ section: "Federation limits", type: "integer", default: 0, schema: forms.tierOverride,
    description: `Synapse rc_federation.concurrent: requests from one server processed at once; 0 means the tier's ${perTier((t) => tierFederationLimits[t].rc.concurrent)}.` }),

  mediaRetentionRemote: key({ section: "What the homeserver deletes by itself", type: "string", default: "90d", schema: unset(forms.duration),
    description: "Delete cached media from other servers not accessed for this long (Synapse media_retention, e.g. 30d); empty keeps it forever." }),
  mediaRetentionLocal: key({ section: "What the homeserver deletes by itself", type: "string", default: "", schema: unset(forms.duration),
    description: "Delete media uploaded by local users not accessed for this long; empty (the default) keeps it forever." }),
  forgottenRoomRetention: key({ section: "What the homeserver deletes by itself", type: "string", default: "28d", schema: unset(forms.duration),
    description: "Purge a room from the database this long after its last local member forgot it (forgotten_room_retention_period); empty never." }),
  staleDeviceRetention: key({ section: "What the homeserver deletes by itself", type: "string", default: "1y", schema: unset(forms.duration),
    description: "Delete users' devices (sessions) unused for this long (delete_stale_devices_after): a phone gone for a year still collects to-device messages and keys nobody reads; empty never." }),
  emptyRoomRetention: key({ section: "What the homeserver deletes by itself", type: "string", default: "30d", schema: unset(forms.duration),
    description: "Delete rooms no local user is in any more (not joined, invited or knocking) once nothing happened in them for this long (synapse-purge-empty-rooms, daily; needs adminUser); they live on at other servers. Empty never." }),
  emptyRoomPurgeSchedule: key({ section: "What the homeserver deletes by itself", type: "string", default: "daily", schema: calendar("daily"),
    description: "When synapse-purge-empty-rooms runs, as a systemd OnCalendar expression." }),
  messageRetentionDefault: key({ section: "What the homeserver deletes by itself", type: "string", default: "", schema: unset(forms.duration),
    description: "Message retention: the lifetime of events in rooms without a policy of their own (e.g. 365d), purged by Synapse's jobs; empty keeps history forever." }),
  messageRetentionMin: key({ section: "What the homeserver deletes by itself", type: "string", default: "", schema: unset(forms.duration),
    description: "The shortest lifetime a room's own retention policy may set (allowed_lifetime_min); empty means no bound." }),
  messageRetentionMax: key({ section: "What the homeserver deletes by itself", type: "string", default: "", schema: unset(forms.duration),
    description: "The longest lifetime a room's own retention policy may set (allowed_lifetime_max); empty means no bound." }),

  databaseReportSchedule: key({ section: "Keeping the database small", type: "string", default: "weekly", schema: calendar("weekly or Mon *-*-* 04:00"),
    description: "When synapse-db-report writes the database report to the journal, as a systemd OnCalendar expression." }),
  databaseGrowthAlertMiB: key({ section: "Keeping the database small", type: "integer", default: 1024, schema: forms.positive,
    description: "The report fails (exit 2, a failed unit, a warning in the journal) when the database grew faster than this many MiB per day since the last report." }),
  stateCompressor: key({ section: "Keeping the database small", type: "boolean", default: true, schema: z.boolean(),
    description: "Build synapse_auto_compressor on the database host (in the background, once) and run it on a timer to compress Synapse's state tables." }),
  stateCompressorSchedule: key({ section: "Keeping the database small", type: "string", default: "monthly", schema: calendar("monthly or *-*-01 03:00"),
    description: "When the state compressor runs (then VACUUM ANALYZE of the state tables), as a systemd OnCalendar expression." }),
  stateCompressorChunkSize: key({ section: "Keeping the database small", type: "integer", default: 500, schema: forms.positive,
    description: "State groups the compressor loads into memory at once (its -c): smaller uses less memory." }),
  stateCompressorChunks: key({ section: "Keeping the database small", type: "integer", default: 100, schema: forms.positive,
    description: "Chunks the compressor works through per run (its -n): more compresses further per run and runs longer." }),
  reclaimSpace: key({ section: "Keeping the database small", type: "boolean", default: true, schema: z.boolean(),
    description: "Give the space deleted rows leave in Synapse's tables back to the disk while Synapse serves (synapse-reclaim: pg_repack on the database host), on its timer and after every compressor run." }),
  reclaimSchedule: key({ section: "Keeping the database small", type: "string", default: "*-*-* 05:00", schema: calendar("*-*-* 05:00"),
    description: "When synapse-reclaim runs besides after the compressor: daily by default, after the day's purges and Synapse's deletion of the state they left unreferenced." }),
  reclaimMinMiB: key({ section: "Keeping the database small", type: "integer", default: 8, schema: forms.positive,
    description: "A table is rebuilt only when at least this many MiB of it (with its indexes) are reclaimable…" }),
  reclaimMinPercent: key({ section: "Keeping the database small", type: "integer", default: 20,
    schema: z.number().int().min(1, { error: "a percentage from 1 to 99" }).max(99, { error: "a percentage from 1 to 99" }),
    description: "…and at least this share of it: a rebuild rewrites the whole table, so it waits until it pays." }),
  remoteMediaPurgeSchedule: key({ section: "Keeping the database small", type: "string", default: "daily", schema: calendar("daily"),
    description: "When synapse-purge-remote-media deletes cached remote media not accessed for mediaRetentionRemote (needs adminUser; Synapse's own hourly job does the same), as a systemd OnCalendar expression." }),
  purgeHistory: key({ section: "Keeping the database small", type: "array", default: [],
    schema: z.array(z.string().regex(purgeEntryPattern, { error: "!room:server=duration, e.g. !abc:example.org=90d" })),
    description: "Rooms whose history older than a keep period is purged on a timer through the admin API, as !room:server=duration (e.g. !abc:example.org=90d); needs adminUser." }),
  purgeHistorySchedule: key({ section: "Keeping the database small", type: "string", default: "daily", schema: calendar("daily"),
    description: "When the history purges run, as a systemd OnCalendar expression." }),

  backups: key({ section: "Backups and restore", type: "boolean", default: true, schema: z.boolean(),
    description: "Back up the database, signing key, config and local media on the Synapse VPS on a timer (synapse-backup; kept on the VPS only)." }),
  backupSchedule: key({ section: "Backups and restore", type: "string", default: "*-*-* 03:30", schema: calendar("*-*-* 03:30"),
    description: "When synapse-backup runs, as a systemd OnCalendar expression." }),
  backupKeep: key({ section: "Backups and restore", type: "integer", default: 7, schema: forms.positive,
    description: "How many backup runs to keep (the newest)." }),
  backupBucket: key({ section: "Backups and restore", type: "string", default: "", schema: unset(z.string().regex(bucketNamePattern, { error: "an S3 bucket name" })),
    description: "An S3 or S3-compatible bucket for an encrypted off-host copy of every backup run and of local media; empty: backups stay on the VPS and die with it." }),
  backupEndpoint: key({ section: "Backups and restore", type: "string", default: "", schema: unset(forms.s3Endpoint),
    description: "S3 endpoint URL of backupBucket, e.g. https://s3.us-west-004.backblazeb2.com; empty means AWS." }),
  backupRegion: key({ section: "Backups and restore", type: "string", default: "us-east-1", schema: forms.region,
    description: "Region of backupBucket." }),
  backupPrefix: key({ section: "Backups and restore", type: "string", default: "",
    schema: unset(z.string().regex(/^[A-Za-z0-9._-]+(\/[A-Za-z0-9._-]+)*$/, { error: "a folder name such as example.org or backups/matrix" })),
    description: "Folder in backupBucket for this homeserver's copies; empty means the server name." }),
  backupAccessKeyId: key({ section: "Backups and restore", type: "string", default: "", schema: unset(forms.accessKeyId),
    description: "Access key ID for backupBucket (required with it)." }),
  backupSecretAccessKey: key({ section: "Backups and restore", type: "string", secret: true, schema: unset(forms.secretAccessKey),
    description: "Secret of backupAccessKeyId (set with --secret)." }),
  backupAgeRecipient: key({ section: "Backups and restore", type: "string", default: "", schema: unset(ageRecipient),
    description: "The age public key (age1…) the off-host copy is encrypted to (required with backupBucket); keep its private key (age-keygen) off the VPS." }),
  restoreFrom: key({ section: "Backups and restore", type: "string", default: "",
    schema: unset(z.string().regex(restoreSourcePattern, { error: "offsite, offsite:<run> (e.g. offsite:20261127T033000Z) or an absolute path on the Synapse VPS" })),
    description: "Restore the homeserver from a backup before Synapse first starts: offsite (the newest run in backupBucket), offsite:RUN (a run by its name, e.g. offsite:20261127T033000Z) or the absolute path on the Synapse VPS of a run directory or a run archive (.tar, .tar.age)." }),
  restoreAgeIdentity: key({ section: "Backups and restore", type: "string", secret: true, schema: unset(ageIdentity),
    description: "The age private key (AGE-SECRET-KEY-1…) that decrypts an encrypted restoreFrom (set with --secret)." }),
  restoreOverwrite: key({ section: "Backups and restore", type: "boolean", default: false, schema: z.boolean(),
    description: "Let restoreFrom replace a homeserver that already has data (database tables, media or another signing key); otherwise such a restore is refused." }),

  mediaStorage: key({ section: "Media in a bucket", type: "string", default: "local", schema: z.enum(["local", "s3"], { error: "local or s3" }),
    description: "local (media on the Synapse host's disk) or s3 (an S3 or S3-compatible bucket; see mediaBucketMode)." }),
  mediaBucketMode: key({ section: "Media in a bucket", type: "string", default: "existing", schema: z.enum(mediaBucketModes, { error: mediaBucketModes.join(", ") }),
    description: "With mediaStorage s3: aws (bucket and IAM user made with @pulumi/aws), s3-compatible (bucket made on mediaEndpoint with your key: Backblaze B2, Wasabi, R2, MinIO…) or existing (your bucket; nothing is made)." }),
  mediaBucket: key({ section: "Media in a bucket", type: "string", default: "", schema: unset(forms.bucket),
    description: "Bucket name; required when mediaStorage is s3." }),
  mediaRegion: key({ section: "Media in a bucket", type: "string", default: "us-east-1", schema: forms.region,
    description: "Region of the bucket (B2: the region in its endpoint, e.g. us-west-004)." }),
  mediaEndpoint: key({ section: "Media in a bucket", type: "string", default: "", schema: unset(forms.s3Endpoint),
    description: "S3 endpoint URL, e.g. https://s3.us-west-004.backblazeb2.com; required for s3-compatible, empty means AWS." }),
  mediaAccessKeyId: key({ section: "Media in a bucket", type: "string", default: "", schema: unset(forms.accessKeyId),
    description: "Access key ID for s3-compatible and existing (B2: the application key's keyID); the aws mode makes its own." }),
  mediaSecretAccessKey: key({ section: "Media in a bucket", type: "string", secret: true, schema: unset(forms.secretAccessKey),
    description: "Secret of mediaAccessKeyId (set with --secret)." }),
  mediaBucketVersioning: key({ section: "Media in a bucket", type: "boolean", default: false, schema: z.boolean(),
    description: "Turn on object versioning for a bucket this program makes (aws and s3-compatible)." }),
  mediaStoreLocal: key({ section: "Media in a bucket", type: "boolean", default: true, schema: z.boolean(),
    description: "Copy media uploaded by local users to the bucket (store_local)." }),
  mediaStoreRemote: key({ section: "Media in a bucket", type: "boolean", default: true, schema: z.boolean(),
    description: "Copy media fetched from other servers to the bucket (store_remote)." }),
  mediaStoreSynchronous: key({ section: "Media in a bucket", type: "boolean", default: true, schema: z.boolean(),
    description: "An upload succeeds only once it is in the bucket (store_synchronous); off: copied in the background." }),
  mediaKeepLocalCopy: key({ section: "Media in a bucket", type: "boolean", default: true, schema: z.boolean(),
    description: "Keep media on the host's disk too; off: the upload job deletes each local file once its copy in the bucket is verified." }),
  mediaUploadSchedule: key({ section: "Media in a bucket", type: "string", default: "daily", schema: calendar("daily or *-*-* 03:30"),
    description: "When the upload job (s3_media_upload) runs, as a systemd OnCalendar expression; it also runs right after the switch to s3." }),

  ...workerKeys,

  turn: key({ section: "Calls (TURN)", type: "boolean", default: false, schema: z.boolean(),
    description: "A TURN server (coturn from the distribution) so that voice and video calls connect behind NAT and on mobile networks; Synapse hands clients credentials for it. Open its ports at your VPS provider: see docs/calls.md." }),
  turnHost: key({ section: "Calls (TURN)", type: "string", default: "", schema: unset(forms.host),
    description: "SSH address of a host of its own for coturn (reached with sshPort, sshUser and sshPrivateKey; it gets nginx for its certificate); empty means the Synapse VPS." }),
  turnDomain: key({ section: "Calls (TURN)", type: "string", default: "", schema: unset(forms.dnsName),
    description: "The host name clients reach TURN at (turn_uris, and the certificate's name); empty means matrixHost on the Synapse VPS, turn.<serverName> with turnHost." }),
  turnExternalIp: key({ section: "Calls (TURN)", type: "string", default: "", schema: unset(forms.ip),
    description: "The TURN host's public IP address when it sits behind NAT (a cloud VPS whose interface has a private address): coturn's external-ip; empty means its own addresses are public." }),
  turnRelayPorts: key({ section: "Calls (TURN)", type: "string", default: "49152-65535",
    schema: z.string().regex(relayPortsPattern, { error: "a port range such as 49152-65535" }),
    description: "The UDP ports coturn relays media on, as min-max (its min-port and max-port): open them at your VPS provider, with 3478 (UDP and TCP) and 5349 (TCP)." }),
  turnUserLifetime: key({ section: "Calls (TURN)", type: "string", default: "1h", schema: forms.duration,
    description: "How long the TURN credentials Synapse hands a client stay valid (turn_user_lifetime)." }),
  turnAllowedPeerRanges: key({ section: "Calls (TURN)", type: "array", default: [], schema: z.array(forms.cidr),
    description: "CIDRs the relay may reach although they are private or special (allowed-peer-ip), e.g. a private network whose clients call each other through TURN; every other private and special range is denied." }),

  monitoring: key({ section: "Monitoring and alerts", type: "boolean", default: false, schema: z.boolean(),
    description: "Prometheus from the distribution (every Synapse process, node, PostgreSQL and nginx exporters; loopback and the private network only), alert rules, and Alertmanager posting each alert into a Matrix room the admin is invited to; needs adminUser. See docs/monitoring.md." }),
  monitoringInterval: key({ section: "Monitoring and alerts", type: "string", default: "30s", schema: promDuration("30s"),
    description: "How often Prometheus scrapes and evaluates its alert rules." }),
  monitoringAlertFor: key({ section: "Monitoring and alerts", type: "string", default: "5m", schema: promDuration("5m"),
    description: "How long a condition must hold before its alert fires (each rule's `for`; the disk and growth alerts wait longer); also Alertmanager's interval between notices of one alert group." }),
  monitoringRetention: key({ section: "Monitoring and alerts", type: "string", default: "", schema: unset(promDuration("30d")),
    description: `How long Prometheus keeps its samples; empty means the tier's ${perTier((t) => tierMonitoring[t].retentionTime)}.` }),
  monitoringRetentionSize: key({ section: "Monitoring and alerts", type: "string", default: "",
    schema: unset(z.string().regex(promSizePattern, { error: "a size such as 512MB or 2GB" })),
    description: `The most disk Prometheus's samples may take (the oldest go first); empty means the tier's ${perTier((t) => tierMonitoring[t].retentionSize)}.` }),
  monitoringBotUser: key({ section: "Monitoring and alerts", type: "string", default: "alerts",
    schema: z.string().regex(/^[a-z0-9._=\-/]+$/, { error: "a Matrix localpart: a-z, 0-9 and ._=-/" }),
    description: "Localpart of the bot user the program creates to post alerts into the admin room." }),
  alertWebhookUrl: key({ section: "Monitoring and alerts", type: "string", default: "",
    schema: unset(z.url({ protocol: /^https?$/, error: "an http(s):// URL" })),
    description: "Also send every alert to this URL (Alertmanager's webhook JSON); empty means the room only." }),
  alertEmail: key({ section: "Monitoring and alerts", type: "string", default: "", schema: unset(z.email({ error: "an e-mail address" })),
    description: "Also mail every alert to this address (needs alertSmtpHost and alertSmtpFrom); empty means the room only." }),
  alertSmtpHost: key({ section: "Monitoring and alerts", type: "string", default: "",
    schema: unset(z.string().regex(/^[A-Za-z0-9.\-\[\]:]+:[0-9]{1,5}$/, { error: "host:port of an SMTP server, e.g. smtp.example.org:587" })),
    description: "The SMTP server alerts are mailed through, as host:port (STARTTLS when it offers it)." }),
  alertSmtpFrom: key({ section: "Monitoring and alerts", type: "string", default: "", schema: unset(z.email({ error: "an e-mail address" })),
    description: "The sender address of alert mails." }),
  alertSmtpUser: key({ section: "Monitoring and alerts", type: "string", default: "", schema: unset(z.string().regex(/^\S+$/, { error: "a login name (no spaces)" })),
    description: "The SMTP login, if the server wants one." }),
  alertSmtpPassword: key({ section: "Monitoring and alerts", type: "string", secret: true, schema: unset(z.string().min(1)),
    description: "The SMTP password of alertSmtpUser (set with --secret)." }),

  cacheFactor: key({ section: "Sizing (overrides of the tier)", type: "string", default: "",
    schema: unset(z.string().regex(/^(?:\d+(?:\.\d+)?|\.\d+)$/, { error: "a positive number such as 0.5" })),
    description: "Override: Synapse caches.global_factor (a number; tier default)." }),
  dbPoolMin: key({ section: "Sizing (overrides of the tier)", type: "integer", default: 0, schema: override(forms.positive),
    description: "Override: database cp_min (0 = tier default)." }),
  dbPoolMax: key({ section: "Sizing (overrides of the tier)", type: "integer", default: 0, schema: override(forms.positive),
    description: "Override: database cp_max (0 = tier default)." }),
  maxUploadSize: key({ section: "Sizing (overrides of the tier)", type: "string", default: "",
    schema: unset(z.string().regex(uploadSizePattern, { error: "digits with an optional K, M or G suffix, e.g. 50M (the sizes both nginx and Synapse understand)" })),
    description: "Override: max_upload_size and nginx client_max_body_size, e.g. 50M (digits with optional K, M or G)." }),
  postgresSharedBuffers: key({ section: "Sizing (overrides of the tier)", type: "string", default: "", schema: pgSize("256MB", pgSizeBounds.postgresSharedBuffers),
    description: "Override: PostgreSQL shared_buffers, e.g. 256MB." }),
  postgresEffectiveCacheSize: key({ section: "Sizing (overrides of the tier)", type: "string", default: "", schema: pgSize("768MB", pgSizeBounds.postgresEffectiveCacheSize),
    description: "Override: PostgreSQL effective_cache_size." }),
  postgresWorkMem: key({ section: "Sizing (overrides of the tier)", type: "string", default: "", schema: pgSize("8MB", pgSizeBounds.postgresWorkMem),
    description: "Override: PostgreSQL work_mem." }),
  postgresMaintenanceWorkMem: key({ section: "Sizing (overrides of the tier)", type: "string", default: "", schema: pgSize("64MB", pgSizeBounds.postgresMaintenanceWorkMem),
    description: "Override: PostgreSQL maintenance_work_mem." }),
  postgresMaxConnections: key({ section: "Sizing (overrides of the tier)", type: "integer", default: 0,
    schema: override(z.number().int()
      .min(pgMaxConnectionsBounds.min, { error: `an integer from ${pgMaxConnectionsBounds.min} to ${pgMaxConnectionsBounds.max}` })
      .max(pgMaxConnectionsBounds.max, { error: `an integer from ${pgMaxConnectionsBounds.min} to ${pgMaxConnectionsBounds.max}` })),
    description: "Override: PostgreSQL max_connections (0 = the tier's, raised to what every Synapse process's pool needs)." }),

  destroyDeletesData: key({ section: "Teardown", type: "boolean", default: false, schema: z.boolean(),
    description: "pulumi destroy also deletes the database, media, signing key and config; off: it only stops the homeserver and keeps its data." }),
};

export type KeyName = keyof typeof keyTable;
/** Every key's value once read and checked (before cross-key rules). */
export type ConfigValues = { [K in KeyName]: z.output<(typeof keyTable)[K]["schema"]> };

/** The table as a list, in declaration order. */
export const configKeys: ConfigKey[] = Object.entries(keyTable).map(([name, spec]) => ({ name, ...spec }));

/**
 * Whether Pulumi.yaml can declare the key. The engine refuses a `secret: true` key with a plain
 * default ("must be encrypted as it's secret") and demands a value for a key without one, so an
 * optional secret cannot be declared: the program validates it (and that it was set with
 * --secret) instead.
 */
export function declaredInProject(key: ConfigKey): boolean {
  return !(key.secret && !key.required);
}

/** The roles a host plays. `database` is the Synapse host unless databaseHost names a database box. */
export const hostRoles = ["synapse", "database", "wellKnown"] as const;
export type HostRole = (typeof hostRoles)[number];
