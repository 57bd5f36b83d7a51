// Synapse's workers, rendered from the counts in settings: the plan (names, ports, roles), the
// main process's part of homeserver.yaml, one YAML per worker, the systemd template and the nginx
// routing from Synapse's workers documentation (docs/workers.md).
import { WorkerCounts, WorkerKind, workerKinds } from "../config/workers";
import { HomeserverPart, Listener, renderYaml } from "./homeserver";
import { NginxLocation, NginxMap, NginxRouting, NginxUpstream, proxyTo } from "./nginx";
import { componentPackages, packagesParam } from "./packages";
import { synapseConfigDir, workerTarget } from "./paths";
import { ScriptParams } from "./script";
import { synapseProcessService } from "./synapseService";

export interface WorkerSpec {
  /** worker_name, and the instance of matrix-synapse-worker@.service. */
  name: string;
  kind: WorkerKind;
  app: "synapse.app.generic_worker" | "synapse.app.media_repository";
  /**
   * Its HTTP listener (requests from nginx, /health, metrics, replication): loopback on the
   * Synapse VPS, the worker host's private address elsewhere.
   */
  host: string;
  port: number;
  resources: string[];
}

/** The main process's replication listener (workers and Redis coordinate through it). */
export const mainReplication = { host: "127.0.0.1", port: 9093 };
export const redisAddress = { host: "127.0.0.1", port: 6379 };
/** Synapse's Redis client for Debian's package, which has none. Measured on Debian's Synapse
 *  1.160 with Twisted 26.4: 1.4.11 works; with 1.6.0 Synapse fails to start (AttributeError on
 *  startedConnecting in its Redis factory). */
export const txredisapiVersion = "1.4.11";
export const workerConfigDir = `${synapseConfigDir}/workers`;

/**
 * redis-ensure.sh's parameters: Redis on loopback, or also on `bind` (workers on other hosts; its
 * password on stdin), or on a worker host only Synapse's client libraries (`server: false`).
 */
export function redisStepParams(python: string, where: { bind?: string; server?: false } = {}): ScriptParams {
  return {
    PYTHON: python, PORT: redisAddress.port, TXREDISAPI_VERSION: txredisapiVersion,
    SERVER_PACKAGES: packagesParam(componentPackages.redisServer), CLIENT_PACKAGES: packagesParam(componentPackages.redisClientDebian),
    ...(where.bind ? { BIND: where.bind } : {}),
    ...(where.server === false ? { SERVER: false } : {}),
  };
}
export { workerTarget, workerUnitTemplate } from "./paths";

/** Per kind: name prefix, first port (10 per kind), what its listener serves besides metrics. */
const kindTable: Record<WorkerKind, { prefix: string; firstPort: number; resources: string[] }> = {
  synchrotron: { prefix: "synchrotron", firstPort: 8111, resources: ["client"] },
  federationSender: { prefix: "federation_sender", firstPort: 8121, resources: [] },
  federationReader: { prefix: "federation_reader", firstPort: 8131, resources: ["federation"] },
  clientReader: { prefix: "client_reader", firstPort: 8141, resources: ["client"] },
  eventPersister: { prefix: "event_persister", firstPort: 8151, resources: ["replication"] },
  // The media resource serves /_matrix/media; client and federation carry the authenticated
  // media paths (/_matrix/client/v1/media, /_matrix/federation/v1/media). Replication: it writes
  // the quarantined media stream (see workersHomeserverPart).
  media: { prefix: "media_repository", firstPort: 8161, resources: ["media", "client", "federation", "replication"] },
  background: { prefix: "background_worker", firstPort: 8171, resources: [] },
};

/** Kinds that stay on the Synapse VPS: the media store is its disk, and the background worker runs its jobs. */
export const mainHostKinds: readonly WorkerKind[] = ["media", "background"];
export const loopback = "127.0.0.1";

/**
 * Names, ports and hosts. With worker hosts (their private addresses), every worker of a kind that
 * can run anywhere goes to the next worker host in turn; the others stay on loopback.
 */
