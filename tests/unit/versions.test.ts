// What the stack pins and how a change of it goes: the rules the hosts apply before anything changes
// (lib.sh, run here by bash with real python3 and zip files), and how the program holds the
// versions and wires the gate, under Pulumi's mocks.
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { hostLayoutHeader, scriptsDir, shellQuote } from "../../render/script";
import { runProgram } from "../support/mockProgram";

const lib = `${hostLayoutHeader()}\n${fs.readFileSync(path.join(scriptsDir, "lib.sh"), "utf8")}`;
function bash(body: string, env: Record<string, string> = {}): { status: number | null; stdout: string; stderr: string } {
  return spawnSync("bash", ["-c", `${lib}\n${body}`], { encoding: "utf8", env: { ...process.env, ...env } });
}
const out = (body: string, env?: Record<string, string>) => bash(body, env).stdout.trim();

describe("Synapse's releases in package versions", () => {
  it.each([
    ["1.160.0-1", "1.160.0"], // Debian
    ["1.98.0+bookworm1", "1.98.0"], // matrix.org
    ["1:1.161.0~rc1-2", "1.161.0rc1"], // an epoch, Debian's release candidate
  ])("%s is %s", (pkg, upstream) => {
    expect(out(`upstream_version ${shellQuote(pkg)}`)).toBe(upstream);
  });

  it("keeps final releases only, in version order, to find the newest", () => {
    expect(out(`printf '%s\\n' 1.9.0 1.163.2 1.100.0rc1 1.163.2 1.10.1 1.9.0.dev2 1.99.0 | final_releases`).split("\n"))
      .toEqual(["1.9.0", "1.10.1", "1.99.0", "1.163.2"]);
  });
});

describe("what a Synapse release's own code says (synapse_artifact_facts)", () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "release-"));
  // The shape of Synapse's files: a comment that names a number before the constant, as 1.100's does.
  const schema = '"""Schemas"""\n# MSC2716: see SCHEMA_VERSION 2716\nSCHEMA_VERSION = 94  # remember to update\nSCHEMA_COMPAT_VERSION = (\n    # no longer written\n    84\n)\n';
  const engine = "class E:\n    def check(self):\n        if not allow and self._version < 140000:\n            raise RuntimeError('Synapse requires PostgreSQL 14 or above.')\n";
  function wheel(name: string, requiresPython: string): string {
    const file = path.join(dir, name);
    const r = spawnSync("python3", ["-c", `
import sys, zipfile
with zipfile.ZipFile(sys.argv[1], "w") as z:
    z.writestr("synapse/storage/schema/__init__.py", sys.argv[2])
    z.writestr("synapse/storage/engines/postgres.py", sys.argv[3])
    z.writestr("matrix_synapse-1.163.2.dist-info/METADATA", "Metadata-Version: 2.4\\nName: matrix-synapse\\nRequires-Python: " + sys.argv[4] + "\\n")
`, file, schema, engine, requiresPython], { encoding: "utf8" });
    expect(r.stderr).toBe("");
    return file;
  }
  const here = spawnSync("python3", ["-c", "import platform; print(platform.python_version())"], { encoding: "utf8" }).stdout.trim();

  it("reads a wheel: the schema it knows, the compat version it writes, the oldest PostgreSQL, and whether this Python will do", () => {
    expect(out(`synapse_artifact_facts ${wheel("ok.whl", ">=3.10.0, <4.0.0")}`)).toBe("94 84 14 yes");
    expect(out(`synapse_artifact_facts ${wheel("future.whl", ">=3.99")}`)).toBe("94 84 14 >=3.99");
    expect(out(`synapse_artifact_facts ${wheel("past.whl", `<${here.split(".").slice(0, 2).join(".")}`)}`)).toBe(`94 84 14 <${here.split(".").slice(0, 2).join(".")}`);
  });

  it("reads an unpacked .deb (Debian's layout), leaving its Python to apt", () => {
    const deb = path.join(dir, "deb/usr/lib/python3/dist-packages/synapse/storage");
    fs.mkdirSync(path.join(deb, "schema"), { recursive: true });
    fs.mkdirSync(path.join(deb, "engines"), { recursive: true });
    fs.writeFileSync(path.join(deb, "schema/__init__.py"), schema.replace("94", "83"));
    fs.writeFileSync(path.join(deb, "engines/postgres.py"), engine.replace("140000", "110000"));
    expect(out(`synapse_artifact_facts ${path.join(dir, "deb")}`)).toBe("83 84 11 yes");
  });

  it("fails, rather than guess, on something that is not a Synapse release", () => {
    const r = bash(`synapse_artifact_facts ${fs.mkdtempSync(path.join(os.tmpdir(), "empty-"))}`);
    expect(r.status).not.toBe(0);
  });
});

