// synapse_auto_compressor for the tests and the bench that need it ready at once (the trap
// scenario): built once on this machine, from the same pinned source, with the same crate and the
// same build tool the program ships (host-tools/synapse-compressor-build.sh), cached outside the
// clone by recipe; then put on a VPS where the program expects it before `pulumi up`, whose install
// step finds it built and starts no build. (compressor.test.ts is about that build on the VPS: it
// never uses this.)
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { compressorBinary, compressorDir, compressorSource } from "../../../render/compressor";
import { hostToolsDir } from "../../../render/maintenance";
import { Vps } from "./stack";

export const compressorCache = () => path.join(process.env.SYNAPSE_ENGINE_CACHE ?? "/var/cache/synapse-engine", "compressor");
const sha256 = (bytes: Buffer) => createHash("sha256").update(bytes).digest("hex");

/** The pinned source archive, downloaded once into the cache and checked by its SHA-256. */
export async function compressorSdist(): Promise<string> {
  const sdist = path.join(compressorCache(), path.basename(compressorSource.url));
  if (!fs.existsSync(sdist) || sha256(fs.readFileSync(sdist)) !== compressorSource.sha256) {
    fs.mkdirSync(compressorCache(), { recursive: true });
    const r = await fetch(compressorSource.url);
    if (r.status !== 200) throw new Error(`downloading ${compressorSource.url}: HTTP ${r.status}`);
    fs.writeFileSync(sdist, Buffer.from(await r.arrayBuffer()));
  }
  if (sha256(fs.readFileSync(sdist)) !== compressorSource.sha256) throw new Error(`${sdist} does not have the pinned SHA-256`);
  return sdist;
}

/**
 * Where the binary of the program's current recipe is cached (named like its path on a VPS), in a
 * folder of its own: the build tool removes the other recipes beside it.
 */
export function cachedCompressor(): string {
  const binary = compressorBinary();
  return path.join(compressorCache(), "bin", path.posix.basename(path.posix.dirname(binary)), path.posix.basename(binary));
}

/** Builds the binary of the current recipe unless it is cached (a few minutes of both cores). */
export async function buildCompressor(): Promise<string> {
  const binary = cachedCompressor();
  if (fs.existsSync(binary)) return binary;
  const sdist = await compressorSdist();
  const work = fs.mkdtempSync(path.join(os.tmpdir(), "compressor-build-"));
  try {
    const conf = path.join(work, "build.conf");
    fs.writeFileSync(conf, [`version=${compressorSource.version}`, `sdist=${sdist}`, `state_map=${path.join(compressorDir, "state-map")}`,
      `binary=${binary}`, ""].join("\n"));
    execFileSync("bash", [path.join(hostToolsDir, "synapse-compressor-build.sh")], {
      env: { ...process.env, SYNAPSE_COMPRESSOR_BUILD_CONF: conf, SYNAPSE_COMPRESSOR_WORK: path.join(work, "build") },
      stdio: ["ignore", "pipe", "inherit"],
    });
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
  return binary;
}

/** Puts the cached binary where the program expects it on the VPS (checked by its SHA-256 there). */
export async function placeCompressor(vps: Vps): Promise<void> {
  const bytes = fs.readFileSync(cachedCompressor());
  const binary = compressorBinary();
  await vps.sh(`install -d -m 0755 ${path.posix.dirname(binary)} && cat > ${binary}.tmp && chmod 0755 ${binary}.tmp && ` +
    `echo "${sha256(bytes)}  ${binary}.tmp" | sha256sum --quiet -c - && ${binary}.tmp --version >/dev/null && mv -f ${binary}.tmp ${binary}`, { stdin: bytes });
}
