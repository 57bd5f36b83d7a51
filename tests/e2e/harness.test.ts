// The apply harness against a real (throwaway) sshd on 127.0.0.1 with the toy program, plus a
// measurement of the mock runtime's ordering that the harness relies on.
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { applyProgram, ApplyResult, readState, writeConfig } from "./harness/apply";
import { Sshd, sshdUnavailable, startSshd } from "./harness/sshd";

jest.setTimeout(60_000);

const TOY = path.join(__dirname, "harness", "fixtures", "toy.ts");
const PASSWORD_KEY = "urn:pulumi:dev::synapse::random:index/randomPassword:RandomPassword::toy-password";

const why = sshdUnavailable();
if (why) {
  // eslint-disable-next-line no-console
  console.warn(`SKIPPING the apply-harness e2e tests: cannot start a throwaway sshd: ${why}`);
}
const describeSsh = why ? describe.skip : describe;

describeSsh(`apply harness against a throwaway sshd${why ? ` (skipped: ${why})` : ""}`, () => {
  let sshd: Sshd;
  let work: string;
  let remoteDir: string;
  const configFile = () => path.join(work, "config.json");
  const stateFile = () => path.join(work, "state.json");
  let config: Record<string, unknown>;

  const events = () => {
    const f = path.join(remoteDir, "events.log");
    return fs.existsSync(f) ? fs.readFileSync(f, "utf8").trim().split("\n") : [];
  };
  const ops = (r: ApplyResult) => Object.fromEntries(r.resources.map((x) => [x.name, x.op]));
  const byName = (r: ApplyResult, name: string) => r.resources.find((x) => x.name === name)!;
  const apply = async (changes: Record<string, unknown> = {}, preview = false) => {
    config = { ...config, ...changes };
    for (const [k, v] of Object.entries(config)) if (v === undefined) delete config[k];
    writeConfig(configFile(), { config, secrets: ["synapse:sshPrivateKey"], stack: "dev" });
    return applyProgram({ program: TOY, configFile: configFile(), stateFile: stateFile(), preview });
  };
  const password = () => readState(stateFile())!.resources[PASSWORD_KEY].outputs.result as string;

  beforeAll(async () => {
    sshd = await startSshd();
    work = fs.mkdtempSync(path.join(os.tmpdir(), "harness-test-"));
    remoteDir = path.join(work, "remote"); // the "VPS" is this machine
    config = {
      "synapse:host": sshd.host,
      "synapse:port": sshd.port,
      "synapse:user": sshd.user,
      "synapse:sshPrivateKey": sshd.privateKey,
      "synapse:dir": remoteDir,
    };
  });

  afterAll(async () => {
    await sshd?.stop();
    if (work) fs.rmSync(work, { recursive: true, force: true });
  });

  test("first apply creates everything in dependency order; the password goes through stdin only", async () => {
    const r = await apply();
    expect(r.error).toBeUndefined();
    expect(r.ok).toBe(true);
    expect(r.exitCode).toBe(0);
    expect(ops(r)).toEqual({ "toy-password": "create", prepare: "create", "secret-file": "create", motd: "create", greet: "create" });
    expect(events()).toEqual(["prepare create", "secret create", "greet create hello"]);
    expect(fs.readFileSync(path.join(remoteDir, "etc", "motd.txt"), "utf8")).toBe("welcome\n");
    // dependents started only after what they depend on had finished (prepare sleeps 0.3s)
    expect(byName(r, "secret-file").startedAt!).toBeGreaterThanOrEqual(byName(r, "prepare").finishedAt!);
    expect(byName(r, "greet").startedAt!).toBeGreaterThanOrEqual(byName(r, "secret-file").finishedAt!);

    const pw = password();
    expect(pw).toMatch(/^[A-Za-z0-9]{24}$/);
    expect(fs.readFileSync(path.join(remoteDir, "secret"), "utf8")).toBe(pw);
    expect(r.outputs).toEqual({
      prepared: "prepared",
      secretBytes: "24",
      greeting: "hello hello",
      passwordValue: "[secret]",
      remoteDir,
      motdPath: path.join(remoteDir, "etc", "motd.txt"),
    });
    expect(readState(stateFile())!.outputs!.passwordValue).toBe(pw);
    // secrets never reach the report nor the log
    const shown = JSON.stringify(r) + r.log;
    expect(shown).not.toContain(pw);
    expect(shown).not.toContain(sshd.privateKey.split("\n")[1]);
    expect(r.warnings).toEqual([]);
  });

  test("second apply with the same config: every resource unchanged and nothing ran", async () => {
    const pw = password();
    const before = events();
    const r = await apply();
    expect(r.ok).toBe(true);
    expect(new Set(Object.values(ops(r)))).toEqual(new Set(["unchanged"]));
    expect(r.resources.every((x) => x.seconds === 0 && x.startedAt === undefined)).toBe(true);
    expect(events()).toEqual(before);
    expect(password()).toBe(pw); // RandomPassword keeps its value
    expect(r.outputs.greeting).toBe("hello hello");
  });

  test("preview plans the update of a changed input and runs nothing", async () => {
    const stateBefore = fs.readFileSync(stateFile(), "utf8");
    const before = events();
    const r = await apply({ "synapse:greeting": "bonjour" }, true);
    expect(r.ok).toBe(true);
    expect(r.preview).toBe(true);
    expect(ops(r)).toEqual({ "toy-password": "unchanged", prepare: "unchanged", "secret-file": "unchanged", motd: "unchanged", greet: "update" });
    expect(byName(r, "greet").changed).toEqual(["create", "update"]);
    expect(events()).toEqual(before);
    expect(fs.readFileSync(stateFile(), "utf8")).toBe(stateBefore);
  });

  test("changing one input updates only that resource (runs its update command)", async () => {
    const r = await apply({ "synapse:greeting": "bonjour" });
    expect(r.ok).toBe(true);
    expect(ops(r)).toEqual({ "toy-password": "unchanged", prepare: "unchanged", "secret-file": "unchanged", motd: "unchanged", greet: "update" });
    expect(events().slice(-1)).toEqual(["greet update bonjour"]);
    expect(r.outputs.greeting).toBe("updated bonjour");
  });

  test("changing triggers replaces: the new one is created, then the old one deleted", async () => {
    const n = events().length;
    const r = await apply({ "synapse:generation": "2" });
    expect(r.ok).toBe(true);
    expect(ops(r)).toEqual({ "toy-password": "unchanged", prepare: "unchanged", "secret-file": "unchanged", motd: "unchanged", greet: "replace" });
    expect(events().slice(n)).toEqual(["greet create bonjour", "greet delete"]);
    expect(r.outputs.greeting).toBe("hello bonjour");
  });

  test("changing a CopyToRemote's source re-copies the file (update)", async () => {
    const n = events().length;
    const r = await apply({ "synapse:motd": "hi there" });
    expect(r.ok).toBe(true);
    expect(ops(r)).toEqual({ "toy-password": "unchanged", prepare: "unchanged", "secret-file": "unchanged", motd: "update", greet: "unchanged" });
    expect(byName(r, "motd").changed).toEqual(["source"]);
    expect(fs.readFileSync(path.join(remoteDir, "etc", "motd.txt"), "utf8")).toBe("hi there\n");
    expect(events().length).toBe(n);
  });

  test("a failing command aborts the apply with its exit code and output; nothing after it starts", async () => {
    const stateBefore = readState(stateFile())!;
    const n = events().length;
    const r = await apply({ "synapse:fail": true });
    expect(r.ok).toBe(false);
    expect(r.exitCode).toBe(1);
    expect(r.error).toContain("'failing'");
    expect(r.error).toContain("Process exited with status 3");
    expect(r.error).toContain("about to fail");
    expect(r.error).toContain("oops");
    expect(byName(r, "failing").op).toBe("create");
    expect(r.resources.find((x) => x.name === "after-failing")).toBeUndefined();
    expect(events().slice(n)).toEqual(["failing create"]);
    const after = readState(stateFile())!;
    expect(Object.keys(after.resources).sort()).toEqual(Object.keys(stateBefore.resources).sort());
  });

  test("a resource no longer in the program is deleted after the apply", async () => {
    const n = events().length;
    const r = await apply({ "synapse:fail": undefined, "synapse:withGreet": false });
    expect(r.ok).toBe(true);
    expect(ops(r)).toEqual({ "toy-password": "unchanged", prepare: "unchanged", "secret-file": "unchanged", motd: "unchanged", greet: "delete" });
    expect(events().slice(n)).toEqual(["greet delete"]);
    expect(Object.values(readState(stateFile())!.resources).map((x) => x.name).sort()).toEqual(["motd", "prepare", "secret-file", "toy-password"]);
  });
});