describe("the refusals of a Synapse version change (synapse_version_refusals)", () => {
  // Arguments: target, its SCHEMA_VERSION, oldest PostgreSQL, python; the database's schema, compat, PostgreSQL.
  const refusals = (...a: (string | number)[]) => out(`synapse_version_refusals ${a.map((x) => shellQuote(String(x))).join(" ")}`);

  it("refuses a downgrade below the database's compat version, naming the versions", () => {
    expect(refusals("1.98.0", 83, 11, "yes", 94, 84, 18)).toBe("Synapse 1.98.0 understands database schemas up to 83, and this database is at schema 94, " +
      "which Synapse releases below schema 84 cannot use (its schema_compat_version): Synapse 1.98.0 would refuse to start on it");
  });
  it("lets a downgrade through that the database still suits (schema 94, compat 84, a release knowing 93)", () => {
    expect(refusals("1.150.0", 93, 14, "yes", 94, 84, 18)).toBe("");
  });
  it("lets an upgrade through, and a first install (no database yet)", () => {
    expect(refusals("1.163.2", 94, 14, "yes", 93, 84, 18)).toBe("");
    expect(refusals("1.163.2", 94, 14, "yes", "", "", "")).toBe("");
  });
  it("refuses a release that needs a newer PostgreSQL or another Python, each on its own line", () => {
    const lines = refusals("1.163.2", 94, 14, ">=3.99", 93, 84, 13).split("\n");
    expect(lines).toHaveLength(2);
    expect(lines[0]).toBe("Synapse 1.163.2 needs PostgreSQL 14 or later, and the database runs PostgreSQL 13 (upgrade it first: postgresVersion)");
    expect(lines[1]).toMatch(/^Synapse 1\.163\.2 needs Python >=3\.99, and this host has Python \d+\.\d+/);
  });
  it("does not refuse what it cannot tell (a release whose oldest PostgreSQL it could not read: 0)", () => {
    expect(refusals("1.163.2", 94, 0, "yes", 93, 84, 9)).toBe("");
  });
});

describe("the refusal of a PostgreSQL major change (postgres_major_refusal)", () => {
  const MiB = 1048576;
  it("refuses an older major", () => {
    expect(out(`postgres_major_refusal 18 17 ${100 * MiB} ${MiB}`)).toMatch(/^PostgreSQL cannot move a database to an older major version \(18 to 17\)/);
  });
  it("refuses when the disk cannot hold both clusters, with what is needed and free", () => {
    expect(out(`postgres_major_refusal 17 18 ${500 * MiB} ${1200 * MiB}`))
      .toBe("the disk cannot hold both clusters: the move to PostgreSQL 18 needs 1200 MiB (the 17 cluster and the WAL of the restore), and 500 MiB are free");
  });
  it("lets a move to a newer major through when both fit", () => {
    expect(out(`postgres_major_refusal 17 18 ${1200 * MiB} ${1200 * MiB}`)).toBe("");
  });
});

