import {
  applyIgnoreChanges,
  changedKeys,
  classify,
  deleteOrder,
  jsonEqual,
  parsePath,
  planDiff,
  UNKNOWN,
} from "../e2e/harness/plan-diff";
import type { Json, StateFile, StateResource } from "../e2e/harness/types";

const CMD = "command:remote:Command";
const COPY = "command:remote:CopyToRemote";
const PW = "random:index/randomPassword:RandomPassword";
const conn = { host: "10.0.0.1", port: 22, user: "root", privateKey: "KEY" };

function res(key: string, type: string, inputs: Record<string, Json>, extra: Partial<StateResource> = {}): StateResource {
  return { key, type, name: key, custom: true, inputs, outputs: { ...inputs }, dependencies: [], secretPaths: [], ...extra };
}

function state(...resources: StateResource[]): StateFile {
  return { version: 1, project: "synapse", stack: "dev", updatedAt: "", resources: Object.fromEntries(resources.map((r) => [r.key, r])) };
}

describe("planDiff", () => {
  const cmdInputs = { connection: conn, create: "apt-get install -y nginx", triggers: ["v1"] };
  const prev = state(
    res("cmd", CMD, cmdInputs),
    res("pw", PW, { length: 32, special: false }),
    res("copy", COPY, { connection: conn, source: { $asset: "text", hash: "h1", text: "a" }, remotePath: "/etc/x", triggers: [] }),
  );

  test("a resource not in the previous state is created", () => {
    expect(planDiff(undefined, { cmd: { type: CMD, inputs: cmdInputs } })).toEqual({ cmd: "create" });
    expect(planDiff(prev, { other: { type: CMD, inputs: cmdInputs } }).other).toBe("create");
  });

  test("identical inputs (any key order) are unchanged", () => {
    const next = {
      cmd: { type: CMD, inputs: { triggers: ["v1"], create: "apt-get install -y nginx", connection: { user: "root", privateKey: "KEY", port: 22, host: "10.0.0.1" } } },
      pw: { type: PW, inputs: { special: false, length: 32 } },
      copy: { type: COPY, inputs: prev.resources.copy.inputs },
    };
    expect(planDiff(prev, next)).toEqual({ cmd: "unchanged", pw: "unchanged", copy: "unchanged" });
  });

  test.each<[string, Record<string, Json>]>([
    ["create", { ...cmdInputs, create: "apt-get install -y nginx-full" }],
    ["update added", { ...cmdInputs, update: "systemctl reload nginx" }],
    ["delete added", { ...cmdInputs, delete: "true" }],
    ["stdin", { ...cmdInputs, stdin: "secret" }],
    ["connection", { ...cmdInputs, connection: { ...conn, host: "10.0.0.2" } }],
    ["environment", { ...cmdInputs, environment: { A: "1" } }],
    ["logging", { ...cmdInputs, logging: "none" }],
  ])("a Command whose %s changed is updated", (_what, inputs) => {
    expect(planDiff(prev, { cmd: { type: CMD, inputs } }).cmd).toBe("update");
  });

  test.each<[string, Record<string, Json>]>([
    ["changed", { ...cmdInputs, triggers: ["v2"] }],
    ["extended", { ...cmdInputs, triggers: ["v1", "x"] }],
    ["removed", { connection: conn, create: cmdInputs.create }],
  ])("a Command whose triggers were %s is replaced, even with other changes", (_what, inputs) => {
    expect(planDiff(prev, { cmd: { type: CMD, inputs } }).cmd).toBe("replace");
    expect(planDiff(prev, { cmd: { type: CMD, inputs: { ...inputs, create: "other" } } }).cmd).toBe("replace");
  });

  test("a Command that newly gets triggers is replaced", () => {
    const p = state(res("cmd", CMD, { connection: conn, create: "x" }));
    expect(planDiff(p, { cmd: { type: CMD, inputs: { connection: conn, create: "x", triggers: ["a"] } } }).cmd).toBe("replace");
  });

  test.each<[string, Record<string, Json>]>([
    ["length", { length: 33, special: false }],
    ["special", { length: 32, special: true }],
    ["a new flag", { length: 32, special: false, upper: false }],
    ["keepers", { length: 32, special: false, keepers: { k: "v" } }],
  ])("a RandomPassword whose %s changed is replaced", (_what, inputs) => {
    expect(planDiff(prev, { pw: { type: PW, inputs } }).pw).toBe("replace");
  });

  test("CopyToRemote: source/remotePath change updates, triggers replace", () => {
    const base = prev.resources.copy.inputs;
    expect(planDiff(prev, { copy: { type: COPY, inputs: { ...base, source: { $asset: "text", hash: "h2", text: "b" } } } }).copy).toBe("update");
    expect(planDiff(prev, { copy: { type: COPY, inputs: { ...base, remotePath: "/etc/y" } } }).copy).toBe("update");
    expect(planDiff(prev, { copy: { type: COPY, inputs: { ...base, triggers: ["x"] } } }).copy).toBe("replace");
  });

  test("resources of the previous state that are not registered any more are deleted", () => {
    expect(planDiff(prev, { cmd: { type: CMD, inputs: cmdInputs } })).toEqual({ cmd: "unchanged", pw: "delete", copy: "delete" });
    expect(planDiff(prev, {})).toEqual({ cmd: "delete", pw: "delete", copy: "delete" });
  });

  test("an unknown input (preview) counts as changed", () => {
    expect(planDiff(prev, { cmd: { type: CMD, inputs: { ...cmdInputs, stdin: UNKNOWN } } }).cmd).toBe("update");
    expect(planDiff(prev, { cmd: { type: CMD, inputs: { ...cmdInputs, triggers: [UNKNOWN] } } }).cmd).toBe("replace");
  });

  test("replaceOnChanges of the resource options is honoured, wildcards and nested paths", () => {
    const t = "my:custom:Thing";
    const p = state(res("t", t, { a: { b: 1, c: 1 }, d: [1, 2] }));
    const next = (inputs: Record<string, Json>, replaceOnChanges: string[]) => planDiff(p, { t: { type: t, inputs, replaceOnChanges } }).t;
    expect(next({ a: { b: 2, c: 1 }, d: [1, 2] }, ["a.b"])).toBe("replace");
    expect(next({ a: { b: 1, c: 2 }, d: [1, 2] }, ["a.b"])).toBe("update");
    expect(next({ a: { b: 1, c: 1 }, d: [1, 3] }, ["d[*]"])).toBe("replace");
    expect(next({ a: { b: 1, c: 2 }, d: [1, 2] }, ["*"])).toBe("replace");
    expect(next({ a: { b: 1, c: 2 }, d: [1, 2] }, [])).toBe("update");
  });

  test("components are never replaced", () => {
    const p = state(res("c", "synapse:index:Host", {}, { custom: false }));
    expect(planDiff(p, { c: { type: "synapse:index:Host", inputs: {}, custom: false } }).c).toBe("unchanged");
  });
});

