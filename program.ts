// The synapse program: one stack = one Matrix homeserver. Reads and validates the stack config
// first (nothing is created when it is wrong), then composes the components. A function, so the
// unit tests can run it once per stack config without loading the providers again.
import * as pulumi from "@pulumi/pulumi";
import { AdminTools } from "./components/adminTools";
import { Backups } from "./components/backups";
import { DatabaseMaintenance } from "./components/databaseMaintenance";
import { HostExporters } from "./components/hostExporters";
import { HostPackages } from "./components/hostPackages";
import { MediaBucket } from "./components/mediaBucket";
import { Monitoring } from "./components/monitoring";
import { NginxProxy } from "./components/nginxProxy";
import { PostgresDatabase } from "./components/postgresDatabase";
import { restoreExtension } from "./components/restore";
import { SynapseHost } from "./components/synapseHost";
import { SynapseExtension } from "./components/synapseExtension";
import { TurnServer } from "./components/turnServer";
import { Upgrades } from "./components/upgrades";
import { WellKnownSite } from "./components/wellKnownSite";
import { WorkerPool } from "./components/workerPool";
import { loadSettings } from "./config";
import { appServiceFiles, appServicesHomeserverPart } from "./render/appservices";
import { baseHomeserverPart, federationCaFiles } from "./render/homeserver";
import { monitoredHosts, monitoringHomeserverPart, scrapeJobs } from "./render/monitoring";
import { hostPackagePlans } from "./render/packages";
import { synapseDatabaseName } from "./render/postgres";
import { wellKnownDocuments, wellKnownLocations } from "./render/wellknown";

