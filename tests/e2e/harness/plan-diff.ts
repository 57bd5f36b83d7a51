// Pure diff logic of the apply harness: what the Pulumi engine + the command/random providers
// would do to each resource, given the previous state and the inputs of this apply.
//
// Rules (pulumi-command 1.2.1 provider sources; terraform random provider):
//   - not in the previous state                          -> create
//   - inputs deep-equal to the previous apply's inputs   -> unchanged (nothing runs)
//   - RandomPassword (and other random:*): any change    -> replace (every input is ForceNew)
//   - a changed input matched by replaceOnChanges, or
//     `triggers` of command:remote:*                     -> replace
//   - any other change                                   -> update
//   - in the previous state but not registered now       -> delete
// An unknown input value (preview only) counts as changed.
import type { Json, Op, PlannedResource, StateFile, StateResource } from "./types";

/** Pulumi's wire sentinel for an unknown value; the harness records unknown inputs with it. */
export const UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";

/** Top-level inputs that always force a replacement, per resource type (besides replaceOnChanges). */
export const BUILTIN_REPLACE_ON_CHANGES: Record<string, string[]> = {
  "command:remote:Command": ["triggers"],
  "command:remote:CopyToRemote": ["triggers"],
  "command:local:Command": ["triggers"],
  "random:index/randomPassword:RandomPassword": ["*"],
  "random:index/randomString:RandomString": ["*"],
  "random:index/randomId:RandomId": ["*"],
  "random:index/randomInteger:RandomInteger": ["*"],
  "random:index/randomUuid:RandomUuid": ["*"],
  "random:index/randomPet:RandomPet": ["*"],
  "random:index/randomShuffle:RandomShuffle": ["*"],
  "random:index/randomBytes:RandomBytes": ["*"],
};

export function containsUnknown(v: unknown): boolean {
  if (v === UNKNOWN) return true;
  if (Array.isArray(v)) return v.some(containsUnknown);
  if (v !== null && typeof v === "object") return Object.values(v).some(containsUnknown);
  return false;
}

/** Deep equality of JSON values, ignoring object key order; an unknown never equals anything. */
export function jsonEqual(a: unknown, b: unknown): boolean {
  if (a === UNKNOWN || b === UNKNOWN) return false;
  if (a === b) return true;
  if (Array.isArray(a) || Array.isArray(b)) {
    if (!Array.isArray(a) || !Array.isArray(b) || a.length !== b.length) return false;
    return a.every((x, i) => jsonEqual(x, b[i]));
  }
  if (a !== null && b !== null && typeof a === "object" && typeof b === "object") {
    const ka = Object.keys(a as object).filter((k) => (a as any)[k] !== undefined);
    const kb = Object.keys(b as object).filter((k) => (b as any)[k] !== undefined);
    if (ka.length !== kb.length) return false;
    return ka.every((k) => Object.prototype.hasOwnProperty.call(b, k) && jsonEqual((a as any)[k], (b as any)[k]));
  }
  return false;
}

/**
 * Parses a Pulumi property path (`a.b[0]`, `triggers[*]`, `["x.y"].z`) into segments, cut at the
 * first wildcard: a wildcard means "anything below here", so the subtree above it is compared whole.
 */
export function parsePath(path: string): string[] {
  const segs: string[] = [];
  const re = /\[\s*"((?:[^"\\]|\\.)*)"\s*\]|\[\s*(\*|\d+)\s*\]|\.?([^.[\]]+)/g;
  let m: RegExpExecArray | null;
  while ((m = re.exec(path)) !== null) {
    const seg = m[1] !== undefined ? m[1].replace(/\\(.)/g, "$1") : (m[2] ?? m[3]);
    if (seg === "*") break;
    segs.push(seg);
  }
  return segs;
}

function getAt(v: unknown, segs: string[]): unknown {
  let cur: any = v;
  for (const s of segs) {
    if (cur === null || typeof cur !== "object") return undefined;
    cur = cur[s];
  }
  return cur;
}

/** Top-level input names whose values differ (added, removed or changed). */
export function changedKeys(prev: Record<string, unknown>, next: Record<string, unknown>): string[] {
  const keys = new Set([...Object.keys(prev), ...Object.keys(next)]);
  return [...keys].filter((k) => !jsonEqual(prev[k], next[k])).sort();
}

