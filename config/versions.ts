// What the stack pins: the Synapse release and the PostgreSQL major version. Empty means "what the
// host gets at first install, then held" (components/upgrades.ts); a change is an upgrade, which
// the hosts check before anything changes (scripts/synapse-version.sh, postgres-version.sh).

/** Where Synapse comes from. pypi: a virtualenv with matrix.org's package layout, built from a lock. */
export const packageSources = ["matrix-org", "debian", "pypi"] as const;
export type PackageSource = (typeof packageSources)[number];

/** A Synapse release as PyPI and both Debian packages name it upstream: 1.160.0, 1.161.0rc1. */
export const synapseVersionPattern = /^[1-9][0-9]*\.[0-9]+\.[0-9]+(?:rc[0-9]+)?$/;
/** A PostgreSQL major version (10 and later have one number). */
export const postgresMajorPattern = /^[1-9][0-9]$/;

export interface VersionSettings {
  /** The Synapse release; "" = the newest the source has at first install (or the one installed), held. */
  synapse: string;
  /** The PostgreSQL major; "" = the distribution's default at first install (or the cluster serving), held. */
  postgres: string;
  /** The major of an old cluster (one a PostgreSQL upgrade moved from) to drop; "" keeps it. */
  dropOldPostgres: string;
}

interface VersionKeys {
  synapseVersion: string;
  postgresVersion: string;
  postgresDropOldCluster: string;
}

export function versionSettings(c: VersionKeys, errors: string[], project: string): VersionSettings {
  if (c.postgresDropOldCluster !== "" && c.postgresVersion !== "" && Number(c.postgresDropOldCluster) >= Number(c.postgresVersion)) {
    errors.push(`${project}:postgresDropOldCluster: given ${JSON.stringify(c.postgresDropOldCluster)}, expected a major version older than ` +
      `postgresVersion (${JSON.stringify(c.postgresVersion)}): only a cluster an upgrade moved from is dropped, never the one in use`);
  }
  return { synapse: c.synapseVersion, postgres: c.postgresVersion, dropOldPostgres: c.postgresDropOldCluster };
}