/** Builds every component for the current stack config and returns the stack outputs. */
export function synapseProgram(): Record<string, unknown> {
  const settings = loadSettings();
  const { hosts } = settings;

  // The Synapse release and PostgreSQL cluster the stack holds, resolved (and any change checked)
  // on their hosts before anything else.
  const upgrades = new Upgrades("upgrades", {
    synapse: {
      connection: hosts.synapse, source: settings.packageSource, wanted: settings.versions.synapse,
      serverName: settings.serverName, reportStats: settings.values.reportStats,
    },
    workerHosts: settings.workerHosts.hosts.map((h) => h.connection),
    database: { connection: hosts.database, wanted: settings.versions.postgres },
  });

  // Each host's packages in one apt transaction first; every host step comes after.
  const packages = new HostPackages("host-packages", {
    plans: hostPackagePlans(settings), synapseVersion: upgrades.synapseVersion, postgresMajor: upgrades.postgresMajor,
  }, { dependsOn: upgrades.resolved });
  // A version change stops the homeserver here, after a backup, before anything changes.
  const gate = upgrades.gate([packages]);

  const database = new PostgresDatabase("postgres", {
    connection: hosts.database,
    synapseConnection: hosts.synapse,
    serverName: settings.serverName,
    sizing: settings.sizing,
    deleteDataOnDestroy: settings.values.destroyDeletesData,
    address: settings.database.address,
    clients: settings.database.box ? settings.database.clients : undefined,
    cluster: upgrades.postgresCluster,
    moveAfter: [gate.main, ...gate.workerHosts],
    dropOldCluster: settings.versions.dropOldPostgres || undefined,
  }, { dependsOn: [packages] });

  // Media in a bucket: the bucket (or its coordinates) and what the Synapse host needs for it.
  const media = settings.media.storage === "s3"
    ? new MediaBucket("media", { media: settings.media, packageSource: settings.packageSource })
    : undefined;

  // A private federation's CA, next to homeserver.yaml (federation_custom_ca_list names it).
  const federationCa: SynapseExtension[] = settings.federation.caCertificates.length > 0
    ? [{ configFiles: federationCaFiles(settings.federation.caCertificates).map((f) => ({ ...f, mode: "0644", owner: "root:root" })) }]
    : [];

  // Application services (bridges, bots): their registrations next to homeserver.yaml, 0600.
  const appServices: SynapseExtension[] = settings.appServices.length > 0
    ? [{ configFiles: appServiceFiles(settings.appServices).map((f) => ({ ...f, content: pulumi.secret(f.content), mode: "0600", owner: "matrix-synapse:" })) }]
    : [];

  // Synapse's workers (none on the solo tier): their config, units and nginx routes.
  const workers = new WorkerPool("workers", {
    counts: settings.workers,
    packageSource: settings.packageSource,
    workerMemoryMiB: settings.workerMemoryMiB,
    maxUploadSize: settings.sizing.maxUploadSize,
    workerHosts: settings.workerHosts,
    serverName: settings.serverName,
    reportStats: settings.values.reportStats,
  }, { dependsOn: [packages] });

  // restoreFrom: the backup goes in before Synapse first starts on this host.
  const restore = settings.restore ? restoreExtension(settings.restore, settings.serverName) : undefined;

  // Calls: Synapse's side of TURN (turn_uris, the shared secret's file) now; coturn once the
  // certificate it serves exists (below).
  // Named by where it runs: moving coturn deletes the old host's steps, whose teardown stops it there.
  const turn = settings.turn
    ? new TurnServer(settings.turn.onSynapseHost ? "turn" : "turn-host", { turn: settings.turn, realm: settings.serverName, tls: settings.tls }, { dependsOn: [packages] })
    : undefined;

  const synapse = new SynapseHost("synapse", {
    connection: hosts.synapse,
    serverName: settings.serverName,
    packageSource: settings.packageSource,
    reportStats: settings.values.reportStats,
    version: upgrades.synapseVersion,
    lock: upgrades.lock,
    gate: gate.main,
    homeserverParts: [baseHomeserverPart(settings), appServicesHomeserverPart(settings.appServices), database.homeserverPart, workers.homeserverPart,
      ...(media ? [media.homeserverPart] : []), ...(turn ? [turn.homeserverPart] : []), ...(settings.monitoring ? [monitoringHomeserverPart()] : [])],
    databasePassword: database.password,
    adminUser: settings.adminUser,
    deleteDataOnDestroy: settings.values.destroyDeletesData,
    extensions: [...federationCa, ...appServices, ...(workers.synapseExtension ? [workers.synapseExtension] : []), ...(media ? [media.synapseExtension] : []),
      ...(turn ? [turn.synapseExtension] : []), ...(restore ? [restore] : [])],
  }, { dependsOn: [packages, ...database.synapseDependsOn] });

  // Synapse's hot tables get their autovacuum settings once Synapse has created them; the report
  // runs on the Synapse VPS, which has Synapse's passfile and the media; the state compressor on
  // the database host, next to PostgreSQL's socket. The tools and their timers need the database
  // only (the purges wait for the admin's token, which comes from Synapse): they go in while
  // Synapse starts.
  database.tuneTables(synapse.activated);
  const maintenance = new DatabaseMaintenance("maintenance", {
    connection: hosts.synapse,
    reportSchedule: settings.databaseReport.schedule,
    growthAlertMiB: settings.databaseReport.growthAlertMiB,
    adminToken: synapse.admin?.accessToken,
    purgeHistory: settings.purgeHistory,
    remoteMediaPurge: settings.remoteMediaPurge,
    emptyRoomPurge: settings.emptyRoomPurge,
    stateCompressor: settings.stateCompressor && {
      ...settings.stateCompressor,
      connection: hosts.database,
      database: { name: database.databaseName, user: database.user, cluster: upgrades.postgresCluster },
    },
    reclaim: settings.reclaim && { connection: hosts.database, database: database.databaseName, cluster: upgrades.postgresCluster, settings: settings.reclaim },
  }, { dependsOn: [packages, ...database.synapseDependsOn] });

  // Backups on the Synapse VPS: staged while Synapse starts, the timer enabled once Synapse has
  // made its database and key.
  if (settings.backups) {
    new Backups("backups", { connection: hosts.synapse, ...settings.backups, enableAfter: [synapse] }, { dependsOn: [packages] });
  }

  // synadm for root on the Synapse VPS, with the admin's token (there is no token without an admin).
  // Its install from PyPI needs only the packages, so it runs beside Synapse's steps; its config
  // waits for the token.
  if (synapse.admin) {
    new AdminTools("admin-tools", {
      connection: hosts.synapse,
      serverName: settings.serverName,
      adminUserId: synapse.admin.userId,
      adminAccessToken: synapse.admin.accessToken,
    }, { dependsOn: [packages] });
  }

  // Workers on other hosts, once the main process runs on the config they share.
  const workerHosts = workers.addWorkerHosts(synapse, {
    dependsOn: [packages], version: upgrades.synapseVersion, lock: upgrades.lock, gates: gate.workerHosts,
  });

  // nginx's certificate and site are staged while Synapse starts; the site goes live after it.
  const proxy = new NginxProxy("nginx", {
    connection: hosts.synapse,
    matrixHost: settings.matrixHost,
    tls: settings.tls,
    maxUploadSize: settings.sizing.maxUploadSize,
    adminAllowedNetworks: settings.values.adminAllowedNetworks,
    federationPort8448: settings.values.federationPort8448,
    routing: workers.routing,
    federationLimits: settings.federationLimits,
    // Without delegation the matrix host is the server name: it answers .well-known itself, except
    // for federation on port 8448, which servers find when /.well-known/matrix/server is absent.
    extraLocations: settings.delegated ? []
      : wellKnownLocations(wellKnownDocuments(settings.matrixHost), settings.values.federationPort8448 ? ["client"] : ["server", "client"]),
    activateAfter: [synapse, ...workerHosts],
  }, { dependsOn: [packages] });

  // coturn serves nginx's certificate on the Synapse VPS; on a host of its own, its site's.
  turn?.activate(settings.turn!.onSynapseHost ? [proxy.activated] : [synapse.activated]);

  // Monitoring: the exporters on every host the program runs, then Prometheus, Alertmanager and
  // the alert bot on the Synapse VPS once Synapse, its admin and nginx are up.
  let monitoring: Monitoring | undefined;
  if (settings.monitoring) {
    const monitored = monitoredHosts(settings, settings.workerHosts.hosts);
    const connections: Record<string, typeof hosts.synapse> = Object.fromEntries([
      ["synapse", hosts.synapse], ["database", hosts.database], ...settings.workerHosts.hosts.map((h, i) => [`worker-host-${i + 1}`, h.connection]),
    ]);
    const synapseAddress = settings.workerHosts.mainAddress ?? (settings.database.box ? settings.database.clients[0] : undefined);
    const exporters = monitored.map((h) => new HostExporters(`exporters-${h.role}`, { connection: connections[h.role], host: h, synapseAddress },
      { dependsOn: [packages, database] }));
    monitoring = new Monitoring("monitoring", {
      connection: hosts.synapse,
      monitoring: settings.monitoring,
      rules: { tier: settings.tier, growthAlertMiB: settings.databaseReport.growthAlertMiB, backups: !!settings.backups, databaseName: synapseDatabaseName },
      jobs: scrapeJobs(workers.workers, monitored),
      workers: workers.workers,
      packageSource: settings.packageSource,
      adminUserId: synapse.admin?.userId ?? "",
      adminAccessToken: synapse.admin?.accessToken ?? "",
      backupSchedule: settings.backups?.schedule,
    }, { dependsOn: [packages, synapse, proxy, ...exporters] });
  }

  if (settings.delegated) {
    new WellKnownSite("well-known", {
      connection: hosts.wellKnown,
      serverName: settings.serverName,
      matrixHost: settings.matrixHost,
      tls: settings.tls,
      // Live after Synapse: a deployment Synapse's steps refuse (say, a bad config) must not change what nginx serves.
      activateAfter: [synapse],
    }, { dependsOn: [packages] });
  }

  // Stack outputs. The admin's are exported only when there is an admin: an undefined output
  // makes the engine warn on every run.
  const outputs: Record<string, unknown> = {
    serverName: settings.serverName,
    clientBaseUrl: proxy.clientBaseUrl,
    federationUrl: proxy.federationUrl,
    databaseName: database.databaseName,
    databaseHost: pulumi.output(hosts.database.host),
    sqliteMigration: database.migration,
    synapseVersion: upgrades.synapseVersion,
    postgresVersion: upgrades.postgresMajor,
    postgresCluster: database.clusterState,
    tier: settings.tier,
    workers: workers.workers.map((w) => w.name),
  };
  // What `npm run admin` connects with (secret: it holds the SSH keys).
  outputs.adminAccess = pulumi.secret({ synapse: hosts.synapse, database: hosts.database });
  if (database.move) outputs.databaseMove = database.move;
  if (turn) outputs.turnUris = turn.homeserverPart.turn_uris;
  if (monitoring) outputs.alertRoom = monitoring.alertRoom;
  if (restore) outputs.restore = synapse.stepOf(restore.step).stdout.apply((s) => s.trim());
  if (maintenance.stateCompressor) outputs.stateCompressor = maintenance.stateCompressor.install.stdout.apply((s) => s.trim());
  if (media) {
    Object.assign(outputs, {
      mediaBucket: media.bucket,
      mediaEndpoint: media.endpoint,
      mediaAccessKeyId: media.accessKeyId,
      mediaSecretAccessKey: media.secretAccessKey,
    });
  }
  if (synapse.admin) {
    Object.assign(outputs, {
      adminUser: synapse.admin.userId,
      adminAccessToken: synapse.admin.accessToken,
      adminPassword: synapse.admin.password,
    });
  }
  return outputs;
}
