// Every Debian package the program installs, by what needs it: the one list. A first apply
// installs each host's share in one apt transaction (host-packages.sh) before any component's
// steps; each step's script gets its own packages as a parameter (and finds them installed), so
// no script names a package (a unit test checks). A package missing from a host's plan only
// costs another transaction, which the end-to-end suite notices (one install on a fresh VPS).
import { SshConnection } from "../config";
import type { Settings } from "../config";
import { packageSources } from "../config/versions";
import { PackageSource } from "./paths";

/** PostgreSQL's server, per major version (%s: the major the stack holds). */
export const postgresPackage = "postgresql-%s";

export interface HostPackagePlan {
  /** Names the host's step: synapse, database, well-known or worker-host-N (the first role on it). */
  role: string;
  connection: SshConnection;
  packages: string[];
  /** The host runs Synapse: its package (with debconf answers) joins the transaction. */
  synapse?: { source: PackageSource; serverName: string; reportStats: boolean };
}

/** What each component's own steps install (scripts/*.sh), by component. */
export const componentPackages = {
  synapse: ["ca-certificates", "curl", "debconf-utils", "sqlite3", "python3"],
  /** A PyPI install: the virtualenv, and what builds psycopg2 (PyPI has no Linux wheel of it) against the system's libpq. */
  synapsePypi: ["gcc", "libc6-dev", "libpq-dev", "python3-dev", "python3-venv"],
  /** What fetches matrix.org's keyring before its repository is added. */
  matrixOrgRepository: ["ca-certificates", "curl"],
  postgres: [postgresPackage],
  /** Never installed: Debian's postgresql, asked which major it depends on (a first install's default). */
  postgresDefault: ["postgresql"],
  /** pg_repack, per PostgreSQL major version (%s: the major the stack holds). */
  reclaim: ["postgresql-%s-repack"],
  nginx: (acme: boolean) => ["nginx", "openssl", "ssl-cert", ...(acme ? ["certbot"] : [])],
  firewall: ["nftables"],
  /** age decrypts and encrypts backups; rclone ships them to the bucket. */
  age: ["age"],
  rclone: ["rclone"],
  synadm: ["python3-venv"],
  redisServer: ["redis-server"],
  /** Synapse's Redis client libraries for Debian's package (the matrix.org venv bundles them). */
  redisClientDebian: ["python3-hiredis", "python3-pip", "python3-six", "python3-twisted"],
  /** What Debian packages of synapse-s3-storage-provider's dependencies, for Debian's Synapse (its venv sees them). */
  s3ProviderDebian: ["python3-venv", "python3-yaml", "python3-psycopg2", "python3-humanize", "python3-tqdm", "python3-twisted"],
  /** What the state compressor's build needs: the toolchain, and what vendored OpenSSL and jemalloc build with. */
  compressorBuild: ["cargo", "gcc", "make", "perl", "libc6-dev", "ca-certificates", "curl"],
  turn: ["coturn"],
  /** On the Synapse VPS: Prometheus (promtool comes with it), Alertmanager (amtool), nginx's exporter. */
  monitoring: ["prometheus", "prometheus-alertmanager", "prometheus-nginx-exporter"],
  /** On every host the program runs (node), and where PostgreSQL runs. */
  nodeExporter: ["prometheus-node-exporter"],
  postgresExporter: ["prometheus-postgres-exporter"],
};

/**
 * Synapse's package from each source, first, and what it needs with it: Debian's package only
 * recommends PostgreSQL's driver (the matrix.org venv bundles it). None from PyPI: a virtualenv.
 */
export function synapsePackagesFrom(source: PackageSource): string[] {
  switch (source) {
    case "matrix-org": return ["matrix-synapse-py3"];
    case "debian": return ["matrix-synapse", "python3-psycopg2"];
    case "pypi": return [];
  }
}

/**
 * The parameters of a step that installs or asks after Synapse's package: this source's packages,
 * what fetches matrix.org's key, and each source's package by name (a host may hold another
 * source's, which the version check names).
 */
