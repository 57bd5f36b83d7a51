// Where each package source puts things.
import type { PackageSource } from "../config/versions";
export type { PackageSource };

export interface SynapsePaths {
  /** The interpreter that has the installed Synapse (its config loader and tools). */
  python: string;
}

/** matrix.org's package and a PyPI install keep Synapse in a virtualenv here; Debian's uses the system Python. */
export const synapseVenv = "/opt/venvs/matrix-synapse";

export function hasVenv(source: PackageSource): boolean {
  return source !== "debian";
}

export function synapsePaths(source: PackageSource): SynapsePaths {
  return { python: hasVenv(source) ? `${synapseVenv}/bin/python` : "/usr/bin/python3" };
}

export const synapseConfigDir = "/etc/matrix-synapse";
export const synapseDataDir = "/var/lib/matrix-synapse";
export const stagedDir = "/var/lib/synapse-deploy/staged";
/** Synapse's listener; nginx is its only client. */
export const synapseListen = { host: "127.0.0.1", port: 8008 };
export const synapseLocalUrl = `http://${synapseListen.host}:${synapseListen.port}`;
