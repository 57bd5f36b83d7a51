// Synapse's workers: the kinds this program runs, how many of each a tier runs, and the budget
// every process must fit (database connections, memory). Each kind's count key is declared from
// the table below (keys.ts); what a kind listens on and serves is render/workers.ts.
import { tierMonitoring } from "./monitoring";
import { TierName, tierNames } from "./tiers";

interface WorkerKindSpec {
  /** The config key that overrides its count (-1: the tier's). */
  key: string;
  /** What it takes off the main process, for the key's description. */
  what: string;
  /** How many each tier runs. solo: one process (2 GB hosts); community: what takes the load off the
   *  main process first (sync, federation in and out, media); large: every kind, event persistence included. */
  perTier: Record<TierName, number>;
  /** Synapse runs at most one (a single media background runner, one task runner). */
  singleton?: true;
}

/** The kinds this program runs, each a role from Synapse's workers documentation. */
export const workerKindTable = {
  synchrotron: { key: "workerSynchrotrons", what: "Synchrotron workers (/sync and friends, balanced by user)", perTier: { solo: 0, community: 1, large: 2 } },
  federationSender: { key: "workerFederationSenders", what: "Federation sender workers (outbound federation)", perTier: { solo: 0, community: 1, large: 2 } },
  federationReader: { key: "workerFederationReaders", what: "Federation reader workers (inbound federation, transactions balanced by origin)", perTier: { solo: 0, community: 1, large: 2 } },
  clientReader: { key: "workerClientReaders", what: "Client reader workers (login, room and key requests, /messages by room)", perTier: { solo: 0, community: 0, large: 2 } },
  eventPersister: { key: "workerEventPersisters", what: "Event persister workers (stream writers for events)", perTier: { solo: 0, community: 0, large: 2 } },
  media: { key: "workerMedia", what: "A media repository worker (0 or 1)", perTier: { solo: 0, community: 1, large: 1 }, singleton: true },
  background: { key: "workerBackground", what: "A background tasks worker (0 or 1; also updates the user directory)", perTier: { solo: 0, community: 0, large: 1 }, singleton: true },
} as const satisfies Record<string, WorkerKindSpec>;

export type WorkerKind = keyof typeof workerKindTable;
export const workerKinds = Object.keys(workerKindTable) as WorkerKind[];
export type WorkerCounts = Record<WorkerKind, number>;

/** Kinds of which Synapse runs at most one (a single media background runner, one task runner). */
export const singletonKinds: ReadonlySet<WorkerKind> = new Set(workerKinds.filter((k) => (workerKindTable[k] as WorkerKindSpec).singleton));
/** An upper bound per kind that keeps the loopback port plan (10 per kind) unambiguous. */
export const maxWorkersPerKind = 9;

/** The config key overriding each worker kind's count, and what that kind does. */
export const workerCountKeys = workerKindTable;

/** Workers per tier. */
export const tierWorkers = Object.fromEntries(tierNames.map((t) =>
  [t, Object.fromEntries(workerKinds.map((k) => [k, workerKindTable[k].perTier[t]]))])) as Record<TierName, WorkerCounts>;

/**
 * Memory each Synapse process is expected to stay under (MiB): the main process, then each worker
 * (systemd's MemoryHigh for workers, so one runaway worker is throttled before the host swaps).
 * With PostgreSQL's shared buffers and the rest of the host (hostBaseMiB) they fit the tier's host
 * with its headroom (tierHostMiB, hostHeadroom): memoryBudgetMiB below, checked for every tier.
 */
export const processMemoryMiB: Record<TierName, { main: number; worker: number }> = {
  // Measured (npm run bench, 2026-11-27): Synapse peaked at 153 MiB PSS on solo and 603 MiB for
  // community's five processes under the benchmark's load; the main process of a tier with
  // workers serves the least. These leave four times that and more, and room for TURN and
  // monitoring (serviceMemoryMiB) on every tier's host.
  solo: { main: 640, worker: 384 },
  community: { main: 640, worker: 320 },
  large: { main: 768, worker: 320 },
};

/** The host each tier is sized for (MiB of RAM). */
export const tierHostMiB: Record<TierName, number> = { solo: 2048, community: 4096, large: 8192 };
/** The share of the host left free at the budget: the page cache, peaks, what the admin adds. */
export const hostHeadroom = 0.2;
/** The rest of a host besides Synapse and shared buffers: the OS, nginx, Redis, PostgreSQL's backends. */
export const hostBaseMiB = 384;

/**
 * What the optional services take (MiB) on top of the rest: coturn (turn: 7 MiB PSS measured idle,
 * its relay buffers grow with calls), and besides Prometheus (its tier's allowance, its systemd
 * MemoryHigh: tierMonitoring) the rest of monitoring: Alertmanager, the node, PostgreSQL and nginx
 * exporters and the alert receiver (115 MiB PSS together, measured on solo).
 */
export const serviceMemoryMiB = { turn: 64, monitoringRest: 128 } as const;

/** What a tier's host holds at its budget (MiB): every Synapse process, shared buffers, the rest, the optional services. */
export function memoryBudgetMiB(tier: TierName, workers: number, sharedBuffersMiB: number, services: { turn?: boolean; monitoring?: boolean } = {}): number {
  return processMemoryMiB[tier].main + workers * processMemoryMiB[tier].worker + sharedBuffersMiB + hostBaseMiB +
    (services.turn ? serviceMemoryMiB.turn : 0) + (services.monitoring ? tierMonitoring[tier].prometheusMemoryMiB + serviceMemoryMiB.monitoringRest : 0);
}

/** Connections PostgreSQL keeps besides Synapse's pools (superuser reserve, maintenance, psql). */
export const postgresReservedConnections = 10;

/** What max_connections must hold: every Synapse process's pool of up to cp_max, and the reserve. */
export function connectionsNeeded(dbPoolMax: number, processes: number): number {
  return dbPoolMax * processes + postgresReservedConnections;
}

export function processCount(counts: WorkerCounts): number {
  return 1 + workerKinds.reduce((n, k) => n + counts[k], 0);
}

