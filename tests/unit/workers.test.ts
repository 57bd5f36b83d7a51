// The worker pool: counts per tier and their validation, the main process's settings, the worker
// files and unit, nginx's routing, and how the program wires them to the host.
import YAML from "yaml";
import {
  hostHeadroom, memoryBudgetMiB, parseSettings, pgSizeBytes, processCount, RawConfig, Settings, tierHostMiB, tierNames,
  tierWorkers, workerKinds,
} from "../../config";
import { baseHomeserverPart, composeHomeserver, renderSecrets } from "../../render/homeserver";
import { mainUpstream, matrixLocations, renderSite } from "../../render/nginx";
import {
  renderWorkerConfig, renderWorkerUnit, workerPlan, workerRouting, workersHomeserverPart,
} from "../../render/workers";
import { validRaw } from "../support/fixtures";
import { runProgram } from "../support/mockProgram";

function settingsOf(raw: RawConfig): Settings {
  const r = parseSettings(raw);
  if (!r.ok) throw new Error(r.errors.join("\n"));
  return r.settings;
}
const errorsOf = (raw: RawConfig) => { const r = parseSettings(raw); return r.ok ? [] : r.errors; };

describe("worker counts", () => {
  it("follow the tier: solo one process, community the first four, large every kind", () => {
    expect(settingsOf(validRaw({ tier: "solo" })).workers).toEqual(tierWorkers.solo);
    expect(processCount(tierWorkers.solo)).toBe(1);
    expect(tierWorkers.community).toMatchObject({ synchrotron: 1, federationSender: 1, federationReader: 1, media: 1 });
    for (const kind of workerKinds) expect(tierWorkers.large[kind]).toBeGreaterThanOrEqual(1);
  });

  it("take per-kind overrides; 0 turns a kind off, -1 keeps the tier's", () => {
    const s = settingsOf(validRaw({ tier: "community", workerSynchrotrons: "3", workerMedia: "0", workerFederationSenders: "-1" }));
    expect(s.workers).toMatchObject({ synchrotron: 3, media: 0, federationSender: 1 });
  });

  it("report every out-of-range count at once, naming each key", () => {
    const errors = errorsOf(validRaw({ tier: "community", workerMedia: "2", workerBackground: "-2", workerSynchrotrons: "10" }));
    expect(errors).toEqual([
      "synapse:workerSynchrotrons: given 10, expected -1 (the tier's count) or 0 to 9",
      "synapse:workerMedia: given 2, expected -1 (the tier's count) or 0 to 1",
      "synapse:workerBackground: given -2, expected -1 (the tier's count) or 0 to 1",
    ]);
  });

  it("derive max_connections from the pools when more workers need more than the tier's; refuse only a value the user set", () => {
    // community: 15 connections × (1 main + 9 client readers + 3 others + the media worker) + 10 > the tier's 100
    expect(settingsOf(validRaw({ tier: "community", workerClientReaders: "9" })).sizing.postgresMaxConnections).toBe(15 * 14 + 10);
    expect(settingsOf(validRaw({ tier: "community" })).sizing.postgresMaxConnections).toBe(100);
    expect(errorsOf(validRaw({ tier: "community", workerClientReaders: "9", postgresMaxConnections: "100" }))).toEqual([
      "synapse:postgresMaxConnections: given 100, expected at least dbPoolMax × Synapse processes + 10 = 15 × 14 + 10 = 220 " +
        "(or lower dbPoolMax or the worker counts; 0 derives it)",
    ]);
  });

  it.each(tierNames)("%s: every tier's own workers fit its connection budget, and its memory budget fits its host with headroom", (tier) => {
    const s = settingsOf(validRaw({ tier }));
    expect(s.sizing.dbPoolMax * processCount(s.workers) + 10).toBeLessThanOrEqual(s.sizing.postgresMaxConnections);
    const budget = memoryBudgetMiB(tier, processCount(s.workers) - 1, pgSizeBytes(s.sizing.postgresSharedBuffers) / 2 ** 20);
    expect({ tier, budget, fits: budget <= tierHostMiB[tier] * (1 - hostHeadroom) }).toEqual({ tier, budget, fits: true });
  });
});

