// Where each package source puts things.
export type PackageSource = "matrix-org" | "debian";

export interface SynapsePaths {
  /** The interpreter that has the installed Synapse (its config loader and tools). */
  python: string;
}

export function synapsePaths(source: PackageSource): SynapsePaths {
  return { python: source === "matrix-org" ? "/opt/venvs/matrix-synapse/bin/python" : "/usr/bin/python3" };
}

export const synapseConfigDir = "/etc/matrix-synapse";
export const synapseDataDir = "/var/lib/matrix-synapse";
export const stagedDir = "/var/lib/synapse-deploy/staged";
/** Synapse's listener; nginx is its only client. */
export const synapseListen = { host: "127.0.0.1", port: 8008 };
export const synapseLocalUrl = `http://${synapseListen.host}:${synapseListen.port}`;