export function workerPlan(counts: WorkerCounts, workerHosts: string[] = []): WorkerSpec[] {
  let next = 0;
  return workerKinds.flatMap((kind) => Array.from({ length: counts[kind] }, (_, i) => ({
    name: `${kindTable[kind].prefix}${i + 1}`,
    kind,
    app: kind === "media" ? "synapse.app.media_repository" as const : "synapse.app.generic_worker" as const,
    host: workerHosts.length === 0 || mainHostKinds.includes(kind) ? loopback : workerHosts[next++ % workerHosts.length],
    port: kindTable[kind].firstPort + i,
    resources: [...kindTable[kind].resources, "metrics"],
  })));
}

/** Whether some worker runs on another host, so replication and Redis must listen on the private network. */
export const spansHosts = (plan: WorkerSpec[]) => plan.some((w) => w.host !== loopback);

/** The file Synapse reads Redis's password from (redis.password_path): 0600, with the secrets. */
export const redisPasswordName = "redis-password";
export const redisPasswordFile = `${synapseConfigDir}/${redisPasswordName}`;

const ofKind = (plan: WorkerSpec[], kind: WorkerKind) => plan.filter((w) => w.kind === kind);

/**
 * The main process's settings once workers exist; nothing at all without workers. With workers on
 * other hosts, replication and Redis are at `mainAddress` (the Synapse VPS's private address), and
 * Redis wants its password.
 */
export function workersHomeserverPart(plan: WorkerSpec[], mainAddress: string = loopback): HomeserverPart {
  if (plan.length === 0) return {};
  const host = spansHosts(plan) ? mainAddress : loopback;
  const replication: Listener = {
    port: mainReplication.port, type: "http", bind_addresses: [host], resources: [{ names: ["replication"] }],
  };
  const persisters = ofKind(plan, "eventPersister");
  const senders = ofKind(plan, "federationSender");
  const media = ofKind(plan, "media")[0];
  const background = ofKind(plan, "background")[0];
  return {
    listeners: [replication],
    redis: {
      enabled: true, host, port: redisAddress.port,
      ...(spansHosts(plan) ? { password_path: redisPasswordFile } : {}),
    },
    instance_map: {
      main: { host, port: mainReplication.port },
      ...Object.fromEntries([...persisters, ...(media ? [media] : [])].map((w) => [w.name, { host: w.host, port: w.port }])),
    },
    ...(senders.length > 0 ? { federation_sender_instances: senders.map((w) => w.name) } : {}),
    ...(persisters.length > 0 || media ? {
      stream_writers: {
        ...(persisters.length > 0 ? { events: persisters.map((w) => w.name) } : {}),
        // The quarantine admin APIs are registered only where the media repository runs, and since
        // Synapse 1.152 they write the quarantined media stream, which only its writers may do
        // (an assertion, a 500, otherwise): the media worker writes it.
        ...(media ? { quarantined_media_changes: [media.name] } : {}),
      },
    } : {}),
    ...(media ? { enable_media_repo: false, media_instance_running_background_jobs: media.name } : {}),
    ...(background ? {
      run_background_tasks_on: background.name,
      update_user_directory_from_worker: background.name,
      notify_appservices_from_worker: background.name,
    } : {}),
  };
}

/** /etc/matrix-synapse/workers/<name>.yaml: read after homeserver.yaml and conf.d/. */
export function renderWorkerConfig(w: WorkerSpec): string {
  return renderYaml({
    worker_app: w.app,
    worker_name: w.name,
    worker_listeners: [{
      type: "http", port: w.port, bind_addresses: [w.host], x_forwarded: true, resources: [{ names: w.resources }],
    }],
    worker_log_config: `${synapseConfigDir}/log.yaml`,
  });
}

/**
 * The template unit every worker runs from (as in Synapse's docs/systemd-with-workers), with the
 * tier's memory budget. Workers stop and restart with the main process (PartOf).
 */
export function renderWorkerUnit(python: string, memoryHighMiB: number, onWorkerHost = false): string {
  const config = (p: string) => `--config-path=${p}`;
  return [
    "# Managed by the synapse Pulumi program; local edits are overwritten.",
    "[Unit]",
    "Description=Synapse worker %i",
    `AssertPathExists=${workerConfigDir}/%i.yaml`,
    // On a worker host the main process runs elsewhere: the workers wait for the network instead.
    ...(onWorkerHost
      ? ["After=network-online.target", "Wants=network-online.target"]
      : ["After=matrix-synapse.service redis-server.service", "Requires=matrix-synapse.service", "PartOf=matrix-synapse.service"]),
    "",
    "[Service]",
    // As the main process runs; its drop-ins' Environment= the workers step copies.
    ...synapseProcessService,
    `ExecStart=${python} -m synapse.app.generic_worker ${config(`${synapseConfigDir}/homeserver.yaml`)} ${config(`${synapseConfigDir}/conf.d/`)} ${config(`${workerConfigDir}/%i.yaml`)}`,
    "ExecReload=/bin/kill -HUP $MAINPID",
    "Restart=always",
    "RestartSec=3",
    `MemoryHigh=${memoryHighMiB}M`,
    "SyslogIdentifier=matrix-synapse-%i",
    "",
    "[Install]",
    `WantedBy=${workerTarget}`,
    "",
  ].join("\n");
}

