// Every remote script as it is shipped (parameters + lib.sh + script) passes bash -n and
// shellcheck; the shared guard refuses a second server name on a host with data.
import { execFileSync, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { hostLayoutHeader, remoteCommand, renderScript, scriptsDir, shellQuote } from "../../render/script";
import { requireTools } from "../support/tools";

const scripts = fs.readdirSync(scriptsDir).filter((f) => f.endsWith(".sh")).map((f) => f.replace(/\.sh$/, ""));
requireTools("shellcheck", "openssl");

/** Placeholder values for each script's required parameters (the `: "${X:?}"` line). */
function paramsOf(name: string): Record<string, string> {
  const text = fs.readFileSync(path.join(scriptsDir, `${name}.sh`), "utf8");
  const names = [...text.matchAll(/\$\{([A-Z][A-Z0-9_]*):\?\}/g)].map((m) => m[1]);
  return Object.fromEntries(names.map((n) => [n, `value of ${n}`]));
}

describe.each(scripts.filter((s) => s !== "lib"))("%s.sh", (name) => {
  const text = renderScript(name, paramsOf(name));

  it("is a strict bash script", () => {
    expect(text).toContain("set -euo pipefail");
    expect(spawnSync("bash", ["-n"], { input: text }).status).toBe(0);
  });

  it("passes shellcheck as rendered", () => {
    const r = spawnSync("shellcheck", ["-s", "bash", "-"], { input: text, encoding: "utf8" });
    expect(r.stdout + r.stderr).toBe("");
    expect(r.status).toBe(0);
  });

  it("runs through bash -c with stdin left free", () => {
    const cmd = remoteCommand(name, paramsOf(name), "root");
    expect(cmd.startsWith(`bash -c "$(cat <<'SYNAPSE_DEPLOY_SCRIPT'\n`)).toBe(true);
    expect(spawnSync("bash", ["-n", "-c", cmd]).status).toBe(0);
  });
});

it("the source files themselves, the tools installed on hosts, and the test tooling's scripts, pass shellcheck", () => {
  const root = path.join(scriptsDir, "..");
  const tooling = ["tests/sandbox/sandbox.sh", "tests/engine/build.sh", "tests/engine/go-env.sh",
    "tests/engine/random/build.sh", "tests/engine/command-provider/build.sh", ".ci/run"];
  const hostTools = fs.readdirSync(path.join(root, "host-tools")).filter((f) => f.endsWith(".sh")).map((f) => path.join("host-tools", f));
  expect(hostTools.length).toBeGreaterThan(0);
  const files = [...scripts.map((s) => path.join("scripts", `${s}.sh`)), ...hostTools, ...tooling];
  // -x from the root: the engine's build scripts source go-env.sh.
  const r = spawnSync("shellcheck", ["-x", ...files], { encoding: "utf8", cwd: root });
  expect(r.stdout + r.stderr).toBe("");
  expect(r.status).toBe(0);
});

it("uses sudo for a non-root user", () => {
  expect(remoteCommand("stage-file", { DEST: "/x", MODE: "0644", OWNER: "root:root" }, "deploy")).toMatch(/^sudo -n bash -c /);
});

it("quotes parameters so that no value can break out", () => {
  const hostile = `a'b"c $(touch /tmp/pwned) \`x\``;
  const out = execFileSync("bash", ["-c", `X=${shellQuote(hostile)}; printf %s "$X"`]).toString();
  expect(out).toBe(hostile);
  expect(() => renderScript("stage-file", { lower: "x" })).toThrow(/upper-case/);
});

it("hands stdin to the script through the remote command", () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "stage-"));
  const cmd = remoteCommand("stage-file", { DEST: `${dir}/out.txt`, MODE: "0640", OWNER: `${os.userInfo().username}:${os.userInfo().username === "root" ? "root" : os.userInfo().username}` }, "root")
    .replace(/^bash -c/, "SYNAPSE_DEPLOY_STATE_DIR=" + dir + " bash -c");
  const r = spawnSync("sh", ["-c", cmd], { input: "hello\n", encoding: "utf8" });
  expect(r.stderr).toContain("staged");
  expect(fs.readFileSync(`${dir}/out.txt`, "utf8")).toBe("hello\n");
  expect((fs.statSync(`${dir}/out.txt`).mode & 0o777).toString(8)).toBe("640");
  const again = spawnSync("sh", ["-c", cmd], { input: "hello\n", encoding: "utf8" });
  expect(again.stderr).toContain("unchanged");
});

