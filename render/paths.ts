// Where things are on a host: what each package source puts where, and the program's own layout.
import hostLayout from "../config/hostLayout.json";
import type { PackageSource } from "../config/versions";
export type { PackageSource };

export interface SynapsePaths {
  /** The interpreter that has the installed Synapse (its config loader and tools). */
  python: string;
}

/** matrix.org's package and a PyPI install keep Synapse in a virtualenv here; Debian's uses the system Python. */
export const synapseVenv = hostLayout.synapseVenv;

export function hasVenv(source: PackageSource): boolean {
  return source !== "debian";
}

export function synapsePaths(source: PackageSource): SynapsePaths {
  return { python: hasVenv(source) ? `${synapseVenv}/bin/python` : "/usr/bin/python3" };
}

/**
 * Where things are on a host, and the names of what the program makes there: written once, in
 * config/hostLayout.json (JSON, so that `npm run admin`, which Node runs by stripping types and
 * which can only import files by their full name, reads the same file), rendered into the scripts'
 * and the tools' headers (render/script.ts, render/maintenance.ts).
 */
export const synapseConfigDir = hostLayout.synapseConfigDir;
export const synapseDataDir = hostLayout.synapseDataDir;
/** This program's own state on a host, and its settings files. */
export const deployStateDir = hostLayout.deployStateDir;
export const deployConfigDir = hostLayout.deployConfigDir;
export const stagedDir = `${deployStateDir}/staged`;
export const tlsRoot = `${deployConfigDir}/tls`;
/** Synapse's listener; nginx is its only client. */
export const synapseListen = hostLayout.synapseListen;
export const synapseLocalUrl = `http://${synapseListen.host}:${synapseListen.port}`;
/** Every worker is an instance of this template unit (matrix-synapse-worker@<name>.service). */
export const workerUnitTemplate = hostLayout.workerUnitTemplate;
export const workerTarget = hostLayout.workerTarget;
/** A worker's unit. */
export const workerUnit = (name: string) => workerUnitTemplate.replace("@.", `@${name}.`);
export const mediaStorePath = `${synapseDataDir}/media`;
