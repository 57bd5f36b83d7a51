// Our state-map crate (compressor/state-map), which stands in for the compressor's one
// unpublished dependency: its own tests, then synapse_compress_state's whole unit suite (the
// pinned source, SHA-256 checked) built against it, which exercises every use the compressor
// makes of the map. Real cargo and crates.io; the source archive is cached outside the clone.
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { compressorDir, compressorSource } from "../../render/compressor";
import { compressorCache, compressorSdist } from "./support/compressor";
import { suiteNeeding } from "./support/requirements";

const minutes = (n: number) => n * 60_000;
const cache = compressorCache();
const crate = path.join(compressorDir, "state-map");

function run(cmd: string, args: string[], cwd: string, env: Record<string, string> = {}): string {
  const r = spawnSync(cmd, args, { cwd, encoding: "utf8", env: { ...process.env, ...env }, maxBuffer: 64 * 1024 * 1024 });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(" ")} exited ${r.status}\n${r.stdout}\n${r.stderr}`);
  return r.stdout + r.stderr;
}
const passed = (out: string) => [...out.matchAll(/^test result: ok\. (\d+) passed; 0 failed/gm)].reduce((n, m) => n + Number(m[1]), 0);

const suite = suiteNeeding("cargo");

suite("the state-map crate", () => {
  test("passes its own tests", () => {
    const out = run("cargo", ["test", "--quiet"], crate, { CARGO_TARGET_DIR: path.join(cache, "state-map-target") });
    expect(passed(out)).toBeGreaterThanOrEqual(6);
  }, minutes(5));

  test("passes synapse_compress_state's own unit suite, patched in for the git dependency", async () => {
    // The pinned source, downloaded once and checked by its SHA-256.
    const sdist = await compressorSdist();
    const work = path.join(cache, "upstream");
    fs.rmSync(work, { recursive: true, force: true });
    fs.mkdirSync(work, { recursive: true });
    run("tar", ["-xzf", sdist, "-C", work], cache);
    const src = path.join(work, `synapse_auto_compressor-${compressorSource.version}`);
    fs.mkdirSync(path.join(src, ".cargo"));
    // The same patch the host's build writes (host-tools/synapse-compressor-build.sh).
    fs.writeFileSync(path.join(src, ".cargo", "config.toml"),
      `[patch."https://github.com/matrix-org/rust-matrix-state-map"]\nstate-map = { path = "${crate}" }\n`);
    const out = run("cargo", ["test", "-p", "synapse_compress_state", "--no-default-features"], src,
      { CARGO_TARGET_DIR: path.join(cache, "upstream-target") });
    // The lock file now names our crate, by path, instead of the git repository.
    const lock = fs.readFileSync(path.join(src, "Cargo.lock"), "utf8");
    expect(lock).toMatch(/\[\[package\]\]\nname = "state-map"\nversion = "0\.1\.0"\n\n/);
    expect(lock).not.toContain("rust-matrix-state-map");
    fs.rmSync(work, { recursive: true, force: true });
    // 36 tests in 0.1.4 (collapse_state_maps, check_that_maps_match, the compressor, levels, stats).
    expect(passed(out)).toBe(36);
  }, minutes(15));
});
