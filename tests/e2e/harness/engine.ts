// In-process part of the apply harness: runs ONE Pulumi program once under @pulumi/pulumi's mock
// runtime, with mocks that perform every resource for real (ssh, random) and engine-like
// create/update/replace/delete decisions against a state file. It must run in a fresh process
// (the @pulumi/pulumi runtime state is module-global): use apply.ts, which spawns it.
import { AsyncLocalStorage } from "async_hooks";
import * as crypto from "crypto";
import * as fs from "fs";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { applyIgnoreChanges, classify, containsUnknown, deleteOrder, UNKNOWN } from "./plan-diff";
import {
  CommandComputed,
  CommandInputs,
  commandCreate,
  commandDelete,
  commandUpdate,
  CopyInputs,
  copyToRemote,
  randomPassword,
  RandomPasswordInputs,
  ResourceError,
} from "./providers";
import type { ApplyReport, ConfigFile, Json, Op, ReportResource, StateFile, StateResource } from "./types";

// Internal modules of @pulumi/pulumi (CommonJS, stable for years; pinned by package-lock).
// eslint-disable-next-line @typescript-eslint/no-require-imports
const settings = require("@pulumi/pulumi/runtime/settings");

const SECRET_SIG_KEY = "4dabf18193072939515e22adb298388d";
const SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270";

const COMMAND = "command:remote:Command";
const COPY = "command:remote:CopyToRemote";
const PASSWORD = "random:index/randomPassword:RandomPassword";

/** Connection fields that are not worth redacting (they would redact "root" or an IP everywhere). */
const BENIGN_SECRET_KEYS = new Set(["host", "user", "port", "dialErrorLimit", "perDialTimeout", "agentSocketPath"]);

export interface EngineOptions {
  programPath: string;
  config: ConfigFile;
  previous?: StateFile;
  preview: boolean;
  /** Progress lines (already redacted). */
  log?: (line: string) => void;
  timeoutSeconds?: number;
}

export interface EngineResult {
  report: ApplyReport;
  /** The new state; undefined for a preview (the state file must not change). */
  state?: StateFile;
}

interface Registration {
  key: string;
  type: string;
  name: string;
  parent?: string;
  custom: boolean;
  dependencies: string[];
  deleteBeforeReplace: boolean;
  replaceOnChanges: string[];
  ignoreChanges: string[];
  additionalSecretOutputs: string[];
}

const regContext = new AsyncLocalStorage<Registration>();

function sleep(ms: number) {
  return new Promise((r) => setTimeout(r, ms));
}

function readPulumiYaml(dir: string): { name?: string; config?: Record<string, any> } | undefined {
  for (let d = dir; ; d = path.dirname(d)) {
    for (const f of ["Pulumi.yaml", "Pulumi.yml"]) {
      const p = path.join(d, f);
      if (fs.existsSync(p)) {
        // eslint-disable-next-line @typescript-eslint/no-require-imports
        const YAML = require("yaml");
        return YAML.parse(fs.readFileSync(p, "utf8")) ?? {};
      }
    }
    if (path.dirname(d) === d) return undefined;
  }
}

