// Sizing tiers. Each tier derives every sizing knob; each knob can be overridden in stack config.

export const tierNames = ["solo", "community", "large"] as const;
export type TierName = (typeof tierNames)[number];

export interface Sizing {
  /** Synapse caches.global_factor. */
  cacheFactor: number;
  /** Database connection pool per Synapse process. */
  dbPoolMin: number;
  dbPoolMax: number;
  /** Synapse max_upload_size and nginx client_max_body_size (digits + K|M|G). */
  maxUploadSize: string;
  postgresSharedBuffers: string;
  postgresEffectiveCacheSize: string;
  postgresWorkMem: string;
  postgresMaintenanceWorkMem: string;
  postgresMaxConnections: number;
}

export const tiers: Record<TierName, Sizing> = {
  // 2 GB RAM / 2 CPU: PostgreSQL gets about 1 GB of it, Synapse keeps small caches.
  solo: {
    cacheFactor: 0.5, dbPoolMin: 5, dbPoolMax: 10, maxUploadSize: "50M",
    postgresSharedBuffers: "256MB", postgresEffectiveCacheSize: "768MB",
    postgresWorkMem: "8MB", postgresMaintenanceWorkMem: "64MB", postgresMaxConnections: 50,
  },
  // 4 GB / 4 CPU; 5 processes (main + 4 workers).
  community: {
    cacheFactor: 1.0, dbPoolMin: 5, dbPoolMax: 15, maxUploadSize: "100M",
    postgresSharedBuffers: "512MB", postgresEffectiveCacheSize: "2GB",
    postgresWorkMem: "16MB", postgresMaintenanceWorkMem: "256MB", postgresMaxConnections: 100,
  },
  // 8 GB; 13 processes (config/workers.ts), each with its own pool of cp_max connections.
  large: {
    cacheFactor: 2.0, dbPoolMin: 5, dbPoolMax: 20, maxUploadSize: "200M",
    postgresSharedBuffers: "1GB", postgresEffectiveCacheSize: "4GB",
    postgresWorkMem: "32MB", postgresMaintenanceWorkMem: "512MB", postgresMaxConnections: 300,
  },
};

const uploadUnits: Record<string, number> = { "": 1, K: 1024, M: 1024 ** 2, G: 1024 ** 3 };
const pgUnits: Record<string, number> = { kB: 1024, MB: 1024 ** 2, GB: 1024 ** 3, TB: 1024 ** 4 };

/** Digits with an optional K, M or G: the common ground of nginx's and Synapse's size syntax. */
export const uploadSizePattern = /^([1-9][0-9]*)([KMG]?)$/;
/** PostgreSQL memory settings, as written in postgresql.conf. */
export const pgSizePattern = /^([1-9][0-9]*)(kB|MB|GB|TB)$/;

/**
 * PostgreSQL's own bounds of the memory settings the program renders: at least `min`, below
 * `below` (pg_settings' min_val and max_val times the unit, read on the sandbox's PostgreSQL 18).
 * PostgreSQL refuses to start on a value outside them.
 */
export const pgSizeBounds = {
  postgresSharedBuffers: { min: "128kB", below: "8TB" },
  postgresEffectiveCacheSize: { min: "8kB", below: "16TB" },
  postgresWorkMem: { min: "64kB", below: "2TB" },
  postgresMaintenanceWorkMem: { min: "64kB", below: "2TB" },
} as const;

/**
 * max_connections: PostgreSQL wants more than its reserved superuser connections (3), and at most
 * 262143 backends in all, which its default autovacuum (16), worker (8) and WAL sender (10) slots
 * and one more share with the connections (PostgreSQL 18).
 */
export const pgMaxConnectionsBounds = { min: 10, max: 262143 - 16 - 8 - 10 - 1 };

export function uploadSizeBytes(size: string): number {
  const m = uploadSizePattern.exec(size);
  if (!m) throw new Error(`not an upload size: ${size}`);
  return Number(m[1]) * uploadUnits[m[2]];
}

export function pgSizeBytes(size: string): number {
  const m = pgSizePattern.exec(size);
  if (!m) throw new Error(`not a PostgreSQL size: ${size}`);
  return Number(m[1]) * pgUnits[m[2]];
}

/** A comparable number for each knob, so tiers can be ordered knob by knob. */
export function sizingMagnitudes(s: Sizing): Record<keyof Sizing, number> {
  return {
    cacheFactor: s.cacheFactor,
    dbPoolMin: s.dbPoolMin,
    dbPoolMax: s.dbPoolMax,
    maxUploadSize: uploadSizeBytes(s.maxUploadSize),
    postgresSharedBuffers: pgSizeBytes(s.postgresSharedBuffers),
    postgresEffectiveCacheSize: pgSizeBytes(s.postgresEffectiveCacheSize),
    postgresWorkMem: pgSizeBytes(s.postgresWorkMem),
    postgresMaintenanceWorkMem: pgSizeBytes(s.postgresMaintenanceWorkMem),
    postgresMaxConnections: s.postgresMaxConnections,
  };
}
