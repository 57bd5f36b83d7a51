// Every project config key, in one table. Pulumi.yaml and the README's config reference are
// checked against it by the unit tests, so the three cannot drift apart.

export type ConfigType = "string" | "integer" | "boolean" | "array";

export interface ConfigKey {
  name: string;
  type: ConfigType;
  description: string;
  /** Default as Pulumi.yaml declares it; undefined = required, or an optional secret (see below). */
  default?: string | number | boolean | string[];
  secret?: boolean;
  /** Set only by `pulumi config set`; has no default and the program fails without it. */
  required?: boolean;
}

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

export const configKeys: ConfigKey[] = [
  { name: "serverName", type: "string", required: true,
    description: "The Matrix server name: the part after the colon in @user:server. A DNS name. Permanent." },
  { name: "matrixHost", type: "string", default: "",
    description: "Public host name of the homeserver; empty means matrix.<serverName>." },
  { name: "tier", type: "string", default: "solo",
    description: "Sizing tier: solo (a 2 GB / 2 CPU host), community (4 GB / 4 CPU) or large (8 GB); each fits its host with 20 % to spare." },

  { name: "host", type: "string", required: true,
    description: "SSH address of the Synapse VPS (runs Synapse, PostgreSQL and nginx)." },
  { name: "sshPort", type: "integer", default: 22, description: "SSH port of the Synapse VPS." },
  { name: "sshUser", type: "string", default: "root", description: "SSH user of the Synapse VPS (root, or a user with passwordless sudo)." },
  { name: "sshPrivateKey", type: "string", secret: true, required: true,
    description: "OpenSSH/PEM private key for the SSH connections (set with --secret)." },
  { name: "wellKnownHost", type: "string", default: "",
    description: "SSH address of the host that serves https://<serverName>/.well-known/matrix/*; empty means the Synapse VPS." },
  { name: "wellKnownSshPort", type: "integer", default: 0, description: "SSH port of the well-known host; 0 means sshPort." },
  { name: "wellKnownSshUser", type: "string", default: "", description: "SSH user of the well-known host; empty means sshUser." },
  { name: "wellKnownSshPrivateKey", type: "string", secret: true,
    description: "Private key for the well-known host; unset means sshPrivateKey." },

  { name: "privateAddress", type: "string", default: "",
    description: "The Synapse VPS's IP address on the private network (the database box and worker hosts see it there); empty means host (then an IP address). Used only with databaseHost." },
  { name: "databaseHost", type: "string", default: "",
    description: "SSH address of a dedicated database box running PostgreSQL; empty means PostgreSQL on the Synapse VPS." },
  { name: "databasePrivateAddress", type: "string", default: "",
    description: "The database box's IP address on the private network: PostgreSQL listens there only and Synapse connects to it; empty means databaseHost (then an IP address)." },
  { name: "databaseSshPort", type: "integer", default: 0, description: "SSH port of the database box; 0 means sshPort." },
  { name: "databaseSshUser", type: "string", default: "", description: "SSH user of the database box; empty means sshUser." },
  { name: "databaseSshPrivateKey", type: "string", secret: true,
    description: "Private key for the database box; unset means sshPrivateKey." },

  { name: "packageSource", type: "string", default: "matrix-org",
    description: "matrix-org (packages.matrix.org, matrix-synapse-py3) or debian (the distribution's matrix-synapse)." },
  { name: "tlsMode", type: "string", default: "acme",
    description: "acme (Let's Encrypt via certbot, HTTP-01), provided (tlsCertificate + tlsPrivateKey) or self-signed (sandbox only)." },
  { name: "acmeEmail", type: "string", default: "", description: "Contact e-mail for ACME; required when tlsMode is acme." },
  { name: "acmeServer", type: "string", default: "production",
    description: "ACME directory: production or staging (Let's Encrypt's), or the https:// URL of another ACME server (a company CA)." },
  { name: "acmeCaBundle", type: "string", default: "",
    description: "PEM certificate(s) certbot trusts for a private ACME server's HTTPS; empty means the system's CAs." },
  { name: "tlsCertificate", type: "string", default: "",
    description: "PEM certificate chain covering matrixHost and serverName; required when tlsMode is provided." },
  { name: "tlsPrivateKey", type: "string", secret: true,
    description: "PEM private key of tlsCertificate; required when tlsMode is provided (set with --secret)." },

  { name: "enableRegistration", type: "boolean", default: false, description: "Open public registration (off by default)." },
  { name: "adminUser", type: "string", default: "",
    description: "Localpart of a first admin user created with the registration shared secret; empty means none." },
  { name: "reportStats", type: "boolean", default: false, description: "Send anonymous usage statistics to matrix.org." },
  { name: "federationPort8448", type: "boolean", default: false,
    description: "Also listen on 8448 for federation (only needed without .well-known delegation)." },
  { name: "adminAllowedNetworks", type: "array", default: [],
    description: "CIDRs allowed to reach /_synapse/admin through nginx; the host itself always is." },
  { name: "trustedKeyServers", type: "array", default: ["matrix.org"],
    description: "Server names trusted to vouch for other servers' signing keys; an empty list fetches each server's keys from it directly." },
  { name: "federationCaCertificates", type: "string", default: "",
    description: "PEM root certificate(s) Synapse trusts for federation instead of the system's (federation_custom_ca_list): a private federation's CA." },
  { name: "federationIpRangeAllowlist", type: "array", default: [],
    description: "CIDRs Synapse may federate with although they are private addresses (ip_range_whitelist): a private network of homeservers." },
  { name: "federationDomainWhitelist", type: "array", default: [],
    description: "The only server names this homeserver federates with (federation_domain_whitelist); empty means any." },

  { name: "federationOriginRate", type: "integer", default: 0,
    description: "nginx: inbound federation requests per second per origin server (from its signature), above which it answers 429; 0 means the tier's (solo 10, community 30, large 100)." },
  { name: "federationOriginBurst", type: "integer", default: 0,
    description: "nginx: requests an origin may send above its rate before the 429s start; 0 means the tier's (50, 100, 300)." },
  { name: "federationPeerRates", type: "array", default: [],
    description: "Origins with their own nginx rate, as server.name=requests-per-second (e.g. matrix.org=200)." },
  { name: "federationDenyOrigins", type: "array", default: [],
    description: "Origin servers nginx refuses with 403 before Synapse sees their requests." },
  { name: "rcFederationSleepLimit", type: "integer", default: 0,
    description: "Synapse rc_federation.sleep_limit: requests per window from one server before they are delayed; 0 means the tier's (10, 10, 20)." },
  { name: "rcFederationRejectLimit", type: "integer", default: 0,
    description: "Synapse rc_federation.reject_limit: requests queued from one server before the rest are rejected; 0 means the tier's (25, 50, 100)." },
  { name: "rcFederationConcurrent", type: "integer", default: 0,
    description: "Synapse rc_federation.concurrent: requests from one server processed at once; 0 means the tier's (2, 3, 6)." },

  { name: "mediaRetentionRemote", type: "string", default: "90d",
    description: "Delete cached media from other servers not accessed for this long (Synapse media_retention, e.g. 30d); empty keeps it forever." },
  { name: "mediaRetentionLocal", type: "string", default: "",
    description: "Delete media uploaded by local users not accessed for this long; empty (the default) keeps it forever." },
  { name: "forgottenRoomRetention", type: "string", default: "28d",
    description: "Purge a room from the database this long after its last local member forgot it (forgotten_room_retention_period); empty never." },
  { name: "messageRetentionDefault", type: "string", default: "",
    description: "Message retention: the lifetime of events in rooms without a policy of their own (e.g. 365d), purged by Synapse's jobs; empty keeps history forever." },
  { name: "messageRetentionMin", type: "string", default: "",
    description: "The shortest lifetime a room's own retention policy may set (allowed_lifetime_min); empty means no bound." },
  { name: "messageRetentionMax", type: "string", default: "",
    description: "The longest lifetime a room's own retention policy may set (allowed_lifetime_max); empty means no bound." },

  { name: "databaseReportSchedule", type: "string", default: "weekly",
    description: "When synapse-db-report writes the database report to the journal, as a systemd OnCalendar expression." },
  { name: "databaseGrowthAlertMiB", type: "integer", default: 1024,
    description: "The report fails (exit 2, a failed unit, a warning in the journal) when the database grew faster than this many MiB per day since the last report." },

  { name: "backups", type: "boolean", default: true,
    description: "Back up the database, signing key, config and local media on the Synapse VPS on a timer (synapse-backup; kept on the VPS only)." },
  { name: "backupSchedule", type: "string", default: "*-*-* 03:30",
    description: "When synapse-backup runs, as a systemd OnCalendar expression." },
  { name: "backupKeep", type: "integer", default: 7, description: "How many backup runs to keep (the newest)." },
  { name: "backupBucket", type: "string", default: "",
    description: "An S3 or S3-compatible bucket for an encrypted off-host copy of every backup run and of local media; empty: backups stay on the VPS and die with it." },
  { name: "backupEndpoint", type: "string", default: "",
    description: "S3 endpoint URL of backupBucket, e.g. https://s3.us-west-004.backblazeb2.com; empty means AWS." },
  { name: "backupRegion", type: "string", default: "us-east-1", description: "Region of backupBucket." },
  { name: "backupPrefix", type: "string", default: "",
    description: "Folder in backupBucket for this homeserver's copies; empty means the server name." },
  { name: "backupAccessKeyId", type: "string", default: "", description: "Access key ID for backupBucket (required with it)." },
  { name: "backupSecretAccessKey", type: "string", secret: true, description: "Secret of backupAccessKeyId (set with --secret)." },
  { name: "backupAgeRecipient", type: "string", default: "",
    description: "The age public key (age1…) the off-host copy is encrypted to (required with backupBucket); keep its private key (age-keygen) off the VPS." },
  { name: "restoreFrom", type: "string", default: "",
    description: "Restore the homeserver from a backup before Synapse first starts: offsite (the newest run in backupBucket), offsite:RUN (a run by its name, e.g. offsite:20261127T033000Z) or the absolute path on the Synapse VPS of a run directory or a run archive (.tar, .tar.age)." },
  { name: "restoreAgeIdentity", type: "string", secret: true,
    description: "The age private key (AGE-SECRET-KEY-1…) that decrypts an encrypted restoreFrom (set with --secret)." },
  { name: "restoreOverwrite", type: "boolean", default: false,
    description: "Let restoreFrom replace a homeserver that already has data (database tables, media or another signing key); otherwise such a restore is refused." },

  { name: "stateCompressor", type: "boolean", default: true,
    description: "Build synapse_auto_compressor on the database host (in the background, once) and run it on a timer to compress Synapse's state tables." },
  { name: "stateCompressorSchedule", type: "string", default: "monthly",
    description: "When the state compressor runs (then VACUUM ANALYZE of the state tables), as a systemd OnCalendar expression." },
  { name: "stateCompressorChunkSize", type: "integer", default: 500,
    description: "State groups the compressor loads into memory at once (its -c): smaller uses less memory." },
  { name: "stateCompressorChunks", type: "integer", default: 100,
    description: "Chunks the compressor works through per run (its -n): more compresses further per run and runs longer." },

  { name: "remoteMediaPurgeSchedule", type: "string", default: "daily",
    description: "When synapse-purge-remote-media deletes cached remote media not accessed for mediaRetentionRemote (needs adminUser; Synapse's own hourly job does the same), as a systemd OnCalendar expression." },

  { name: "purgeHistory", type: "array", default: [],
    description: "Rooms whose history older than a keep period is purged on a timer through the admin API, as !room:server=duration (e.g. !abc:example.org=90d); needs adminUser." },
  { name: "purgeHistorySchedule", type: "string", default: "daily",
    description: "When the history purges run, as a systemd OnCalendar expression." },

  { name: "mediaStorage", type: "string", default: "local",
    description: "local (media on the Synapse host's disk) or s3 (an S3 or S3-compatible bucket; see mediaBucketMode)." },
  { name: "mediaBucketMode", type: "string", default: "existing",
    description: "With mediaStorage s3: aws (bucket and IAM user made with @pulumi/aws), s3-compatible (bucket made on mediaEndpoint with your key: Backblaze B2, Wasabi, R2, MinIO…) or existing (your bucket; nothing is made)." },
  { name: "mediaBucket", type: "string", default: "", description: "Bucket name; required when mediaStorage is s3." },
  { name: "mediaRegion", type: "string", default: "us-east-1", description: "Region of the bucket (B2: the region in its endpoint, e.g. us-west-004)." },
  { name: "mediaEndpoint", type: "string", default: "",
    description: "S3 endpoint URL, e.g. https://s3.us-west-004.backblazeb2.com; required for s3-compatible, empty means AWS." },
  { name: "mediaAccessKeyId", type: "string", default: "",
    description: "Access key ID for s3-compatible and existing (B2: the application key's keyID); the aws mode makes its own." },
  { name: "mediaSecretAccessKey", type: "string", secret: true,
    description: "Secret of mediaAccessKeyId (set with --secret)." },
  { name: "mediaBucketVersioning", type: "boolean", default: false,
    description: "Turn on object versioning for a bucket this program makes (aws and s3-compatible)." },
  { name: "mediaStoreLocal", type: "boolean", default: true, description: "Copy media uploaded by local users to the bucket (store_local)." },
  { name: "mediaStoreRemote", type: "boolean", default: true, description: "Copy media fetched from other servers to the bucket (store_remote)." },
  { name: "mediaStoreSynchronous", type: "boolean", default: true,
    description: "An upload succeeds only once it is in the bucket (store_synchronous); off: copied in the background." },
  { name: "mediaKeepLocalCopy", type: "boolean", default: true,
    description: "Keep media on the host's disk too; off: the upload job deletes each local file once its copy in the bucket is verified." },
  { name: "mediaUploadSchedule", type: "string", default: "daily",
    description: "When the upload job (s3_media_upload) runs, as a systemd OnCalendar expression; it also runs right after the switch to s3." },

  { name: "workerSynchrotrons", type: "integer", default: -1,
    description: "Synchrotron workers (/sync and friends, balanced by user); -1 means the tier's count (solo 0, community 1, large 2)." },
  { name: "workerFederationSenders", type: "integer", default: -1,
    description: "Federation sender workers (outbound federation); -1 means the tier's count (0, 1, 2)." },
  { name: "workerFederationReaders", type: "integer", default: -1,
    description: "Federation reader workers (inbound federation, transactions balanced by origin); -1 means the tier's count (0, 1, 2)." },
  { name: "workerClientReaders", type: "integer", default: -1,
    description: "Client reader workers (login, room and key requests, /messages by room); -1 means the tier's count (0, 0, 2)." },
  { name: "workerEventPersisters", type: "integer", default: -1,
    description: "Event persister workers (stream writers for events); -1 means the tier's count (0, 0, 2)." },
  { name: "workerMedia", type: "integer", default: -1,
    description: "A media repository worker (0 or 1); -1 means the tier's (0, 1, 1)." },
  { name: "workerBackground", type: "integer", default: -1,
    description: "A background tasks worker (0 or 1; also updates the user directory); -1 means the tier's (0, 0, 1)." },

  { name: "workerHosts", type: "array", default: [],
    description: "IP addresses of more VPSes for Synapse's workers, on the private network and reachable by SSH there (sshPort, sshUser, sshPrivateKey); needs databaseHost. Synchrotrons, federation readers and senders, client readers and event persisters are spread over them; the media and background workers stay on the Synapse VPS." },

  { name: "destroyDeletesData", type: "boolean", default: false,
    description: "pulumi destroy also deletes the database, media, signing key and config; off: it only stops the homeserver and keeps its data." },

  { name: "cacheFactor", type: "string", default: "",
    description: "Override: Synapse caches.global_factor (a number; tier default)." },
  { name: "dbPoolMin", type: "integer", default: 0, description: "Override: database cp_min (0 = tier default)." },
  { name: "dbPoolMax", type: "integer", default: 0, description: "Override: database cp_max (0 = tier default)." },
  { name: "maxUploadSize", type: "string", default: "",
    description: "Override: max_upload_size and nginx client_max_body_size, e.g. 50M (digits with optional K, M or G)." },
  { name: "postgresSharedBuffers", type: "string", default: "", description: "Override: PostgreSQL shared_buffers, e.g. 256MB." },
  { name: "postgresEffectiveCacheSize", type: "string", default: "", description: "Override: PostgreSQL effective_cache_size." },
  { name: "postgresWorkMem", type: "string", default: "", description: "Override: PostgreSQL work_mem." },
  { name: "postgresMaintenanceWorkMem", type: "string", default: "", description: "Override: PostgreSQL maintenance_work_mem." },
  { name: "postgresMaxConnections", type: "integer", default: 0, description: "Override: PostgreSQL max_connections (0 = tier default)." },
];