export function renderWorkerTarget(onWorkerHost = false): string {
  return [
    "# Managed by the synapse Pulumi program; local edits are overwritten.",
    "[Unit]",
    "Description=Synapse workers",
    onWorkerHost ? "After=network-online.target" : "After=matrix-synapse.service",
    "",
    "[Install]",
    "WantedBy=multi-user.target",
    "",
  ].join("\n");
}

const re = (...patterns: string[]) => `~ ${patterns.length === 1 ? patterns[0] : `(${patterns.join("|")})`}`;

/** Synapse's routing regexes per kind (docs/workers.md), in the order nginx must try them. */
export const routes = {
  media: [
    "^/_matrix/media/", "^/_matrix/client/v1/media/", "^/_matrix/federation/v1/media/", "^/_synapse/media/",
  ],
  mediaAdmin: [
    "^/_synapse/admin/v1/purge_media_cache$", "^/_synapse/admin/v1/room/.*/media.*$", "^/_synapse/admin/v1/user/.*/media.*$",
    "^/_synapse/admin/v1/media/.*$", "^/_synapse/admin/v1/quarantine_media/.*$", "^/_synapse/admin/v1/users/.*/media$",
  ],
  sync: [
    "^/_matrix/client/(r0|v3)/sync$", "^/_matrix/client/(api/v1|r0|v3)/events$", "^/_matrix/client/(api/v1|r0|v3)/initialSync$",
    "^/_matrix/client/(api/v1|r0|v3)/rooms/[^/]+/initialSync$", "^/_matrix/client/unstable/org.matrix.simplified_msc3575/sync$",
  ],
  federationInbound: ["^/_matrix/federation/v1/send/"],
  federation: [
    "^/_matrix/federation/v1/(version|event/|state/|state_ids/|backfill/|get_missing_events/|publicRooms|query/|make_join/|make_leave/|make_knock/|send_knock/|event_auth/|timestamp_to_event/|exchange_third_party_invite/|user/devices/|hierarchy/)",
    "^/_matrix/federation/(v1|v2)/(send_join|send_leave|invite)/",
    "^/_matrix/key/v2/query",
  ],
  // Pagination: every request for a room on the same process.
  clientByRoom: ["^/_matrix/client/(api/v1|r0|v3|unstable)/rooms/[^/]+/messages$"],
  client: [
    "^/_matrix/client/(api/v1|r0|v3|unstable)/createRoom$",
    "^/_matrix/client/(api/v1|r0|v3|unstable)/publicRooms$",
    "^/_matrix/client/(api/v1|r0|v3|unstable)/rooms/.*/(joined_members|members|state|context/.*|event/.*)$",
    "^/_matrix/client/v1/rooms/.*/(hierarchy|threads|timestamp_to_event)$",
    "^/_matrix/client/(v1|unstable)/rooms/.*/relations/",
    "^/_matrix/client/(r0|v3|unstable)/account/(3pid|whoami)$",
    "^/_matrix/client/versions$",
    "^/_matrix/client/(api/v1|r0|v3|unstable)/voip/turnServer$",
    "^/_matrix/client/(api/v1|r0|v3|unstable)/joined_rooms$",
    "^/_matrix/client/(api/v1|r0|v3|unstable/.*)/rooms/.*/aliases",
    "^/_matrix/client/(api/v1|r0|v3|unstable)/search$",
    "^/_matrix/client/(r0|v3|unstable)/user/.*/filter(/|$)",
    "^/_matrix/client/(api/v1|r0|v3|unstable)/directory/room/.*$",
    "^/_matrix/client/(r0|v3|unstable)/(capabilities|notifications)$",
    "^/_matrix/client/(r0|v3|unstable)/keys/((query|changes|claim)$|upload)",
    "^/_matrix/client/(r0|v3|unstable)/room_keys/",
    "^/_matrix/client/(api/v1|r0|v3|unstable)/keys/(device_signing|signatures)/upload$",
    "^/_matrix/client/(api/v1|r0|v3|unstable)/login$",
    "^/_matrix/client/(r0|v3|unstable)/(register|register/available|password_policy)$",
    "^/_matrix/client/v1/register/m.login.registration_token/validity$",
    "^/_matrix/client/(api/v1|r0|v3|unstable)/rooms/.*/(redact|send|state/)",
    "^/_matrix/client/(api/v1|r0|v3|unstable)/rooms/.*/(join|invite|leave|ban|unban|kick)$",
    "^/_matrix/client/(api/v1|r0|v3|unstable)/(join|knock|profile)/",
    "^/_matrix/client/(r0|v3|unstable)/user_directory/search$",
  ],
} as const;

