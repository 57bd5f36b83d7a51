// synapse_auto_compressor, built on the database host from a pinned source: Matrix's Rust tool
// is not on crates.io; PyPI's source archive holds its workspace, and its one unpublished
// dependency (state-map) is our own crate in compressor/state-map, patched in at build time.
import * as fs from "node:fs";
import * as path from "node:path";
import { createHash } from "node:crypto";
import { hostTool, MaintenanceTool } from "./maintenance";
import { reclaim } from "./reclaim";

export const compressorDir = path.join(__dirname, "..", "compressor");

/** The pinned source: PyPI's sdist of synapse-auto-compressor, checked by its SHA-256. */
export const compressorSource = {
  version: "0.1.4",
  url: "https://files.pythonhosted.org/packages/63/af/eb0ffdf66bc2921746e95d7650b491b9c3b89b47b2a11a8dc162c50c43dc/synapse_auto_compressor-0.1.4.tar.gz",
  sha256: "c0c508aab50462ec8001eebeff018f999644d7cdfd758320a100128d30dc50e4",
};


export const compressorPrefix = "/usr/local/lib/synapse-deploy/compressor";
export const compressorBuild = {
  name: "synapse-compressor-build",
  toolPath: "/usr/local/sbin/synapse-compressor-build",
  confPath: "/etc/synapse-deploy/compressor-build.conf",
};
/** The oneshot unit that runs the build in the background. */
export const compressorBuildUnit = `${compressorBuild.name}.service`;
export const compressState = {
  name: "synapse-compress-state",
  toolPath: "/usr/local/sbin/synapse-compress-state",
  confPath: "/etc/synapse-deploy/compress-state.conf",
};

/** The state-map crate's files, by path relative to compressor/state-map. */
export function stateMapCrate(): Record<string, string> {
  const dir = path.join(compressorDir, "state-map");
  return Object.fromEntries(["Cargo.toml", "src/lib.rs"].map((f) => [f, fs.readFileSync(path.join(dir, f), "utf8")]));
}

/**
 * What the binary is built from: the source's digest, our crate and the build tool. The binary's
 * directory is named by it, so a new recipe builds once and the same recipe never rebuilds.
 */
export function compressorRecipe(): string {
  const h = createHash("sha256").update(compressorSource.sha256);
  for (const [f, content] of Object.entries(stateMapCrate())) h.update(`\0${f}\0${content}`);
  h.update(`\0${hostTool(compressorBuild.name)}`);
  return h.digest("hex").slice(0, 12);
}

export function compressorBinary(): string {
  return `${compressorPrefix}/${compressorSource.version}-${compressorRecipe()}/synapse_auto_compressor`;
}

export function renderCompressorBuildConf(): string {
  return [
    "# Managed by the synapse Pulumi program: what synapse-compressor-build builds, from what.",
    `version=${compressorSource.version}`,
    `sdist=${compressorPrefix}/src/synapse_auto_compressor-${compressorSource.version}.tar.gz`,
    `state_map=${compressorPrefix}/src/state-map`,
    `binary=${compressorBinary()}`,
    "",
  ].join("\n");
}

/**
 * The build runs once, in the background, at the lowest CPU and I/O priority, with its memory
 * capped below what a 2 GB host's Synapse and PostgreSQL need: a small host slows down the
 * build, not the homeserver. A build that fails or is killed fails the unit, loudly.
 */
export function renderCompressorBuildService(): string {
  return [
    "# Managed by the synapse Pulumi program.",
    "[Unit]",
    "Description=Build synapse_auto_compressor from its pinned source (synapse-deploy)",
    "Wants=network-online.target",
    "After=network-online.target",
    "",
    "[Service]",
    "Type=oneshot",
    `ExecStart=${compressorBuild.toolPath}`,
    "Nice=19",
    "CPUSchedulingPolicy=idle",
    "IOSchedulingClass=idle",
    "MemoryHigh=35%",
    "MemoryMax=50%",
    "TimeoutStartSec=3h",
    "",
  ].join("\n");
}

export function renderCompressStateConf(db: CompressedDatabase, chunkSize: number, chunks: number, withReclaim: boolean): string {
  return [
    "# Managed by the synapse Pulumi program: synapse-compress-state's settings.",
    `binary=${compressorBinary()}`,
    `database=${db.name}`,
    "# The PostgreSQL cluster serving it (major/name).",
    `cluster=${db.cluster}`,
    "# The compressor connects as postgres over the local socket and acts as Synapse's role, so",
    "# the tables it creates belong to Synapse like the rest.",
    `role=${db.user}`,
    `chunk_size=${chunkSize}`,
    `chunks=${chunks}`,
    ...(withReclaim ? ["# Each run ends by giving the space it freed back to the disk.", `reclaim=${reclaim.toolPath}`] : []),
    "",
  ].join("\n");
}

/** The database the compressor works on, its role, and the cluster ("major/name") serving it. */
export interface CompressedDatabase { name: string; user: string; cluster: string }

export function compressStateTool(db: CompressedDatabase, c: { schedule: string; chunkSize: number; chunks: number; reclaim: boolean }): MaintenanceTool {
  return {
    ...compressState,
    description: "Synapse state compression (synapse_auto_compressor, then VACUUM ANALYZE)",
    schedule: c.schedule,
    conf: renderCompressStateConf(db, c.chunkSize, c.chunks, c.reclaim),
    after: [compressorBuildUnit, "postgresql.service"],
  };
}
