// PostgreSQL settings for Synapse, as a conf.d drop-in (the memory knobs of the tier).
import { Sizing } from "../config";
import { Firewall } from "./firewall";

export const postgresDropIn = "60-synapse.conf";

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
