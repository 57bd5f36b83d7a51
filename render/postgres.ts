// PostgreSQL settings for Synapse, as a conf.d drop-in (the memory knobs of the tier).
import { Sizing } from "../config";
import { Firewall } from "./firewall";

export const postgresDropIn = "60-synapse.conf";
/** The port of the cluster serving Synapse (Synapse connects to it; a kept old cluster moves off it). */
export const postgresPort = 5432;
/** The database Synapse's data lives in (unless PostgresDatabase is given another). */
export const synapseDatabaseName = "synapse";

export function renderPostgresTuning(s: Sizing): string {
  const settings: [string, string | number][] = [
    ["max_connections", s.postgresMaxConnections],
    ["shared_buffers", s.postgresSharedBuffers],
    ["effective_cache_size", s.postgresEffectiveCacheSize],
    ["work_mem", s.postgresWorkMem],
    ["maintenance_work_mem", s.postgresMaintenanceWorkMem],
  ];
  return [
    "# Managed by the synapse Pulumi program: sizing for Synapse (see the tier in stack config).",
    ...settings.map(([k, v]) => `${k} = ${typeof v === "number" ? v : `'${v}'`}`),
    "",
  ].join("\n");
}

/** Who may reach PostgreSQL on a database box, and where it listens. */
export interface PostgresNetwork {
  /** The box's private address, where PostgreSQL listens (besides loopback). */
  address: string;
  /** The Synapse hosts' private addresses: the only ones pg_hba and the firewall admit. */
  clients: string[];
  database: string;
  user: string;
  port: number;
}

export const postgresNetworkDropIn = "61-synapse-network.conf";
export const hbaBegin = "# BEGIN synapse-deploy: the Synapse hosts (managed; edits are replaced)";
export const hbaEnd = "# END synapse-deploy";
/** The box's firewall: PostgreSQL's port, open to the Synapse hosts only. */
export function postgresFirewall(n: PostgresNetwork): Firewall {
  return { name: "postgres", ports: [n.port], clients: n.clients };
}

function hostCidr(address: string): string {
  return address.includes(":") ? `${address}/128` : `${address}/32`;
}

export function renderListenDropIn(n: PostgresNetwork): string {
  return [
    "# Managed by the synapse Pulumi program: loopback and the private network only, never a public address.",
    `listen_addresses = 'localhost,${n.address}'`,
    `port = ${n.port}`,
    "password_encryption = 'scram-sha-256'",
    "",
  ].join("\n");
}

/** pg_hba lines admitting the Synapse hosts to the Synapse database only, with scram-sha-256. */
export function renderHbaBlock(n: PostgresNetwork): string {
  return [
    hbaBegin,
    ...n.clients.map((c) => `host ${n.database} ${n.user} ${hostCidr(c)} scram-sha-256`),
    hbaEnd,
    "",
  ].join("\n");
}

/**
 * Autovacuum for Synapse's hot tables, per table (ALTER TABLE … SET): PostgreSQL's defaults wait
 * for 20 % of a table to be dead rows, which on a 50-million-row table is 10 million.
 */
export interface TableAutovacuum {
  table: string;
  settings: Record<string, number>;
  reason: string;
}

const queueLike = {
  autovacuum_vacuum_scale_factor: 0, autovacuum_vacuum_threshold: 5000,
  autovacuum_analyze_scale_factor: 0.05, autovacuum_vacuum_cost_limit: 1000,
};
const queueReason = "rows are inserted and deleted all the time: vacuum after a fixed 5,000 dead rows, not a share of the table, with a higher cost limit so it keeps up";
const bigAppend = {
  autovacuum_vacuum_scale_factor: 0.02, autovacuum_analyze_scale_factor: 0.01, autovacuum_vacuum_insert_scale_factor: 0.05,
};
const bigReason = "grows without end and is mostly appended to: vacuum at 2 % dead rows (not 20 %), analyze at 1 %, and vacuum after 5 % new rows so the visibility map keeps index-only scans cheap";

export const synapseAutovacuum: TableAutovacuum[] = [
  { table: "events", settings: bigAppend, reason: bigReason },
  { table: "event_json", settings: bigAppend, reason: bigReason },
  { table: "event_edges", settings: bigAppend, reason: bigReason },
  { table: "event_auth", settings: bigAppend, reason: bigReason },
  {
    table: "state_groups_state",
    settings: { autovacuum_vacuum_scale_factor: 0.01, autovacuum_analyze_scale_factor: 0.005, autovacuum_vacuum_cost_limit: 2000 },
    reason: "the largest table; state compression and purges delete from it in bulk: vacuum at 1 % dead rows with twice the default cost limit",
  },
  ...["current_state_delta_stream", "device_lists_stream", "device_lists_changes_in_room", "device_lists_outbound_pokes",
    "device_inbox", "receipts_linearized", "receipts_graph", "event_push_actions", "event_push_actions_staging",
    "event_push_summary", "stream_positions", "federation_stream_position", "presence_stream"]
    .map((table) => ({ table, settings: queueLike, reason: queueReason })),
];

/** One line per table, `table key=value,…`, in the order ALTER TABLE would set them. */
export function renderAutovacuum(tables: TableAutovacuum[]): string {
  return tables.map((t) => `${t.table} ${Object.entries(t.settings).map(([k, v]) => `${k}=${v}`).sort().join(",")}\n`).join("");
}