describe("the main process's settings", () => {
  const community = workerPlan(tierWorkers.community);
  const large = workerPlan(tierWorkers.large);

  it("are nothing at all without workers", () => {
    expect(workersHomeserverPart(workerPlan(tierWorkers.solo))).toEqual({});
  });

  it("community: replication listener, Redis, instance_map, the sender, and the media worker writing the quarantine stream", () => {
    const part = workersHomeserverPart(community);
    expect(part).toMatchObject({
      listeners: [{ port: 9093, type: "http", bind_addresses: ["127.0.0.1"], resources: [{ names: ["replication"] }] }],
      redis: { enabled: true, host: "127.0.0.1", port: 6379 },
      federation_sender_instances: ["federation_sender1"],
      enable_media_repo: false,
      media_instance_running_background_jobs: "media_repository1",
    });
    // Quarantining runs where the media repository does and writes the quarantined media stream:
    // the media worker is its writer, so it needs an instance_map entry (its listener replicates).
    expect(part.stream_writers).toEqual({ quarantined_media_changes: ["media_repository1"] });
    expect(part.instance_map).toEqual({ main: { host: "127.0.0.1", port: 9093 }, media_repository1: { host: "127.0.0.1", port: 8161 } });
    expect(part).not.toHaveProperty("run_background_tasks_on");
  });

  it("large: event persisters as stream writers with their own instance_map entries, a background worker", () => {
    const part = workersHomeserverPart(large);
    expect(part.stream_writers).toEqual({ events: ["event_persister1", "event_persister2"], quarantined_media_changes: ["media_repository1"] });
    expect(part.instance_map).toEqual({
      main: { host: "127.0.0.1", port: 9093 },
      event_persister1: { host: "127.0.0.1", port: 8151 },
      event_persister2: { host: "127.0.0.1", port: 8152 },
      media_repository1: { host: "127.0.0.1", port: 8161 },
    });
    expect(part).toMatchObject({
      run_background_tasks_on: "background_worker1",
      update_user_directory_from_worker: "background_worker1",
      notify_appservices_from_worker: "background_worker1",
    });
  });

  it("never use the options current Synapse refuses, and compose with the base listener", () => {
    const s = settingsOf(validRaw({ tier: "large" }));
    const composed = composeHomeserver([baseHomeserverPart(s), { database: { name: "psycopg2", args: {} } } as never, workersHomeserverPart(large)]);
    expect(JSON.stringify(composed)).not.toMatch(/worker_replication_host|worker_replication_http_port|worker_main_http_uri|send_federation|start_pushers/);
    expect(composed.listeners.map((l) => l.port)).toEqual([8008, 9093]);
    expect(JSON.stringify(composed)).not.toContain("worker_replication_secret"); // a secret: conf.d/secrets.yaml
  });

  it("keep the replication secret beside SynapseHost's own secrets, never replacing one", () => {
    const own = { registrationSharedSecret: "r", macaroonSecretKey: "m", formSecret: "f" };
    expect(YAML.parse(renderSecrets(own, { worker_replication_secret: "w" }))).toEqual({
      registration_shared_secret: "r", macaroon_secret_key: "m", form_secret: "f", worker_replication_secret: "w",
    });
    expect(() => renderSecrets(own, { form_secret: "x" })).toThrow(/key 'form_secret' is SynapseHost's own/);
  });
});

describe("worker files and the unit", () => {
  const plan = workerPlan(tierWorkers.large);

  it("give each worker a unique name and loopback port; the media worker is the media repository app", () => {
    expect(new Set(plan.map((w) => w.name)).size).toBe(plan.length);
    expect(new Set(plan.map((w) => w.port)).size).toBe(plan.length);
    const media = YAML.parse(renderWorkerConfig(plan.find((w) => w.kind === "media")!));
    expect(media).toEqual({
      worker_app: "synapse.app.media_repository",
      worker_name: "media_repository1",
      worker_listeners: [{ type: "http", port: 8161, bind_addresses: ["127.0.0.1"], x_forwarded: true, resources: [{ names: ["media", "client", "federation", "replication", "metrics"] }] }],
      worker_log_config: "/etc/matrix-synapse/log.yaml",
    });
    const persister = YAML.parse(renderWorkerConfig(plan.find((w) => w.kind === "eventPersister")!));
    expect(persister.worker_app).toBe("synapse.app.generic_worker");
    expect(persister.worker_listeners[0].resources[0].names).toContain("replication");
  });

  it("the template runs Synapse's generic worker on the shared config plus the worker's file, within its memory budget", () => {
    const unit = renderWorkerUnit("/usr/bin/python3", 768);
    expect(unit).toContain("ExecStart=/usr/bin/python3 -m synapse.app.generic_worker --config-path=/etc/matrix-synapse/homeserver.yaml --config-path=/etc/matrix-synapse/conf.d/ --config-path=/etc/matrix-synapse/workers/%i.yaml");
    expect(unit).toContain("MemoryHigh=768M");
    expect(unit).toContain("PartOf=matrix-synapse.service");
    expect(unit).toContain("User=matrix-synapse");
    expect(unit).toContain("EnvironmentFile=-/etc/default/matrix-synapse");
  });
});

describe("nginx routing", () => {
  const site = (tier: keyof typeof tierWorkers) => {
    const routing = workerRouting(workerPlan(tierWorkers[tier]), "100M");
    return renderSite({
      name: "matrix", serverNames: ["matrix.example.org"], tlsDir: "/tls", httpsPorts: [443], acmeWebroot: "/acme",
      maps: routing.maps, upstreams: [mainUpstream, ...routing.upstreams],
      locations: [...routing.locations, ...matrixLocations({ upstream: "synapse_main", maxUploadSize: "100M", adminAllowedNetworks: [], adminLocations: routing.adminLocations })],
    });
  };

  it("is the seed's single upstream without workers", () => {
    expect(workerRouting([], "50M")).toEqual({ maps: [], upstreams: [], locations: [], adminLocations: [] });
  });

  it("balances sync by user, inbound federation by origin, media by least connections", () => {
    const text = site("community");
    expect(text).toMatch(/upstream synapse_sync \{\n\s+hash \$mxid_localpart consistent;\n\s+server 127\.0\.0\.1:8111;/);
    expect(text).toMatch(/upstream synapse_federation_inbound \{\n\s+hash \$federation_origin consistent;\n\s+server 127\.0\.0\.1:8131;/);
    expect(text).toMatch(/upstream synapse_media \{\n\s+least_conn;\n\s+server 127\.0\.0\.1:8161;/);
    expect(text).toContain("map $http_authorization $mxid_localpart {");
    expect(text).toContain("map $http_authorization $federation_origin {");
  });

  it("puts every media route before any federation route, and the media admin API inside the admin fence", () => {
    const text = site("large");
    const first = (needle: string) => text.indexOf(needle);
    expect(first("proxy_pass http://synapse_media;")).toBeGreaterThan(0);
    expect(first("proxy_pass http://synapse_media;")).toBeLessThan(first("proxy_pass http://synapse_federation_reader;"));
    const admin = text.slice(first("location ^~ /_synapse/admin"));
    expect(admin.indexOf("deny all;")).toBeLessThan(admin.indexOf("purge_media_cache"));
    expect(text).toContain("upstream synapse_client_by_room {");
  });
});

describe("the program with workers (community tier)", () => {
  const stack = { serverName: "example.org", host: "203.0.113.10", tlsMode: "self-signed", packageSource: "debian", tier: "community" };

  it("stages each worker file, checks them with the main config, and converges the workers after it", async () => {
    const run = await runProgram(stack);
    const activate = run.byName("synapse-activate").inputs.create as string;
    expect(activate).toContain("WORKER_FILES='workers/synchrotron1.yaml workers/federation_sender1.yaml workers/federation_reader1.yaml workers/media_repository1.yaml'");
    expect(YAML.parse(run.byName("synapse-staged-worker-synchrotron1").inputs.stdin).worker_name).toBe("synchrotron1");
    const workers = run.byName("synapse-workers").inputs.create as string;
    expect(workers).toContain("WORKERS='synchrotron1:8111 federation_sender1:8121 federation_reader1:8131 media_repository1:8161'");
    // It runs again after every activation: the main process's restart restarts the workers.
    expect(workers).toMatch(/\nACTIVATION=[0-9a-f]{16}\n/);
    // Removing the pool from the program (every count 0) deletes the step, which removes the workers.
    expect(run.byName("synapse-workers").inputs.delete).toContain("synapse-deploy: synapse-workers-teardown");
    expect(run.byName("synapse-redis").inputs.create).toContain("PORT=6379");
  });

  it("keeps the replication secret out of homeserver.yaml, in the 0600 secrets file", async () => {
    const run = await runProgram(stack);
    expect(run.byName("synapse-staged-homeserver").inputs.stdin).not.toContain("worker_replication_secret");
    const secrets = YAML.parse(run.byName("synapse-staged-secrets").inputs.stdin);
    expect(secrets.worker_replication_secret).toMatch(/^mock-random-workers-replication-secret/);
    expect(run.byName("synapse-staged-secrets").inputs.create).toContain("MODE=0600");
  });

  it("routes through the workers in the nginx site, and runs nothing extra on a solo stack", async () => {
    const run = await runProgram(stack);
    expect(run.byName("nginx-staged-site").inputs.stdin).toContain("upstream synapse_sync {");
    const solo = await runProgram({ ...stack, tier: "solo" });
    expect(solo.resources.map((r) => r.name)).not.toContain("synapse-workers");
    expect(solo.byName("nginx-staged-site").inputs.stdin).not.toContain("synapse_sync");
  });
});