// What the harness relies on, measured: with @pulumi/pulumi's mock runtime, an async newResource is
// awaited, and a resource reaches newResource only after its dependsOn (a component counting as all
// its children) and its input Outputs have finished; independent resources run concurrently.
describe("mock runtime ordering (measured)", () => {
  test("dependsOn and input Outputs hold back newResource until the slow dependency finished", async () => {
    const t0 = Date.now();
    const times: Record<string, { start: number; end: number }> = {};
    const argKeys = new Set<string>();
    await pulumi.runtime.setMocks(
      {
        async newResource(args) {
          Object.keys(args).forEach((k) => argKeys.add(k));
          const start = Date.now() - t0;
          await new Promise((r) => setTimeout(r, args.custom ? 300 : 0));
          times[args.name] = { start, end: Date.now() - t0 };
          return { id: `${args.name}-id`, state: { ...args.inputs, out: `${args.name}-out` } };
        },
        call: (a) => a.inputs,
      },
      "synapse",
      "dev",
      false,
    );
    class Thing extends pulumi.CustomResource {
      declare readonly out: pulumi.Output<string>;
      constructor(name: string, props: pulumi.Inputs, opts?: pulumi.CustomResourceOptions) {
        super("test:index:Thing", name, { ...props, out: undefined }, opts);
      }
    }
    class Group extends pulumi.ComponentResource {
      constructor(name: string) {
        super("test:index:Group", name, {});
        new Thing(`${name}-child`, {}, { parent: this });
        this.registerOutputs({});
      }
    }
    const a = new Thing("a", {});
    const b = new Thing("b", {}, { dependsOn: [a] });
    const c = new Thing("c", { fromA: a.out });
    const group = new Group("g");
    const d = new Thing("d", {}, { dependsOn: [group] });
    const e = new Thing("e", {});
    await new Promise((r) => pulumi.all([b.out, c.out, d.out, e.out]).apply(r));

    expect(times.b.start).toBeGreaterThanOrEqual(times.a.end);
    expect(times.c.start).toBeGreaterThanOrEqual(times.a.end);
    expect(times["g-child"].start).toBeGreaterThanOrEqual(times.g.end);
    expect(times.d.start).toBeGreaterThanOrEqual(times["g-child"].end);
    expect(times.e.start).toBeLessThan(times.a.end); // independent: concurrent
    // newResource gets no urn and no parent: the harness takes them from the registration request
    expect([...argKeys].sort()).toEqual(["custom", "id", "inputs", "name", "provider", "transforms", "type"]);
  });
});