describe("server name guard", () => {
  function guard(setup: (etc: string, data: string, state: string) => void, want: string) {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), "guard-"));
    const [etc, data, state] = ["etc", "data", "state"].map((d) => path.join(root, d));
    for (const d of [etc, `${etc}/conf.d`, data, state]) fs.mkdirSync(d, { recursive: true });
    setup(etc, data, state);
    // lib.sh as every script has it: after where things are on the host.
    const script = `${hostLayoutHeader()}\n${fs.readFileSync(path.join(scriptsDir, "lib.sh"), "utf8")}\nguard_server_name ${shellQuote(want)}\necho passed`;
    return spawnSync("bash", ["-c", script], {
      encoding: "utf8",
      env: { ...process.env, SYNAPSE_DEPLOY_ETC_DIR: etc, SYNAPSE_DEPLOY_DATA_DIR: data, SYNAPSE_DEPLOY_STATE_DIR: state },
    });
  }

  it("lets a new host through", () => {
    expect(guard(() => undefined, "example.org").stdout).toContain("passed");
  });
  it("lets the same name through", () => {
    const r = guard((etc) => {
      fs.writeFileSync(`${etc}/conf.d/server_name.yaml`, "server_name: example.org\n");
      fs.writeFileSync(`${etc}/homeserver.signing.key`, "ed25519 a_abc xyz\n");
    }, "example.org");
    expect(r.status).toBe(0);
  });
  it("refuses another name on a host with a signing key, and explains why", () => {
    const r = guard((etc) => {
      fs.writeFileSync(`${etc}/conf.d/server_name.yaml`, "server_name: old.example\n");
      fs.writeFileSync(`${etc}/homeserver.signing.key`, "ed25519 a_abc xyz\n");
    }, "example.org");
    expect(r.status).not.toBe(0);
    expect(r.stderr).toContain("already serves the Matrix server name 'old.example'");
    expect(r.stderr).toContain("permanent");
  });
  it("refuses another name recorded by an earlier deployment", () => {
    const r = guard((_etc, _data, state) => fs.writeFileSync(`${state}/server-name`, "old.example\n"), "example.org");
    expect(r.status).not.toBe(0);
  });
  it("ignores a debconf answer on a host without data (package installed, never run)", () => {
    const r = guard((etc) => fs.writeFileSync(`${etc}/conf.d/server_name.yaml`, "server_name: 'localhost'\n"), "example.org");
    expect(r.status).toBe(0);
  });
});

describe("applied-state record", () => {
  // An apply cut off after the files went live but before the restart must restart next time.
  const lib = `${hostLayoutHeader()}\n${fs.readFileSync(path.join(scriptsDir, "lib.sh"), "utf8")}`;
  const run = (state: string, body: string) =>
    spawnSync("bash", ["-c", `${lib}\n${body}`], { encoding: "utf8", env: { ...process.env, SYNAPSE_DEPLOY_STATE_DIR: state } });

  it("says 'differs' until the files are marked applied, and again after they change", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "applied-"));
    fs.writeFileSync(`${dir}/a.yaml`, "one\n");
    const differs = () => run(dir, `applied_differs svc ${dir}/a.yaml && echo yes || echo no`).stdout.trim();
    expect(differs()).toBe("yes");
    expect(run(dir, `mark_applied svc ${dir}/a.yaml`).status).toBe(0);
    expect(differs()).toBe("no");
    fs.writeFileSync(`${dir}/a.yaml`, "two\n");
    expect(differs()).toBe("yes");
  });
});

