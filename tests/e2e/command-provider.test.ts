// The command provider's semantics as the program relies on them, through the real Pulumi CLI
// against a throwaway sshd: the conformance suite of the test stand-in (tests/engine/command-provider),
// written so that it passes against the real @pulumi/command 1.2.1 provider too.
import * as fs from "node:fs";
import * as path from "node:path";
import { PulumiWorkspace, UpdateResult } from "./support/pulumi";
import { suiteNeeding } from "./support/requirements";
import { Sshd, startSshd } from "./support/sshd";
import { outputDir } from "./support/stack";

const suite = suiteNeeding("sshd", "engine");
jest.setTimeout(120_000);

const fixture = path.join(__dirname, "fixtures", "toy");

suite("the command provider through the real engine", () => {
  let sshd: Sshd;
  let ws: PulumiWorkspace;
  let remoteDir: string;

  const events = () => {
    const f = path.join(remoteDir, "events.log");
    return fs.existsSync(f) ? fs.readFileSync(f, "utf8").trim().split("\n") : [];
  };
  const ops = (r: UpdateResult) => Object.fromEntries(r.steps.filter((s) => s.type !== "pulumi:pulumi:Stack" && !s.type.startsWith("pulumi:providers")).map((s) => [s.name, s.op]));
  const warnings = (r: UpdateResult) => r.diagnostics.filter((d) => d.severity === "warning").map((d) => d.message);
  const set = (key: string, value: string) => ws.configSet(key, value);
  const rm = (key: string) => ws.pulumi(["config", "rm", key]);

  beforeAll(async () => {
    sshd = await startSshd();
    const dir = path.join(outputDir, "command-provider");
    ws = await PulumiWorkspace.create(path.join(dir, "toy"), { fixture, logDir: dir });
    remoteDir = path.join(dir, "remote"); // the "VPS" is this machine
    fs.rmSync(remoteDir, { recursive: true, force: true });
    await ws.pulumi(["stack", "init", "conformance"]);
    await set("host", sshd.host);
    await set("port", String(sshd.port));
    await set("user", sshd.user);
    await set("dir", remoteDir);
    await ws.configSet("sshPrivateKey", sshd.privateKey, { secret: true });
  });

  afterAll(async () => {
    await sshd?.stop();
  });

  test("the first update creates everything in dependency order; the password goes through stdin only", async () => {
    const r = await ws.update("up");
    expect(r.code).toBe(0);
    expect(ops(r)).toEqual({ "toy-password": "create", prepare: "create", "secret-file": "create", greet: "create", quiet: "create" });
    expect(events()[0]).toBe("prepare create");
    expect(events().sort()).toEqual(["greet create hello", "prepare create", "quiet hello", "secret create"]);
    expect(events().indexOf("greet create hello")).toBeGreaterThan(events().indexOf("secret create"));
    const out = await ws.outputs();
    expect(out.passwordValue).toMatch(/^[A-Za-z0-9]{24}$/);
    expect(fs.readFileSync(path.join(remoteDir, "secret"), "utf8")).toBe(out.passwordValue);
    // stdout and stderr are trimmed of one trailing newline
    expect(out).toMatchObject({ prepared: "prepared", secretBytes: "24", greeting: "hello hello", quietOut: "quiet hello", quietErr: "to-stderr" });
    expect((await ws.outputs(false)).passwordValue).toBe("[secret]");
    // The engine encrypts secrets in the state: neither the password nor the key is readable there.
    expect(ws.stateText()).not.toContain(out.passwordValue);
    expect(ws.stateText()).not.toContain(sshd.privateKey.split("\n")[1]);
    // Logging: stdout and stderr as info lines, except where turned off.
    const logged = r.diagnostics.map((d) => d.message);
    expect(logged).toContain("prepared");
    expect(logged).toContain("quiet hello");
    expect(logged).not.toContain("to-stderr");
    expect(warnings(r)).toEqual([]);
  });

  test("a second update with the same config runs nothing", async () => {
    const before = events();
    const r = await ws.update("up");
    expect(r.code).toBe(0);
    expect(new Set(Object.values(ops(r)))).toEqual(new Set(["same"]));
    expect(r.summary).toEqual({ same: 6 });
    expect(events()).toEqual(before);
  });

  test("preview plans the update of a changed input and runs nothing", async () => {
    const before = events();
    const stateBefore = ws.stateText();
    await set("greeting", "bonjour");
    const plan = await ws.plan();
    expect(plan.code).toBe(0);
    const changed = plan.steps.filter((s) => s.op !== "same").map((s) => `${s.name}:${s.op}:${[...s.diffs!].sort().join(",")}`).sort();
    expect(changed).toEqual(["greet:update:create,update", "quiet:update:create"]);
    expect(events()).toEqual(before);
    expect(ws.stateText()).toBe(stateBefore);
  });

  test("an update runs `update`, else `create`; the previous output goes to the host as SSH env requests unless turned off", async () => {
    const n = events().length;
    const r = await ws.update("up");
    expect(r.code).toBe(0);
    expect(ops(r)).toMatchObject({ greet: "update", quiet: "update", prepare: "same" });
    expect(events().slice(n).sort()).toEqual(["greet update bonjour", "quiet bonjour"]);
    expect((await ws.outputs()).greeting).toBe("updated bonjour");
    // The stock sshd refuses PULUMI_COMMAND_STDOUT (no AcceptEnv): a warning, and the command still ran.
    const w = warnings(r);
    expect(w).toHaveLength(1);
    expect(w[0]).toMatch(/^Unable to set 'PULUMI_COMMAND_STDOUT'\. This only works if your SSH server is configured to accept\s+these variables via AcceptEnv/);
    expect(r.diagnostics.find((d) => d.severity === "warning")!.urn).toMatch(/::greet$/);
  });

  test("a change of triggers replaces: the new one is created, then the old one deleted", async () => {
    const n = events().length;
    await set("generation", "2");
    const r = await ws.update("up");
    expect(r.code).toBe(0);
    expect(r.steps.filter((s) => s.name === "greet").map((s) => s.op)).toEqual(["create-replacement", "replace", "delete-replaced"]);
    expect(events().slice(n)).toEqual(["greet create bonjour", "greet delete"]);
    expect((await ws.outputs()).greeting).toBe("hello bonjour");
  });

  test("environment variables a stock sshd refuses fail the command", async () => {
    await set("withEnvironment", "true");
    const r = await ws.update("up");
    expect(r.code).not.toBe(0);
    expect(r.stdout + r.stderr).toContain(`could not set environment variable "TOY"`);
    expect(r.diagnostics.map((d) => d.message).join("\n")).toMatch(/Unable to set 'TOY'/);
    expect(events()).not.toContain("with-environment create");
    await rm("withEnvironment");
  });

  test("a failing command fails the update with its exit status, command and output; nothing after it starts", async () => {
    const n = events().length;
    await set("fail", "true");
    const r = await ws.update("up");
    expect(r.code).not.toBe(0);
    const text = r.stdout + r.stderr;
    expect(text).toContain("Process exited with status 3: running ");
    expect(text).toContain("about to fail");
    expect(text).toContain("oops");
    expect(events().slice(n)).toEqual(["failing create"]);
    expect(r.steps.some((s) => s.name === "after-failing")).toBe(false);
    await rm("fail");
  });

  test("dialling an unreachable host gives up after dialErrorLimit attempts", async () => {
    await set("unreachablePort", "1");
    const r = await ws.update("up");
    expect(r.code).not.toBe(0);
    expect(r.stdout + r.stderr).toMatch(/after \d+ failed attempts: dial tcp 127\.0\.0\.1:1: connect: connection refused/);
    await rm("unreachablePort");
  });

  test("a resource no longer in the program is deleted; destroy runs every delete", async () => {
    await set("withGreet", "false");
    let n = events().length;
    const r = await ws.update("up");
    expect(r.code).toBe(0);
    expect(ops(r)).toMatchObject({ greet: "delete", prepare: "same" });
    expect(events().slice(n)).toEqual(["greet delete"]);
    n = events().length;
    const d = await ws.update("destroy");
    expect(d.code).toBe(0);
    expect(events().slice(n)).toEqual(["secret delete", "prepare delete"]);
    expect(fs.existsSync(path.join(remoteDir, "secret"))).toBe(false);
  });
});
