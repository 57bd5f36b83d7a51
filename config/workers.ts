// Synapse's workers: how many of each kind a tier runs and the budget every process must fit
// (database connections, memory). The per-kind keys are in keys.ts, their rules in settings.ts.
import { tierMonitoring } from "./monitoring";
import { TierName } from "./tiers";

/** The kinds this program runs, each a role from Synapse's workers documentation. */
export const workerKinds = [
  "synchrotron", "federationSender", "federationReader", "clientReader", "eventPersister", "media", "background",
] as const;
export type WorkerKind = (typeof workerKinds)[number];
export type WorkerCounts = Record<WorkerKind, number>;

/** Kinds of which Synapse runs at most one (a single media background runner, one task runner). */
export const singletonKinds: ReadonlySet<WorkerKind> = new Set(["media", "background"]);
/** An upper bound per kind that keeps the loopback port plan (10 per kind) unambiguous. */
export const maxWorkersPerKind = 9;

const none: WorkerCounts = {
  synchrotron: 0, federationSender: 0, federationReader: 0, clientReader: 0, eventPersister: 0, media: 0, background: 0,
};

/**
 * Workers per tier. solo: one process (2 GB hosts). community: the set that takes the load off the
 * main process first (sync, federation in and out, media). large: every kind, event persistence
 * included.
 */
export const tierWorkers: Record<TierName, WorkerCounts> = {
  solo: none,
  community: { ...none, synchrotron: 1, federationSender: 1, federationReader: 1, media: 1 },
  large: { synchrotron: 2, federationSender: 2, federationReader: 2, clientReader: 2, eventPersister: 2, media: 1, background: 1 },
};

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

export function processCount(counts: WorkerCounts): number {
  return 1 + workerKinds.reduce((n, k) => n + counts[k], 0);
}