describe("pg_hba_admit_socket", () => {
  // lib.sh against a scratch pg_hba.conf, with a stand-in for `runuser -u postgres -- psql` that
  // answers the three statements the function sends (the file, its errors, the reload).
  const debianHba = [
    "# Database administrative login by Unix domain socket",
    "local   all             postgres                                peer",
    "# TYPE  DATABASE        USER            ADDRESS                 METHOD",
    "local   all             all                                     peer",
    "host    all             all             127.0.0.1/32            scram-sha-256",
    "",
  ].join("\n");
  function admit(dir: string, hbaError = "") {
    fs.writeFileSync(`${dir}/runuser`, `#!/bin/sh
case "$*" in
  *"SHOW hba_file"*) echo ${shellQuote(`${dir}/pg_hba.conf`)} ;;
  *pg_hba_file_rules*) printf '%s' "$HBA_ERROR" ;;
  *pg_reload_conf*) echo reload >>${shellQuote(`${dir}/reloads`)} ;;
  *) exit 9 ;;
esac
`, { mode: 0o755 });
    const lib = `${hostLayoutHeader()}\n${fs.readFileSync(path.join(scriptsDir, "lib.sh"), "utf8")}`;
    return spawnSync("bash", ["-c", `${lib}\npg_hba_admit_socket synapse synapse_user`], {
      encoding: "utf8", env: { ...process.env, PATH: `${dir}:${process.env.PATH}`, HBA_ERROR: hbaError },
    });
  }
  const reloads = (dir: string) => fs.existsSync(`${dir}/reloads`) ? fs.readFileSync(`${dir}/reloads`, "utf8").split("\n").filter(Boolean).length : 0;

  it("puts Synapse's password line before Debian's peer lines, once, and reloads once", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "hba-"));
    fs.writeFileSync(`${dir}/pg_hba.conf`, debianHba);
    expect(admit(dir).status).toBe(0);
    const lines = fs.readFileSync(`${dir}/pg_hba.conf`, "utf8").split("\n");
    expect(lines.filter((l) => !l.startsWith("#") && l !== "")).toEqual([
      "local synapse synapse_user scram-sha-256",
      "local   all             postgres                                peer",
      "local   all             all                                     peer",
      "host    all             all             127.0.0.1/32            scram-sha-256",
    ]);
    expect(reloads(dir)).toBe(1);
    const once = fs.readFileSync(`${dir}/pg_hba.conf`, "utf8");
    expect(admit(dir).status).toBe(0);
    expect(fs.readFileSync(`${dir}/pg_hba.conf`, "utf8")).toBe(once);
    expect(reloads(dir)).toBe(1);
  });

  it("puts the old file back and stops when PostgreSQL refuses the new one", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "hba-"));
    fs.writeFileSync(`${dir}/pg_hba.conf`, debianHba);
    const r = admit(dir, "2: invalid authentication method");
    expect(r.status).not.toBe(0);
    expect(r.stderr).toContain("PostgreSQL refuses pg_hba.conf with Synapse's socket line (the old file is back): 2: invalid authentication method");
    expect(fs.readFileSync(`${dir}/pg_hba.conf`, "utf8")).toBe(debianHba);
    expect(reloads(dir)).toBe(0);
  });
});

