// State compression: config, where the compressor is built and run, what makes it rebuild (only
// a new recipe), and the host tools' own refusals, run here.
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { parseSettings } from "../../config";
import { compressorBinary, compressorSource } from "../../render/compressor";
import { hostToolsDir } from "../../render/maintenance";
import { validRaw } from "../support/fixtures";
import { runProgram } from "../support/mockProgram";

const base = { serverName: "example.org", host: "203.0.113.10", tlsMode: "self-signed", packageSource: "debian" };
const dependsOn = (run: Awaited<ReturnType<typeof runProgram>>, name: string) => run.byName(name).dependencies.map((u: string) => u.split("::").pop());

describe("config", () => {
  it("is on by default: monthly, 500 state groups per chunk, 100 chunks per run", () => {
    const r = parseSettings(validRaw());
    if (!r.ok) throw new Error(r.errors.join("\n"));
    expect(r.settings.stateCompressor).toEqual({ schedule: "monthly", chunkSize: 500, chunks: 100 });
    const off = parseSettings({ ...validRaw(), stateCompressor: "false" });
    expect(off.ok && off.settings.stateCompressor).toBeUndefined();
  });

  it("reports every bad value at once, naming the key", () => {
    const r = parseSettings({ ...validRaw(), stateCompressorSchedule: "monthly; reboot", stateCompressorChunkSize: "0", stateCompressorChunks: "-1" });
    expect(r.ok ? [] : r.errors).toEqual([
      expect.stringMatching(/^synapse:stateCompressorSchedule: given "monthly; reboot", expected a systemd OnCalendar expression/),
      expect.stringMatching(/^synapse:stateCompressorChunkSize: given "0", expected an integer >= 1/),
      expect.stringMatching(/^synapse:stateCompressorChunks: given "-1", expected an integer >= 1/),
    ]);
  });
});

describe("the program", () => {
  it("builds and runs the compressor on the database host, the timer after the build is in place", async () => {
    const run = await runProgram({ ...base, databaseHost: "10.0.0.3", privateAddress: "10.0.0.2",
      stateCompressorSchedule: "*-*-01 03:00", stateCompressorChunkSize: "200", stateCompressorChunks: "50" });
    for (const name of ["maintenance-compressor-install", "maintenance-compressor-timer", "maintenance-compressor-state-map-src-lib-rs"]) {
      expect(run.byName(name).inputs.connection.host).toBe("10.0.0.3");
    }
    const install = run.byName("maintenance-compressor-install").inputs.create;
    expect(install).toContain(`SDIST_SHA256=${compressorSource.sha256}\n`);
    expect(install).toContain(`BINARY=${compressorBinary()}\n`);
    expect(install).toMatch(/\nPACKAGES='cargo gcc make perl libc6-dev ca-certificates curl'\n/);
    expect(dependsOn(run, "maintenance-compressor-install")).toEqual(expect.arrayContaining([
      "maintenance-compressor-state-map-Cargo-toml", "maintenance-compressor-state-map-src-lib-rs", "maintenance-compressor-tool",
      "maintenance-compressor-conf", "maintenance-compressor-service"]));
    expect(dependsOn(run, "maintenance-compressor-timer")).toContain("maintenance-compressor-install");
    // Our crate, as in the repository, patched in by the build.
    expect(run.byName("maintenance-compressor-state-map-src-lib-rs").inputs.stdin)
      .toBe(fs.readFileSync(path.join(__dirname, "../../compressor/state-map/src/lib.rs"), "utf8"));
    expect(run.byName("maintenance-compressor-conf").inputs.stdin).toContain(`binary=${compressorBinary()}\n`);
    const build = run.byName("maintenance-compressor-service").inputs.stdin;
    expect(build).toMatch(/\nNice=19\nCPUSchedulingPolicy=idle\nIOSchedulingClass=idle\nMemoryHigh=35%\nMemoryMax=50%\n/);
    const conf = run.byName("maintenance-compressor-timer-conf").inputs.stdin;
    expect(conf).toContain("\ndatabase=synapse\n");
    expect(conf).toContain("\nrole=synapse_user\n");
    expect(conf).toContain("chunk_size=200\nchunks=50\n");
    expect(run.byName("maintenance-compressor-timer-timer").inputs.stdin).toContain("OnCalendar=*-*-01 03:00\nPersistent=true\n");
    expect(run.byName("maintenance-compressor-timer-service").inputs.stdin)
      .toContain("After=network-online.target synapse-compressor-build.service postgresql.service\n");
  });

  it("changes only the timer's steps when its settings change: the build never runs again", async () => {
    const a = await runProgram(base);
    const b = await runProgram({ ...base, stateCompressorSchedule: "weekly", stateCompressorChunks: "10" });
    const inputsOf = (run: typeof a) => Object.fromEntries(run.resources.map((r) => [r.name, JSON.stringify(r.inputs)]));
    const before = inputsOf(a);
    const after = inputsOf(b);
    expect(Object.keys(after).filter((n) => after[n] !== before[n]).sort()).toEqual([
      "maintenance-compressor-timer", "maintenance-compressor-timer-conf", "maintenance-compressor-timer-timer"]);
    // On the Synapse VPS when there is no box.
    expect(a.byName("maintenance-compressor-install").inputs.connection.host).toBe("203.0.113.10");
  });

  it("has none of it with stateCompressor false", async () => {
    const run = await runProgram({ ...base, stateCompressor: "false" });
    expect(run.resources.filter((r) => r.name.startsWith("maintenance-compressor"))).toEqual([]);
    expect(run.resources.map((r) => r.name)).toContain("maintenance-report");
  });
});