export async function runEngine(opts: EngineOptions): Promise<EngineResult> {
  const t0 = Date.now();
  const now = () => (Date.now() - t0) / 1000;
  const programPath = path.resolve(opts.programPath);
  const pulumiYaml = readPulumiYaml(path.dirname(programPath));
  const project = opts.config.project ?? pulumiYaml?.name ?? "synapse";
  const stack = opts.config.stack ?? "dev";
  const preview = opts.preview;
  const previous: StateFile = opts.previous ?? { version: 1, project, stack, updatedAt: "", resources: {} };
  const prevResources = previous.resources ?? {};

  // ---- secrets and redaction -----------------------------------------------------------------
  const secretValues = new Set<string>();
  const addSecret = (v: unknown, key?: string) => {
    if (typeof v === "string") {
      if (v.length >= 4 && !(key && BENIGN_SECRET_KEYS.has(key))) secretValues.add(v);
    } else if (Array.isArray(v)) v.forEach((x) => addSecret(x));
    else if (v && typeof v === "object") for (const [k, x] of Object.entries(v)) addSecret(x, k);
  };
  const redact = (s: string): string => {
    let out = s;
    for (const v of [...secretValues].sort((a, b) => b.length - a.length)) out = out.split(v).join("[secret]");
    return out;
  };
  const redactJson = <T>(v: T): T => {
    const walk = (x: unknown): unknown => {
      if (typeof x === "string") return redact(x);
      if (Array.isArray(x)) return x.map(walk);
      if (x && typeof x === "object") return Object.fromEntries(Object.entries(x).map(([k, y]) => [k, walk(y)]));
      return x;
    };
    return walk(v) as T;
  };
  const log = (line: string) => opts.log?.(redact(`[${now().toFixed(2).padStart(7)}s] ${line}`));
  const warnings: string[] = [];
  const warn = (w: string) => {
    if (!warnings.includes(w)) warnings.push(w);
  };

  // ---- config (like the CLI: Pulumi.yaml defaults, then the stack's values) --------------------
  const config: Record<string, string> = {};
  const secretKeys = new Set(opts.config.secrets ?? []);
  for (const [k, spec] of Object.entries(pulumiYaml?.config ?? {})) {
    const full = k.includes(":") ? k : `${project}:${k}`;
    if (spec && typeof spec === "object" && "default" in spec) {
      const d = (spec as any).default;
      config[full] = typeof d === "string" ? d : JSON.stringify(d);
    } else if (spec !== null && typeof spec !== "object") {
      config[full] = typeof spec === "string" ? spec : JSON.stringify(spec);
    }
    if (spec && typeof spec === "object" && (spec as any).secret === true) secretKeys.add(full);
  }
  for (const [k, v] of Object.entries(opts.config.config ?? {})) {
    config[k] = typeof v === "string" ? v : JSON.stringify(v);
  }
  for (const k of secretKeys) if (config[k] !== undefined) addSecret(config[k]);

  // ---- bookkeeping ----------------------------------------------------------------------------
  const records: ReportResource[] = [];
  const skipped: string[] = [];
  const registered = new Set<string>();
  const newResources: Record<string, StateResource> = { ...prevResources };
  const pendingDeletes: StateResource[] = [...(previous.pendingDeletes ?? [])];
  let pending = 0;
  let registrations = 0;
  let failure: { key?: string; message: string } | undefined;
  let signalAbort!: () => void;
  const aborted = new Promise<void>((r) => (signalAbort = r));
  const abort = (message: string, key?: string) => {
    if (!failure) {
      failure = { key, message };
      log(`ABORT: ${message.split("\n")[0]}`);
      signalAbort();
    }
  };

  // ---- input normalisation: secrets unwrapped (paths recorded), assets hashed, unknowns marked ----
  async function normalize(v: any, onSecret: () => void): Promise<Json | undefined> {
    if (v === undefined) return undefined;
    if (pulumi.isUnknown(v)) return UNKNOWN;
    if (v === null || typeof v === "boolean" || typeof v === "number" || typeof v === "string") return v;
    if (Array.isArray(v)) {
      const out: Json[] = [];
      for (const x of v) {
        const n = await normalize(x, onSecret);
        out.push(n === undefined ? null : n);
      }
      return out;
    }
    if (v[SECRET_SIG_KEY] === SECRET_SIG) {
      onSecret();
      return normalize(v.value, onSecret);
    }
    if (pulumi.asset.Asset.isInstance(v)) {
      if (v instanceof pulumi.asset.StringAsset) {
        const text = await (v as any).text;
        return { $asset: "text", hash: crypto.createHash("sha256").update(text).digest("hex"), text };
      }
      if (v instanceof pulumi.asset.FileAsset) {
        const p = path.resolve(await (v as any).path);
        const hash = fs.existsSync(p) && fs.statSync(p).isFile() ? crypto.createHash("sha256").update(fs.readFileSync(p)).digest("hex") : "missing";
        return { $asset: "file", hash, path: p };
      }
      return { $asset: "unsupported", kind: v.constructor?.name ?? "Asset" } as any;
    }
    if (pulumi.asset.Archive.isInstance(v)) return { $archive: v.constructor?.name ?? "Archive" };
    if (pulumi.Resource.isInstance(v)) return { $resource: await (v.urn as any).promise() };
    if (pulumi.Output.isInstance(v)) return normalize(await (v as any).promise(true), onSecret);
    const out: Record<string, Json> = {};
    for (const k of Object.keys(v).sort()) {
      const n = await normalize(v[k], onSecret);
      if (n !== undefined) out[k] = n;
    }
    return out;
  }

  async function normalizeInputs(raw: Record<string, any>): Promise<{ inputs: Record<string, Json>; secretPaths: string[] }> {
    const inputs: Record<string, Json> = {};
    const secretPaths: string[] = [];
    for (const k of Object.keys(raw).sort()) {
      let secret = false;
      const n = await normalize(raw[k], () => (secret = true));
      if (n === undefined) continue;
      inputs[k] = n;
      if (secret) {
        secretPaths.push(k);
        addSecret(n, k);
      }
    }
    return { inputs, secretPaths };
  }

  function computedOf(prev: StateResource): Record<string, Json> {
    return Object.fromEntries(Object.entries(prev.outputs).filter(([k]) => !(k in prev.inputs)));
  }

  function checkSecretLeaks(rec: ReportResource, inputs: Record<string, Json>, computed: Record<string, Json>) {
    if (secretValues.size === 0) return;
    const has = (s: unknown) => typeof s === "string" && [...secretValues].some((v) => s.includes(v));
    for (const field of ["create", "update", "delete"]) {
      if (has(inputs[field])) {
        warn(`${rec.name} (${rec.type}): a secret value is interpolated into '${field}': the provider puts the command string in its errors, the logs and the diff — send it through stdin`);
      }
    }
    const logging = (inputs.logging as string | undefined) ?? "stdoutAndStderr";
    if (has(computed.stdout) && (logging === "stdout" || logging === "stdoutAndStderr")) {
      warn(`${rec.name} (${rec.type}): a secret value appears in stdout, which the provider logs (logging: ${logging})`);
    }
    if (has(computed.stderr) && (logging === "stderr" || logging === "stdoutAndStderr")) {
      warn(`${rec.name} (${rec.type}): a secret value appears in stderr, which the provider logs (logging: ${logging})`);
    }
  }

  // ---- what each type does --------------------------------------------------------------------
  async function perform(
    op: Op,
    type: string,
    inputs: Record<string, Json>,
    prev: StateResource | undefined,
  ): Promise<Record<string, Json>> {
    switch (type) {
      case COMMAND: {
        const ci = inputs as unknown as CommandInputs;
        if (ci.environment && Object.keys(ci.environment).length > 0 && preview) {
          warn(`'environment' is sent with ssh setenv, which a stock sshd rejects: the apply will fail`);
        }
        if (preview) {
          if (op === "update" && prev) return { stdout: prev.outputs.stdout ?? "", stderr: prev.outputs.stderr ?? "" };
          return { stdout: UNKNOWN, stderr: UNKNOWN };
        }
        if (op === "update") return { ...(await commandUpdate(ci, computedOf(prev!) as unknown as CommandComputed)) };
        return { ...(await commandCreate(ci)) };
      }
      case COPY: {
        if (preview) return {};
        const ci = inputs as unknown as CopyInputs;
        if (op === "update" && prev) {
          const oldSrc = prev.inputs.source as any;
          const newSrc = ci.source as any;
          if (oldSrc?.hash === newSrc?.hash && prev.inputs.remotePath === ci.remotePath) return {};
        }
        await copyToRemote(ci);
        return {};
      }
      case PASSWORD: {
        if (preview) return { result: UNKNOWN };
        return randomPassword(inputs as unknown as RandomPasswordInputs);
      }
      default:
        throw new ResourceError(
          `the test harness does not know how to perform resources of type '${type}' ` +
            `(it performs ${COMMAND}, ${COPY} and ${PASSWORD}); extend tests/e2e/harness/engine.ts`,
        );
    }
  }

  async function performDelete(old: StateResource): Promise<{ stdout?: string; stderr?: string }> {
    if (!old.custom) return {};
    switch (old.type) {
      case COMMAND: {
        const r = await commandDelete(old.inputs as unknown as CommandInputs);
        return r ?? {};
      }
      case COPY: // no delete in pulumi-command 1.2.1
      case PASSWORD:
        return {};
      default:
        throw new ResourceError(`the test harness cannot delete resources of type '${old.type}'`);
    }
  }

  const MOCK_ID = (name: string) => `${name}-${crypto.randomBytes(4).toString("hex")}`;

  // ---- the mocks --------------------------------------------------------------------------------
  const mocks: pulumi.runtime.Mocks = {
    call(args) {
      throw new Error(`the test harness does not implement invokes/functions ('${args.token}')`);
    },
    async newResource(args): Promise<pulumi.runtime.MockResourceResult> {
      const reg = regContext.getStore();
      if (!reg) throw new Error(`unexpected resource operation for ${args.type} ${args.name} (read/get is not supported by the harness)`);
      if (args.id) throw new Error(`${args.type} ${args.name}: importing/reading existing resources is not supported by the harness`);
      if (failure) {
        skipped.push(reg.key);
        throw new Error(`not started: the apply was aborted (${failure.message.split("\n")[0]})`);
      }
      registrations++;
      registered.add(reg.key);
      pending++;
      const prev = prevResources[reg.key];
      const rec: ReportResource = {
        key: reg.key,
        type: reg.type,
        name: reg.name,
        ...(reg.parent ? { parent: reg.parent } : {}),
        custom: reg.custom,
        op: "create",
        seconds: 0,
      };
      records.push(rec);
      try {
        const raw = args.inputs ?? {};
        const norm = await normalizeInputs(raw);
        const inputs = applyIgnoreChanges(prev?.inputs, norm.inputs, reg.ignoreChanges);
        const c = classify(prev, { type: reg.type, inputs, replaceOnChanges: reg.replaceOnChanges, custom: reg.custom });
        rec.op = c.op;
        if (c.changed.length > 0) rec.changed = c.changed;
        rec.inputs = inputs;

        const state = (computed: Record<string, Json>): Record<string, any> => {
          // Returned to the program: the raw inputs (secrets, assets as they were) plus the computed
          // outputs; additionalSecretOutputs wrapped secret (plain mocks would ignore them).
          const out: Record<string, any> = { ...raw, ...computed };
          for (const k of reg.additionalSecretOutputs) {
            if (out[k] !== undefined) {
              addSecret(computed[k] ?? inputs[k], k);
              out[k] = pulumi.secret(out[k]);
            }
          }
          return out;
        };

        if (!reg.custom) {
          // Component: nothing to perform. Components are recorded (the engine stores them too).
          newResources[reg.key] = entry(reg, undefined, inputs, {}, norm.secretPaths);
          return { id: undefined, state: raw };
        }
        if (c.op === "unchanged") {
          const computed = computedOf(prev!);
          newResources[reg.key] = { ...entry(reg, prev!.id, inputs, { ...inputs, ...computed }, norm.secretPaths) };
          log(`  unchanged ${reg.type} ${reg.name}`);
          return { id: prev!.id, state: state(computed) };
        }
        if (preview || containsUnknown(inputs)) {
          if (!preview) throw new Error(`${reg.name}: input is unknown outside a preview`);
          const computed = await perform(c.op, reg.type, inputs, prev);
          log(`  would ${c.op} ${reg.type} ${reg.name}${c.changed.length ? ` (${c.changed.join(", ")})` : ""}`);
          return { id: prev?.id ?? MOCK_ID(reg.name), state: state(computed) };
        }

        rec.startedAt = now();
        log(`+ ${c.op} ${reg.type} ${reg.name}${c.changed.length ? ` (${c.changed.join(", ")})` : ""}`);
        const id = c.op === "update" ? prev!.id : MOCK_ID(reg.name);
        if (c.op === "replace" && reg.deleteBeforeReplace) {
          const d = await performDelete(prev!);
          delete newResources[reg.key];
          if (d.stdout !== undefined) log(`  deleted (before replace) ${reg.name}`);
        }
        const computed = await perform(c.op === "replace" ? "create" : c.op, reg.type, inputs, prev);
        rec.finishedAt = now();
        rec.seconds = Math.round((rec.finishedAt - rec.startedAt) * 1000) / 1000;
        if (typeof computed.stdout === "string") rec.stdout = computed.stdout;
        if (typeof computed.stderr === "string") rec.stderr = computed.stderr;
        checkSecretLeaks(rec, inputs, computed);
        if (c.op === "replace" && !reg.deleteBeforeReplace) pendingDeletes.push(prev!);
        newResources[reg.key] = entry(reg, id, inputs, { ...inputs, ...computed }, norm.secretPaths);
        log(`  done ${c.op} ${reg.type} ${reg.name} (${rec.seconds.toFixed(2)}s)`);
        return { id, state: state(computed) };
      } catch (e: any) {
        if (rec.startedAt !== undefined) {
          rec.finishedAt = now();
          rec.seconds = Math.round((rec.finishedAt - rec.startedAt) * 1000) / 1000;
        }
        if (e instanceof ResourceError) {
          rec.stdout = e.stdout;
          rec.stderr = e.stderr;
        }
        const message = `${reg.type} resource '${reg.name}' (${reg.key}): ${rec.op} failed: ${e?.message ?? e}`;
        rec.error = redact(message);
        abort(message, reg.key);
        throw new Error(message);
      } finally {
        pending--;
      }
    },
  };

  function entry(reg: Registration, id: string | undefined, inputs: Record<string, Json>, outputs: Record<string, Json>, secretPaths: string[]): StateResource {
    const e: StateResource = {
      key: reg.key,
      type: reg.type,
      name: reg.name,
      custom: reg.custom,
      inputs,
      outputs,
      dependencies: reg.dependencies,
      secretPaths: [...new Set([...secretPaths, ...reg.additionalSecretOutputs.filter((k) => k in outputs)])].sort(),
    };
    if (reg.parent) e.parent = reg.parent;
    if (id !== undefined) e.id = id;
    if (reg.deleteBeforeReplace) e.deleteBeforeReplace = true;
    if (reg.replaceOnChanges.length) e.replaceOnChanges = reg.replaceOnChanges;
    return e;
  }

  // ---- wire the mock runtime --------------------------------------------------------------------
  pulumi.runtime.setAllConfig(config, [...secretKeys]);
  await pulumi.runtime.setMocks(mocks, project, stack, preview);
  const monitor = settings.getMonitor();
  // Real-engine URNs: the mock monitor keeps only the parent's last type; the engine keeps the chain
  // (`Comp$Inner$Type`). There is no root Stack resource in mock mode (top level: parent "").
  monitor.newUrn = (parent: string, type: string, name: string) => {
    if (parent) type = parent.split("::")[2] + "$" + type;
    return "urn:pulumi:" + [stack, project, type, name].join("::");
  };
  const origRegister = monitor.registerResource.bind(monitor);
  monitor.registerResource = (req: any, callback: any) => {
    const parent: string = req.getParent() || "";
    const reg: Registration = {
      key: monitor.newUrn(parent, req.getType(), req.getName()),
      type: req.getType(),
      name: req.getName(),
      parent: parent || undefined,
      custom: req.getCustom(),
      dependencies: [...new Set<string>(req.getDependenciesList())].sort(),
      deleteBeforeReplace: !!req.getDeletebeforereplace(),
      replaceOnChanges: req.getReplaceonchangesList() ?? [],
      ignoreChanges: req.getIgnorechangesList() ?? [],
      additionalSecretOutputs: req.getAdditionalsecretoutputsList() ?? [],
    };
    return regContext.run(reg, () => origRegister(req, callback));
  };

  const unhandled = (e: any) => {
    // After an abort every dependent's registration rejects: expected noise. Before it, an
    // unhandled rejection is a program error (the Pulumi language host fails the update for it).
    if (!failure) abort(`the program failed with an unhandled error: ${e?.stack ?? e}`);
  };
  process.on("unhandledRejection", unhandled);
  process.on("uncaughtException", unhandled);

  // ---- run the program --------------------------------------------------------------------------
  log(`${preview ? "preview" : "apply"} ${path.relative(process.cwd(), programPath) || programPath} (project ${project}, stack ${stack})`);
  let exportsPromise: Promise<{ values: Record<string, unknown>; secretKeys: string[] }>;
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    let mod = require(programPath);
    if (mod && typeof mod === "object" && typeof mod.default === "function" && Object.keys(mod).filter((k) => k !== "__esModule").length === 1) {
      mod = mod.default;
    }
    const value = await Promise.race([Promise.resolve(typeof mod === "function" ? mod() : mod), aborted.then(() => ({}))]);
    exportsPromise = resolveExports(value ?? {});
  } catch (e: any) {
    abort(`the program failed: ${e?.stack ?? e}`);
    exportsPromise = Promise.resolve({ values: {}, secretKeys: [] });
  }
  exportsPromise.catch(() => undefined);

  const timeoutMs = (opts.timeoutSeconds ?? 3600) * 1000;
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<"timeout">((r) => {
    timer = setTimeout(() => r("timeout"), timeoutMs);
    timer.unref();
  });

  const waitIdle = async () => {
    // Quiescent: nothing in flight for a few consecutive polls.
    for (let calm = 0; calm < 3; ) {
      await sleep(30);
      calm = pending === 0 ? calm + 1 : 0;
    }
  };

  let outputs: Record<string, unknown> = {};
  let secretOutputKeys: string[] = [];
  const first = await Promise.race([
    exportsPromise.then((v) => ({ kind: "exports" as const, v }), (e) => ({ kind: "error" as const, e })),
    aborted.then(() => ({ kind: "aborted" as const })),
    timeout.then(() => ({ kind: "timeout" as const })),
  ]);
  if (first.kind === "error" && !failure) abort(`the program's exports failed: ${first.e?.message ?? first.e}`);
  if (first.kind === "timeout") abort(`timed out after ${opts.timeoutSeconds ?? 3600}s`);
  if (first.kind === "exports") {
    outputs = first.v.values;
    secretOutputKeys = first.v.secretKeys;
    // Exports resolved; now every registration must have finished too (resources nobody exported).
    for (;;) {
      const before = registrations;
      const r = await Promise.race([
        settings.waitForRPCs().then(() => "rpcs"),
        aborted.then(() => "aborted"),
        timeout.then(() => "timeout"),
      ]);
      if (r === "timeout") abort(`timed out after ${opts.timeoutSeconds ?? 3600}s waiting for resources`);
      if (failure) break;
      await waitIdle();
      if (failure || (registrations === before && pending === 0)) break;
    }
  }
  await waitIdle(); // in-flight commands finish (like the engine), nothing new starts after an abort

  // ---- deletes (after the program, dependents first), only when everything else succeeded --------
  const deleteRecords: ReportResource[] = [];
  if (!failure) {
    const gone = Object.values(prevResources).filter((r) => !registered.has(r.key));
    const items = [
      ...gone.map((r) => ({ id: r.key, res: r, replaced: false })),
      ...pendingDeletes.map((r, i) => ({ id: `${r.key}#old${i}`, res: r, replaced: true })),
    ];
    const byId = new Map(items.map((i) => [i.id, i]));
    const order = deleteOrder(items.map((i) => ({ key: i.id, dependencies: i.res.dependencies, parent: i.res.parent })));
    const stillPending: StateResource[] = [];
    for (const id of order) {
      const item = byId.get(id)!;
      const r = item.res;
      if (!item.replaced) {
        const rec: ReportResource = { key: r.key, type: r.type, name: r.name, ...(r.parent ? { parent: r.parent } : {}), custom: r.custom, op: "delete", seconds: 0 };
        deleteRecords.push(rec);
        if (preview) {
          log(`  would delete ${r.type} ${r.name}`);
          continue;
        }
        if (failure) continue;
        rec.startedAt = now();
        log(`- delete ${r.type} ${r.name}`);
        try {
          const d = await performDelete(r);
          if (d.stdout !== undefined) (rec.stdout = d.stdout), (rec.stderr = d.stderr);
          delete newResources[r.key];
        } catch (e: any) {
          const message = `${r.type} resource '${r.name}' (${r.key}): delete failed: ${e?.message ?? e}`;
          rec.error = redact(message);
          abort(message, r.key);
        }
        rec.finishedAt = now();
        rec.seconds = Math.round((rec.finishedAt - rec.startedAt) * 1000) / 1000;
      } else {
        if (preview) continue;
        if (failure) {
          stillPending.push(r);
          continue;
        }
        // the replaced (old) resource: its delete runs after everything else, like the engine's
        // DeleteReplaced steps; its time is added to the replacing resource's record.
        const rec = records.find((x) => x.key === r.key && x.op === "replace");
        const t = now();
        log(`- delete (replaced) ${r.type} ${r.name}`);
        try {
          await performDelete(r);
        } catch (e: any) {
          const message = `${r.type} resource '${r.name}' (${r.key}): delete of the replaced resource failed: ${e?.message ?? e}`;
          if (rec) rec.error = redact(message);
          stillPending.push(r);
          abort(message, r.key);
        }
        if (rec) rec.seconds = Math.round((rec.seconds + now() - t) * 1000) / 1000;
      }
    }
    pendingDeletes.length = 0;
    pendingDeletes.push(...stillPending);
  }

  // ---- report and state ---------------------------------------------------------------------------
  for (const k of secretOutputKeys) addSecret(outputs[k]);
  const shownOutputs: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(outputs)) {
    shownOutputs[k] = secretOutputKeys.includes(k) ? "[secret]" : showUnknowns(v);
  }
  const report: ApplyReport = {
    ok: !failure,
    ...(failure ? { error: redact(failure.message) } : {}),
    preview,
    project,
    stack,
    outputs: redactJson(shownOutputs),
    resources: redactJson([...records, ...deleteRecords]),
    warnings: warnings.map(redact),
    wallSeconds: Math.round(now() * 1000) / 1000,
  };
  if (skipped.length) (report as any).skipped = [...new Set(skipped)];
  clearTimeout(timer);
  if (preview) return { report };
  const state: StateFile = {
    version: 1,
    project,
    stack,
    updatedAt: new Date().toISOString(),
    resources: newResources,
    ...(pendingDeletes.length ? { pendingDeletes } : {}),
    outputs: failure ? (previous.outputs ?? {}) : outputs,
  };
  return { report, state };
}