export interface Classification {
  op: Op;
  /** Top-level inputs that changed. */
  changed: string[];
  /** The replaceOnChanges paths (or built-in rules) that caused a replace. */
  replaceBecause: string[];
}

/** Classifies one registered resource against its previous state entry. */
export function classify(prev: Pick<StateResource, "type" | "inputs"> | undefined, next: PlannedResource): Classification {
  if (!prev) return { op: "create", changed: [], replaceBecause: [] };
  if (prev.type !== next.type) return { op: "replace", changed: ["<type>"], replaceBecause: ["<type>"] };
  const changed = changedKeys(prev.inputs, next.inputs);
  if (changed.length === 0) return { op: "unchanged", changed, replaceBecause: [] };
  if (next.custom === false) return { op: "update", changed, replaceBecause: [] };
  const rules = [...(BUILTIN_REPLACE_ON_CHANGES[next.type] ?? []), ...(next.replaceOnChanges ?? [])];
  const replaceBecause = rules.filter((rule) => {
    const segs = parsePath(rule);
    if (segs.length === 0) return true; // "*" : any change replaces
    return !jsonEqual(getAt(prev.inputs, segs), getAt(next.inputs, segs));
  });
  return { op: replaceBecause.length > 0 ? "replace" : "update", changed, replaceBecause: [...new Set(replaceBecause)] };
}

/**
 * The plan of one apply: every key registered now gets create/update/replace/unchanged, every key
 * of the previous state that is not registered now gets delete.
 */
export function planDiff(previous: Pick<StateFile, "resources"> | undefined, next: Record<string, PlannedResource>): Record<string, Op> {
  const prevResources = previous?.resources ?? {};
  const plan: Record<string, Op> = {};
  for (const [key, res] of Object.entries(next)) plan[key] = classify(prevResources[key], res).op;
  for (const key of Object.keys(prevResources)) if (!(key in next)) plan[key] = "delete";
  return plan;
}

/**
 * Applies `ignoreChanges` the way the engine does before diffing (PropertyPath.Reset): for each
 * path, the new inputs take the old value, or lose the property when the old inputs lack it.
 * On a create (no previous inputs) nothing is ignored. Returns a new object.
 */
export function applyIgnoreChanges(
  prevInputs: Record<string, Json> | undefined,
  nextInputs: Record<string, Json>,
  ignoreChanges: string[],
): Record<string, Json> {
  if (!prevInputs || ignoreChanges.length === 0) return nextInputs;
  const out: Record<string, Json> = JSON.parse(JSON.stringify(nextInputs));
  for (const path of ignoreChanges) {
    const segs = parsePath(path);
    if (segs.length === 0) return JSON.parse(JSON.stringify(prevInputs));
    const oldVal = getAt(prevInputs, segs);
    let cur: any = out;
    for (const s of segs.slice(0, -1)) {
      if (cur[s] === null || typeof cur[s] !== "object") cur[s] = {};
      cur = cur[s];
    }
    const last = segs[segs.length - 1];
    if (oldVal === undefined) delete cur[last];
    else cur[last] = JSON.parse(JSON.stringify(oldVal));
  }
  return out;
}

/**
 * Order for deleting resources: dependents before what they depend on (reverse topological order
 * over `dependencies` and `parent`), ties by key for determinism.
 */
export function deleteOrder(resources: Array<Pick<StateResource, "key" | "dependencies" | "parent">>): string[] {
  const keys = new Set(resources.map((r) => r.key));
  const byKey = new Map(resources.map((r) => [r.key, r]));
  const done = new Set<string>();
  const order: string[] = [];
  // A resource can be deleted once nothing left in the set depends on it (or is its child).
  const dependents = new Map<string, Set<string>>();
  for (const r of resources) {
    for (const d of [...r.dependencies, ...(r.parent ? [r.parent] : [])]) {
      if (!keys.has(d) || d === r.key) continue;
      if (!dependents.has(d)) dependents.set(d, new Set());
      dependents.get(d)!.add(r.key);
    }
  }
  while (order.length < keys.size) {
    const ready = [...keys]
      .filter((k) => !done.has(k) && [...(dependents.get(k) ?? [])].every((d) => done.has(d)))
      .sort();
    const batch = ready.length > 0 ? ready : [[...keys].filter((k) => !done.has(k)).sort()[0]]; // cycle: break it
    for (const k of batch) {
      done.add(k);
      order.push(byKey.get(k)!.key);
    }
  }
  return order;
}