describe("classify", () => {
  test("reports what changed and why it replaces", () => {
    const p = res("cmd", CMD, { connection: conn, create: "a", triggers: [1] });
    expect(classify(p, { type: CMD, inputs: { connection: conn, create: "b", triggers: [2] } })).toEqual({
      op: "replace",
      changed: ["create", "triggers"],
      replaceBecause: ["triggers"],
    });
  });
});

describe("helpers", () => {
  test("jsonEqual ignores key order and undefined members, never equals unknown", () => {
    expect(jsonEqual({ a: 1, b: [1, { c: 2 }] }, { b: [1, { c: 2 }], a: 1 })).toBe(true);
    expect(jsonEqual({ a: 1, b: undefined }, { a: 1 })).toBe(true);
    expect(jsonEqual([1, 2], [2, 1])).toBe(false);
    expect(jsonEqual(UNKNOWN, UNKNOWN)).toBe(false);
    expect(jsonEqual(null, {})).toBe(false);
  });

  test("changedKeys lists added, removed and changed top-level keys", () => {
    expect(changedKeys({ a: 1, b: 2, c: 3 }, { a: 1, b: 5, d: 4 })).toEqual(["b", "c", "d"]);
  });

  test("parsePath cuts at the first wildcard", () => {
    expect(parsePath("triggers[*]")).toEqual(["triggers"]);
    expect(parsePath("a.b[0].c")).toEqual(["a", "b", "0", "c"]);
    expect(parsePath('a["x.y"].z')).toEqual(["a", "x.y", "z"]);
    expect(parsePath("*")).toEqual([]);
  });

  test("applyIgnoreChanges keeps the old value, or drops the new one if there was none", () => {
    expect(applyIgnoreChanges({ a: 1, b: { c: 1 } }, { a: 2, b: { c: 2, d: 1 } }, ["a", "b.c"])).toEqual({ a: 1, b: { c: 1, d: 1 } });
    expect(applyIgnoreChanges({ a: 1 }, { a: 1, x: 5 }, ["x"])).toEqual({ a: 1 });
    expect(applyIgnoreChanges(undefined, { x: 5 }, ["x"])).toEqual({ x: 5 });
  });

  test("deleteOrder deletes dependents (and children) first", () => {
    const order = deleteOrder([
      { key: "db", dependencies: [] },
      { key: "app", dependencies: ["db"] },
      { key: "proxy", dependencies: ["app"] },
      { key: "comp", dependencies: [] },
      { key: "child", dependencies: [], parent: "comp" },
    ]);
    expect(order.indexOf("proxy")).toBeLessThan(order.indexOf("app"));
    expect(order.indexOf("app")).toBeLessThan(order.indexOf("db"));
    expect(order.indexOf("child")).toBeLessThan(order.indexOf("comp"));
    expect(order).toHaveLength(5);
  });
});