export function synapsePackageParams(source: PackageSource): { SYNAPSE_PACKAGES: string; REPOSITORY_PACKAGES: string; SOURCE_PACKAGES: string } {
  return {
    SYNAPSE_PACKAGES: packagesParam(synapsePackagesFrom(source)),
    REPOSITORY_PACKAGES: source === "matrix-org" ? packagesParam(componentPackages.matrixOrgRepository) : "",
    SOURCE_PACKAGES: packageSources.flatMap((s) => synapsePackagesFrom(s).slice(0, 1).map((p) => `${s}=${p}`)).join(" "),
  };
}

/** What Synapse's own steps (synapse-packages.sh) use, from each source. */
export function synapseStepPackages(source: PackageSource): string[] {
  return [...componentPackages.synapse, ...(source === "pypi" ? componentPackages.synapsePypi : [])];
}

/** A list of packages as a script parameter. */
export const packagesParam = (packages: string[]) => packages.join(" ");

/** The versions the stack holds (Upgrades): a host's per-major packages and Synapse's package take them. */
export interface HeldVersions {
  synapse: string;
  postgresMajor: string;
}

/** host-packages.sh's parameters for one host. */
export function hostPackagesParams(plan: HostPackagePlan, held: HeldVersions): Record<string, string | boolean> {
  return {
    PACKAGES: packagesParam(plan.packages),
    // Each host's step names only the versions its packages depend on.
    ...(plan.packages.some((p) => p.includes("%s")) ? { PG_MAJOR: held.postgresMajor } : {}),
    ...(plan.synapse ? {
      SOURCE: plan.synapse.source, SERVER_NAME: plan.synapse.serverName, REPORT_STATS: plan.synapse.reportStats,
      SYNAPSE_VERSION: held.synapse, ...synapsePackageParams(plan.synapse.source),
    } : {}),
  };
}

const hostKey = (c: SshConnection) => `${c.host}:${c.port ?? 22}`;

export function hostPackagePlans(s: Settings): HostPackagePlan[] {
  const plans = new Map<string, HostPackagePlan>();
  const add = (role: string, connection: SshConnection, packages: string[], synapse = false) => {
    const key = hostKey(connection);
    const plan = plans.get(key) ?? { role, connection, packages: [] };
    plans.set(key, plan);
    plan.packages.push(...packages);
    if (synapse) plan.synapse = { source: s.packageSource, serverName: s.serverName, reportStats: s.values.reportStats };
  };
  const workers = Object.values(s.workers).some((n) => n > 0);
  const redisClient = workers && s.packageSource === "debian" ? componentPackages.redisClientDebian : [];
  const offsite = !!(s.backups?.offsite || s.restore?.offsite);
  const monitoring = s.monitoring !== undefined;

  const synapsePackages = synapseStepPackages(s.packageSource);
  add("synapse", s.hosts.synapse, [
    ...synapsePackages,
    ...componentPackages.nginx(s.tls.mode === "acme"),
    ...(workers ? componentPackages.redisServer : []),
    ...redisClient,
    ...(s.backups || s.restore ? componentPackages.age : []),
    ...(offsite ? componentPackages.rclone : []),
    ...(s.adminUser ? componentPackages.synadm : []),
    ...(s.turn?.onSynapseHost ? [...componentPackages.turn, ...componentPackages.firewall] : []),
    ...(monitoring ? [...componentPackages.monitoring, ...componentPackages.nodeExporter, ...componentPackages.firewall] : []),
  ], true);
  add("database", s.hosts.database, [...componentPackages.postgres, ...(s.reclaim ? componentPackages.reclaim : []),
    ...(s.database.box ? componentPackages.firewall : []),
    ...(monitoring ? [...componentPackages.postgresExporter, ...componentPackages.nodeExporter] : [])]);
  if (s.delegated) add("well-known", s.hosts.wellKnown, componentPackages.nginx(s.tls.mode === "acme"));
  s.workerHosts.hosts.forEach((h, i) =>
    add(`worker-host-${i + 1}`, h.connection, [...synapsePackages, ...redisClient, ...componentPackages.firewall,
      ...(monitoring ? componentPackages.nodeExporter : [])], true));
  if (s.turn && !s.turn.onSynapseHost) {
    add("turn", s.turn.connection, [...componentPackages.turn, ...componentPackages.firewall, ...componentPackages.nginx(s.tls.mode === "acme")]);
  }
  return [...plans.values()].map((p) => ({ ...p, packages: [...new Set(p.packages)].sort() }));
}