function showUnknowns(v: unknown): unknown {
  if (pulumi.isUnknown(v) || v === UNKNOWN) return "<unknown>";
  if (Array.isArray(v)) return v.map(showUnknowns);
  if (v && typeof v === "object") return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, showUnknowns(x)]));
  return v;
}

/** Awaits every exported value (Outputs included, unknowns kept); notes which are secret. */
async function resolveExports(mod: Record<string, unknown>): Promise<{ values: Record<string, unknown>; secretKeys: string[] }> {
  const values: Record<string, unknown> = {};
  const secretKeys: string[] = [];
  for (const [k, v] of Object.entries(mod)) {
    if (k === "__esModule" || typeof v === "function" || v === undefined) continue;
    const o: any = pulumi.output(v as any);
    const [value, isSecret] = await Promise.all([o.promise(true), o.isSecret]);
    values[k] = toPlain(value);
    if (isSecret) secretKeys.push(k);
  }
  return { values, secretKeys };
}

function toPlain(v: any): unknown {
  if (pulumi.isUnknown(v)) return UNKNOWN;
  if (Array.isArray(v)) return v.map(toPlain);
  if (pulumi.Resource.isInstance(v)) return { $resource: true };
  if (v && typeof v === "object") return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, toPlain(x)]));
  return v;
}