/** http-level maps: who a request is from, for the balancing that keeps a user (or server) on one process. */
const maps: Record<"user" | "origin" | "room", NginxMap[]> = {
  user: [
    { source: "$arg_access_token", variable: "$accesstoken_from_urlparam",
      entries: [["default", "$arg_access_token"], ['"~syt_(?<username>.*?)_.*"', "$username"]] },
    { source: "$http_authorization", variable: "$mxid_localpart",
      entries: [["default", "$http_authorization"], ['"~Bearer syt_(?<username>.*?)_.*"', "$username"], ['""', "$accesstoken_from_urlparam"]] },
  ],
  // Authorization: X-Matrix origin="example.org",destination=…: the sending server.
  origin: [
    { source: "$http_authorization", variable: "$federation_origin",
      entries: [["default", "$remote_addr"], ["'~*^X-Matrix .*origin=\"?(?<fed_origin>[^\",]+)'", "$fed_origin"]] },
  ],
  room: [
    { source: "$uri", variable: "$matrix_room",
      entries: [["default", '""'], ['"~^/_matrix/client/[^/]+/rooms/(?<room_id>[^/]+)/"', "$room_id"]] },
  ],
};

const servers = (ws: WorkerSpec[]) => ws.map((w) => `${w.host}:${w.port}`);

/** nginx's share of the worker pool: empty without workers, so the site stays the seed's. */
export function workerRouting(plan: WorkerSpec[], maxUploadSize: string): NginxRouting {
  const routing: NginxRouting = { maps: [], upstreams: [], locations: [], adminLocations: [] };
  const add = (upstream: NginxUpstream, patterns: readonly string[], target: NginxLocation[] = routing.locations) => {
    routing.upstreams.push(upstream);
    target.push({ match: re(...patterns), directives: proxyTo(upstream.name, maxUploadSize) });
  };
  const media = ofKind(plan, "media");
  const synchrotrons = ofKind(plan, "synchrotron");
  const readers = ofKind(plan, "federationReader");
  const clientReaders = ofKind(plan, "clientReader");
  // Media first: its paths must win over every federation and client pattern below.
  if (media.length > 0) {
    routing.upstreams.push({ name: "synapse_media", directives: ["least_conn;"], servers: servers(media) });
    routing.locations.push({ match: re(...routes.media), directives: proxyTo("synapse_media", maxUploadSize) });
    routing.adminLocations.push({ match: re(...routes.mediaAdmin), directives: proxyTo("synapse_media", maxUploadSize) });
  }
  if (synchrotrons.length > 0) {
    routing.maps.push(...maps.user);
    add({ name: "synapse_sync", directives: ["hash $mxid_localpart consistent;"], servers: servers(synchrotrons) }, routes.sync);
  }
  if (readers.length > 0) {
    routing.maps.push(...maps.origin);
    add({ name: "synapse_federation_inbound", directives: ["hash $federation_origin consistent;"], servers: servers(readers) },
      routes.federationInbound);
    add({ name: "synapse_federation_reader", servers: servers(readers) }, routes.federation);
  }
  if (clientReaders.length > 0) {
    routing.maps.push(...maps.room);
    add({ name: "synapse_client_by_room", directives: ["hash $matrix_room consistent;"], servers: servers(clientReaders) },
      routes.clientByRoom);
    add({ name: "synapse_client_reader", servers: servers(clientReaders) }, routes.client);
  }
  return routing;
}