describe("tls-certificate.sh", () => {
  // Real openssl against a scratch TLS directory.
  const runTls = (dir: string, mode: string, stdin = "") => spawnSync("sh", ["-c",
    remoteCommand("tls-certificate", { SITE: "matrix", MODE: mode, NAMES: "matrix.example.org example.org" }, "root")
      .replace(/^bash -c/, `SYNAPSE_DEPLOY_TLS_DIR=${dir} bash -c`)], { input: stdin, encoding: "utf8" });
  const keyAndCert = (dir: string) => {
    spawnSync("openssl", ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=x", "-days", "2",
      "-keyout", `${dir}/k.pem`, "-out", `${dir}/c.pem`], { encoding: "utf8" });
    return { key: fs.readFileSync(`${dir}/k.pem`, "utf8"), cert: fs.readFileSync(`${dir}/c.pem`, "utf8") };
  };

  it("makes a self-signed certificate once and keeps it", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "tls-"));
    expect(runTls(dir, "self-signed").status).toBe(0);
    const first = fs.readFileSync(`${dir}/matrix/fullchain.pem`, "utf8");
    const text = execFileSync("openssl", ["x509", "-noout", "-text", "-in", `${dir}/matrix/fullchain.pem`]).toString();
    expect(text).toContain("DNS:matrix.example.org, DNS:example.org");
    expect((fs.statSync(`${dir}/matrix/privkey.pem`).mode & 0o777).toString(8)).toBe("600");
    expect(runTls(dir, "self-signed").stdout).toContain("kept existing certificate");
    expect(fs.readFileSync(`${dir}/matrix/fullchain.pem`, "utf8")).toBe(first);
  });

  it("installs a provided pair, and refuses a key that does not match", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "tls-"));
    const a = keyAndCert(fs.mkdtempSync(path.join(os.tmpdir(), "pair-")));
    const b = keyAndCert(fs.mkdtempSync(path.join(os.tmpdir(), "pair-")));
    const ok = runTls(dir, "provided", `${a.key}\n${a.cert}\n`);
    expect(ok.status).toBe(0);
    expect(fs.readFileSync(`${dir}/matrix/fullchain.pem`, "utf8").trim()).toBe(a.cert.trim());
    expect((fs.statSync(`${dir}/matrix/privkey.pem`).mode & 0o777).toString(8)).toBe("600");
    const bad = runTls(dir, "provided", `${b.key}\n${a.cert}\n`);
    expect(bad.status).not.toBe(0);
    expect(bad.stderr).toContain("does not match");
    expect(fs.readFileSync(`${dir}/matrix/fullchain.pem`, "utf8").trim()).toBe(a.cert.trim());
  });
});

describe("where things are on a host", () => {
  // Written once (config/hostLayout.json), rendered into the scripts' and the tools' headers: no
  // script or tool spells one of these in its code (comments may name them).
  const layout = require("../../config/hostLayout.json");
  const spelled = [`${layout.synapseListen.host}:${layout.synapseListen.port}`, layout.synapseConfigDir, layout.synapseDataDir,
    layout.deployStateDir, layout.deployConfigDir, layout.workerUnitTemplate.split("@")[0] + "@", layout.backupRunName.pattern];
  const root = path.join(scriptsDir, "..");
  // The compressor's build tool is part of its recipe: a change to its text rebuilds the compressor on every host.
  const exempt = new Set(["host-tools/synapse-compressor-build.sh"]);
  const files = ["scripts", "host-tools"].flatMap((d) => fs.readdirSync(path.join(root, d)).filter((f) => f.endsWith(".sh")).map((f) => `${d}/${f}`))
    .filter((f) => !exempt.has(f));
  const spellings = (text: string) => text.split("\n").flatMap((line, i) => {
    const code = line.replace(/(^|\s)#.*$/, "");
    return spelled.filter((value) => code.includes(value)).map((value) => `${i + 1}: ${value}`);
  });

  it.each(files)("%s takes them from its rendered header or parameters", (file) => {
    expect(spellings(fs.readFileSync(path.join(root, file), "utf8"))).toEqual([]);
  });

  it("finds one spelled out (the check can fail)", () => {
    expect(spellings('live=/etc/matrix-synapse # /var/lib/matrix-synapse\nunit="matrix-synapse-worker@$n.service"\n'))
      .toEqual(["1: /etc/matrix-synapse", "2: matrix-synapse-worker@"]);
  });
});