describe("a PyPI install's virtualenvs (synapse_venv_switch)", () => {
  it("points the matrix.org path at the new release in one rename, keeps the one before (the way back), deletes older ones", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "venvs-"));
    const venv = path.join(dir, "matrix-synapse");
    for (const v of ["1.140.0", "1.150.0", "1.155.0"]) fs.mkdirSync(`${venv}-${v}/bin`, { recursive: true });
    const env = { SYNAPSE_DEPLOY_VENV: venv };
    expect(bash("synapse_venv_switch 1.150.0", env).status).toBe(0);
    // Nothing ran 1.140.0, and 1.155.0 was built for a change given up: both go.
    expect(fs.readdirSync(dir).sort()).toEqual(["matrix-synapse", "matrix-synapse-1.150.0"]);
    // The gate builds the next one while the live one serves; the install step switches.
    fs.mkdirSync(`${venv}-1.163.2/bin`, { recursive: true });
    expect(bash("synapse_venv_switch 1.163.2 && installed_synapse_version pypi && synapse_installed_source", env).stdout).toBe("1.163.2\npypi\n");
    expect(fs.readlinkSync(venv)).toBe("matrix-synapse-1.163.2");
    expect(fs.readdirSync(dir).sort()).toEqual(["matrix-synapse", "matrix-synapse-1.150.0", "matrix-synapse-1.163.2"]);
    // matrix.org's package keeps a real directory there: never replaced by a PyPI install.
    const org = fs.mkdtempSync(path.join(os.tmpdir(), "venvs-"));
    fs.mkdirSync(path.join(org, "matrix-synapse"));
    fs.mkdirSync(path.join(org, "matrix-synapse-1.163.2"));
    const r = bash("synapse_venv_switch 1.163.2", { SYNAPSE_DEPLOY_VENV: path.join(org, "matrix-synapse") });
    expect(r.status).not.toBe(0);
    expect(r.stderr).toContain("is a directory (matrix.org's package?)");
  });
});

