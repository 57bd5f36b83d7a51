// Which Debian packages each host gets, so that a first apply installs them in one apt
// transaction (host-packages.sh) before any component's steps. The components still ensure their
// own packages (they find them installed); a package missing here only costs another transaction,
// which the end-to-end suite notices (it expects one install on a fresh Synapse VPS).
import { SshConnection } from "../config";
import type { Settings } from "../config";
import { pgRepackPackage } from "./reclaim";

/** PostgreSQL's server, per major version (%s: the major the stack holds). */
export const postgresPackage = "postgresql-%s";

export interface HostPackagePlan {
  /** Names the host's step: synapse, database, well-known or worker-host-N (the first role on it). */
  role: string;
  connection: SshConnection;
  packages: string[];
  /** The host runs Synapse: its package (with debconf answers) joins the transaction. */
  synapse?: { source: Settings["packageSource"]; serverName: string; reportStats: boolean };
}

/** What each component's own steps install (scripts/*.sh), by component. */
export const componentPackages = {
  synapse: ["ca-certificates", "curl", "debconf-utils", "sqlite3", "python3"],
  /** A PyPI install: the virtualenv, and what builds psycopg2 (PyPI has no Linux wheel of it) against the system's libpq. */
  synapsePypi: ["gcc", "libc6-dev", "libpq-dev", "python3-dev", "python3-venv"],
  postgres: [postgresPackage],
  /** pg_repack, per PostgreSQL major version (host-packages.sh resolves %s). */
  reclaim: [pgRepackPackage],
  nginx: (acme: boolean) => ["nginx", "openssl", "ssl-cert", ...(acme ? ["certbot"] : [])],
  firewall: ["nftables"],
  age: ["age"],
  rclone: ["rclone"],
  synadm: ["python3-venv"],
  redisServer: ["redis-server"],
  /** Synapse's Redis client libraries for Debian's package (the matrix.org venv bundles them). */
  redisClientDebian: ["python3-hiredis", "python3-pip", "python3-six", "python3-twisted"],
};

const hostKey = (c: SshConnection) => `${c.host}:${c.port ?? 22}`;

export function hostPackagePlans(s: Settings): HostPackagePlan[] {
  const plans = new Map<string, HostPackagePlan>();
  const add = (role: string, connection: SshConnection, packages: string[], synapse = false) => {
    const key = hostKey(connection);
    const plan = plans.get(key) ?? { role, connection, packages: [] };
    plans.set(key, plan);
    plan.packages.push(...packages);
    if (synapse) plan.synapse = { source: s.packageSource, serverName: s.serverName, reportStats: s.reportStats };
  };
  const workers = Object.values(s.workers).some((n) => n > 0);
  const redisClient = workers && s.packageSource === "debian" ? componentPackages.redisClientDebian : [];
  const offsite = !!(s.backups?.offsite || s.restore?.offsite);

  const synapsePackages = [...componentPackages.synapse, ...(s.packageSource === "pypi" ? componentPackages.synapsePypi : [])];
  add("synapse", s.hosts.synapse, [
    ...synapsePackages,
    ...componentPackages.nginx(s.tls.mode === "acme"),
    ...(workers ? componentPackages.redisServer : []),
    ...redisClient,
    ...(s.backups || s.restore ? componentPackages.age : []),
    ...(offsite ? componentPackages.rclone : []),
    ...(s.adminUser ? componentPackages.synadm : []),
  ], true);
  add("database", s.hosts.database, [...componentPackages.postgres, ...(s.reclaim ? componentPackages.reclaim : []),
    ...(s.database.box ? componentPackages.firewall : [])]);
  if (s.delegated) add("well-known", s.hosts.wellKnown, componentPackages.nginx(s.tls.mode === "acme"));
  s.workerHosts.hosts.forEach((h, i) =>
    add(`worker-host-${i + 1}`, h.connection, [...synapsePackages, ...redisClient, ...componentPackages.firewall], true));
  return [...plans.values()].map((p) => ({ ...p, packages: [...new Set(p.packages)].sort() }));
}