describe("the host tools, run here", () => {
  let dir: string;
  beforeEach(() => { dir = fs.mkdtempSync(path.join(os.tmpdir(), "compressor-")); });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));
  const tool = (name: string) => path.join(hostToolsDir, `${name}.sh`);

  it("the build does nothing when the binary for its recipe exists (a re-apply never rebuilds)", () => {
    const binary = path.join(dir, "bin", "synapse_auto_compressor");
    fs.mkdirSync(path.dirname(binary));
    fs.writeFileSync(binary, "#!/bin/sh\nexit 0\n", { mode: 0o755 });
    fs.writeFileSync(path.join(dir, "conf"), `version=0.1.4\nsdist=${dir}/missing.tar.gz\nstate_map=${dir}/state-map\nbinary=${binary}\n`);
    const r = spawnSync("bash", [tool("synapse-compressor-build")], {
      encoding: "utf8", env: { ...process.env, SYNAPSE_COMPRESSOR_BUILD_CONF: path.join(dir, "conf"), SYNAPSE_COMPRESSOR_WORK: path.join(dir, "work") } });
    expect({ status: r.status, stdout: r.stdout }).toEqual({ status: 0, stdout: `synapse-compressor-build: already built: ${binary}\n` });
    expect(fs.existsSync(path.join(dir, "work"))).toBe(false);
  });

  it("the build fails, and leaves nothing, when the source archive is not what it expects", () => {
    fs.writeFileSync(path.join(dir, "src.tar.gz"), "");
    spawnSync("tar", ["-czf", path.join(dir, "src.tar.gz"), "-C", dir, "--files-from", "/dev/null"]);
    fs.writeFileSync(path.join(dir, "conf"), `version=0.1.4\nsdist=${dir}/src.tar.gz\nstate_map=${dir}/state-map\nbinary=${dir}/bin/x\n`);
    const r = spawnSync("bash", [tool("synapse-compressor-build")], {
      encoding: "utf8", env: { ...process.env, SYNAPSE_COMPRESSOR_BUILD_CONF: path.join(dir, "conf"), SYNAPSE_COMPRESSOR_WORK: path.join(dir, "work") } });
    expect(r.status).toBe(1);
    expect(r.stdout).toContain("ERROR: ");
    expect(r.stdout).toContain("has no synapse_auto_compressor-0.1.4/Cargo.toml");
    expect(fs.existsSync(path.join(dir, "work"))).toBe(false);
    expect(fs.existsSync(path.join(dir, "bin"))).toBe(false);
  });

  it("the timer's run fails loudly while the compressor is not built", () => {
    fs.writeFileSync(path.join(dir, "conf"), `binary=${dir}/none\ndatabase=synapse\ncluster=18/main\nrole=synapse_user\nchunk_size=500\nchunks=100\n`);
    const r = spawnSync("bash", [tool("synapse-compress-state")], {
      encoding: "utf8", env: { ...process.env, SYNAPSE_COMPRESS_STATE_CONF: path.join(dir, "conf") } });
    expect(r.status).toBe(1);
    expect(r.stdout).toContain(`synapse-compress-state: ERROR: the compressor is not built (${dir}/none is missing)`);
    expect(r.stdout).toContain("systemctl start synapse-compressor-build");
  });
});