describe("the program holds the versions and gates their changes", () => {
  const stack = { serverName: "example.org", host: "203.0.113.10", tlsMode: "self-signed", packageSource: "pypi", adminUser: "admin", workerSynchrotrons: "1" };
  const answers = { "upgrades-synapse-version-pypi": "1.160.0\n", "upgrades-postgres-version": "18/main\n", "upgrades-synapse-lock": "matrix-synapse==1.160.0 --hash=sha256:ab\n" };
  const param = (create: string, key: string) => new RegExp(`\\n${key}=([^\\n]*)\\n`).exec(create)?.[1];

  it("resolves each version once, in a step named after its config value that never runs again", async () => {
    const run = await runProgram(stack, undefined, answers);
    for (const name of ["upgrades-synapse-version-pypi", "upgrades-postgres-version", "upgrades-synapse-lock"]) {
      expect({ name, ignored: run.byName(name).ignoreChanges.sort() }).toEqual({ name, ignored: ["connection", "create"] });
    }
    expect(run.outputs).toMatchObject({ synapseVersion: "1.160.0", postgresVersion: "18" });
    // Set, the value is the step's name: a change makes a new step (it checks the change), the old one goes.
    const pinned = await runProgram({ ...stack, synapseVersion: "1.163.2", postgresVersion: "18" }, undefined,
      { "upgrades-postgres-version-18": "18/main\n", "upgrades-synapse-lock-1.163.2": "matrix-synapse==1.163.2 --hash=sha256:cd\n" });
    expect(pinned.resources.filter((r) => r.name.startsWith("upgrades-") && r.custom).map((r) => r.name).sort())
      .toEqual(["upgrades-gate", "upgrades-postgres-version-18", "upgrades-synapse-lock-1.163.2", "upgrades-synapse-version-pypi-1.163.2"]);
    expect(param(pinned.byName("upgrades-synapse-version-pypi-1.163.2").inputs.create, "WANTED")).toBe("1.163.2");
    // A set version is known at preview: the install step's diff shows it, whatever the host says.
    expect(param(pinned.byName("synapse-packages").inputs.create, "VERSION")).toBe("1.163.2");
    expect(pinned.outputs.synapseVersion).toBe("1.163.2");
  });

  it("installs what it holds: the packages' versions, the lock, the cluster in every PostgreSQL step", async () => {
    const run = await runProgram({ ...stack, reclaimSpace: "true", stateCompressor: "true" }, undefined, answers);
    const create = (name: string) => run.byName(name).inputs.create as string;
    expect(param(create("host-packages-synapse"), "SYNAPSE_VERSION")).toBe("1.160.0");
    expect(param(create("host-packages-synapse"), "PG_MAJOR")).toBe("18");
    expect(param(create("host-packages-synapse"), "PACKAGES")).toContain("python3-venv");
    expect(param(create("synapse-packages"), "VERSION")).toBe("1.160.0");
    expect(run.byName("synapse-packages").inputs.stdin).toBe(answers["upgrades-synapse-lock"]);
    expect(run.byName("synapse-staged-unit").inputs.stdin).toContain("ExecStart=/opt/venvs/matrix-synapse/bin/python -m synapse.app.homeserver");
    for (const step of ["postgres-cluster", "postgres-tuning", "postgres-database", "postgres-autovacuum", "postgres-teardown", "maintenance-reclaim-install"]) {
      const text = create(step) ?? run.byName(step).inputs.delete;
      expect({ step, cluster: param(text, "PG_CLUSTER") }).toEqual({ step, cluster: "18/main" });
    }
    for (const conf of ["maintenance-reclaim-timer-conf", "maintenance-compressor-timer-conf"]) {
      expect({ conf, cluster: /\ncluster=(.*)\n/.exec(run.byName(conf).inputs.stdin)?.[1] }).toEqual({ conf, cluster: "18/main" });
    }
    expect(run.resources.find((r) => r.name === "postgres-drop-old-cluster")).toBeUndefined();
    const dropping = await runProgram({ ...stack, postgresDropOldCluster: "17" }, undefined, answers);
    expect(param(dropping.byName("postgres-drop-old-cluster").inputs.create, "DROP")).toBe("17");
  });

  it("gates a change: the move and the install wait for the gate, whose answer starts Synapse and its workers again", async () => {
    const run = await runProgram(stack, undefined, { ...answers, "upgrades-gate": "stopped for Synapse 1.150.0 → 1.160.0 at 2026-12-05T10:00:00Z\n" });
    const deps = (name: string) => run.byName(name).dependencies.map((u) => u.split("::").pop());
    expect(deps("upgrades-gate")).toContain("host-packages-synapse");
    expect(run.byName("upgrades-gate").inputs.stdin).toBe(answers["upgrades-synapse-lock"]);
    expect(deps("postgres-cluster")).toContain("upgrades-gate");
    expect(deps("synapse-packages")).toContain("upgrades-gate");
    expect(param(run.byName("synapse-activate").inputs.create, "GATE")).toBe("'stopped for Synapse 1.150.0 → 1.160.0 at 2026-12-05T10:00:00Z'");
    expect(param(run.byName("synapse-activate").inputs.create, "SYNAPSE_VERSION")).toBe("1.160.0");
    // The workers step follows every activation: its digest moves with the gate's answer.
    const quiet = await runProgram(stack, undefined, { ...answers, "upgrades-gate": "no version change\n" });
    expect(param(quiet.byName("synapse-workers").inputs.create, "ACTIVATION")).not.toBe(param(run.byName("synapse-workers").inputs.create, "ACTIVATION"));
  });

  it("stops the workers on worker hosts at the gate too, after the Synapse VPS's backup", async () => {
    const run = await runProgram({ ...stack, host: "10.0.0.2", databaseHost: "10.0.0.3", tier: "large", workerHosts: '["10.0.0.4"]' }, undefined, answers);
    const gate = run.byName("upgrades-gate-worker-host-1");
    expect(gate.inputs.connection.host).toBe("10.0.0.4");
    expect(param(gate.inputs.create, "MAIN")).toBe("false");
    expect(gate.dependencies.map((u) => u.split("::").pop())).toContain("upgrades-gate");
    expect(run.byName("postgres-cluster").dependencies.map((u) => u.split("::").pop())).toContain("upgrades-gate-worker-host-1");
    expect(run.byName("worker-host-1-packages").dependencies.map((u) => u.split("::").pop())).toContain("upgrades-gate-worker-host-1");
    expect(run.byName("upgrades-postgres-version").inputs.connection.host).toBe("10.0.0.3");
  });
});
