// Runs index.ts under Pulumi's mocks and records every resource it registers.
import * as pulumi from "@pulumi/pulumi";
import { testPrivateKey } from "./fixtures";

export interface Recorded {
  type: string;
  name: string;
  urn: string;
  custom: boolean;
  inputs: Record<string, any>;
  /** URN of the parent resource, and the URNs this resource depends on, as the runtime sent them. */
  parent: string;
  dependencies: string[];
  /** Inputs that arrived marked secret. */
  secretInputs: string[];
  /** Resource options as the runtime sent them. */
  protect: boolean;
  ignoreChanges: string[];
  /** URN::ID of an explicit provider, or "" for the default one. */
  provider: string;
  /** Order in which registrations finished (each takes a few ms, so dependents come later). */
  finished: number;
  started: number;
}

export const adminToken = "syt_mock_admin_token_do_not_leak";
export const awsSecretKey = "mock-aws-secret-access-key-do-not-leak";

export function secretOf(name: string): string {
  return `mock-random-${name}-0123456789abcdef`;
}

const secretSig = "4dabf18193072939515e22adb298388d";
const isSecretValue = (v: any) => v !== null && typeof v === "object" && v[secretSig] === "1b47061264138c4ac30d75fd1eb44270";
function unwrapSecret(v: any): any {
  if (isSecretValue(v)) return v.value;
  if (Array.isArray(v)) return v.map(unwrapSecret);
  if (v !== null && typeof v === "object") return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, unwrapSecret(x)]));
  return v;
}

export interface MockRun {
  /** The program's exports, as the program returned them (Outputs). */
  program: Record<string, unknown>;
  resources: Recorded[];
  outputs: Record<string, unknown>;
  byName(name: string): Recorded;
}

/**
 * Runs the program under mocks with this stack config. A remote command's stdout is what
 * `hostAnswers` gives for its name (what the host would print), else `done <name>`; the admin
 * user's step answers with a user and token.
 */
export async function runProgram(config: Record<string, string>, secretKeys: string[] = ["sshPrivateKey"],
  hostAnswers: Record<string, string> = {}): Promise<MockRun> {
  const resources: Recorded[] = [];
  const requests = new Map<string, { urn: string; parent: string; dependencies: string[]; protect: boolean; ignoreChanges: string[]; provider: string }>();
  let clock = 0;
  await pulumi.runtime.setMocks({
    newResource: async (args) => {
      const started = clock++;
      await new Promise((r) => setTimeout(r, 5));
      const state: Record<string, unknown> = { ...args.inputs };
      if (args.type === "random:index/randomPassword:RandomPassword") state.result = secretOf(args.name);
      if (args.type === "aws:s3/bucket:Bucket") state.arn = `arn:aws:s3:::${args.inputs.bucket}`;
      if (args.type === "aws:iam/accessKey:AccessKey") state.secret = awsSecretKey;
      if (args.type === "command:remote:Command") {
        state.stdout = hostAnswers[args.name] ?? (args.name.endsWith("admin-user")
          ? JSON.stringify({ user_id: "@admin:example.org", access_token: adminToken })
          : `done ${args.name}`);
        state.stderr = "";
      }
      const req = requests.get(`${args.type}::${args.name}`) ?? { urn: "", parent: "", dependencies: [], protect: false, ignoreChanges: [], provider: "" };
      const secretInputs = Object.keys(args.inputs).filter((k) => isSecretValue(args.inputs[k]));
      const inputs = Object.fromEntries(Object.entries(args.inputs).map(([k, v]) => [k, unwrapSecret(v)]));
      resources.push({ type: args.type, name: args.name, ...req, custom: args.custom ?? true, inputs, secretInputs, started, finished: clock++ });
      const id = args.type === "aws:iam/accessKey:AccessKey" ? "AKIAMOCKKEYID" : `${args.name}-id`;
      return { id, state };
    },
    call: (args) => args.inputs,
  }, "synapse", "test", false);
  // The mock monitor does not pass parents and dependencies to newResource: read them off the
  // registration requests the runtime sends.
  const monitor = pulumi.runtime.getMonitor() as any;
  const register = monitor.registerResource.bind(monitor);
  monitor.registerResource = (req: any, callback: unknown) => {
    const parent: string = req.getParent();
    const type: string = req.getType();
    const parentType = parent ? parent.split("::")[2].split("$").pop() + "$" : "";
    requests.set(`${type}::${req.getName()}`, {
      urn: `urn:pulumi:test::synapse::${parentType}${type}::${req.getName()}`,
      parent,
      dependencies: req.getDependenciesList(),
      protect: Boolean(req.getProtect()),
      ignoreChanges: req.getIgnorechangesList(),
      provider: req.getProvider(),
    });
    return register(req, callback);
  };
  const all: Record<string, string> = { "synapse:sshPrivateKey": testPrivateKey };
  for (const [k, v] of Object.entries(config)) all[`synapse:${k}`] = v;
  pulumi.runtime.setAllConfig(all, secretKeys.map((k) => `synapse:${k}`));

  // The program is a function: loading it (and the providers, @pulumi/aws above all) once per test
  // file is what keeps the unit suite fast; each run builds the stack anew from this config.
  const program = await withCheapStackTraces(async () => {
    const exported = (require("../../program") as typeof import("../../program")).synapseProgram();
    const resolved: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(exported)) {
      resolved[k] = pulumi.Output.isInstance(v) ? await new Promise((r) => (v as pulumi.Output<unknown>).apply(r)) : v;
    }
    // Let registrations that nothing awaits finish: the runtime's own queue of RPCs.
    await waitForRPCs();
    return { exported, resolved };
  });
  const outputs = program.resolved;
  return {
    program: program.exported,
    resources,
    outputs,
    byName(name: string) {
      const r = resources.find((x) => x.name === name);
      if (!r) throw new Error(`no resource named ${name}; have ${resources.map((x) => x.name).join(", ")}`);
      return r;
    },
  };
}

// The runtime's wait for its queue of RPCs (what it does itself before it disconnects).
const { waitForRPCs } = require("@pulumi/pulumi/runtime/settings") as { waitForRPCs: () => Promise<void> };

/**
 * Pulumi takes a stack trace for every promise it makes (`debuggablePromise`) and every resource
 * (its source position). Under jest each one goes through jest's source-map formatter, installed in
 * the main realm, which Node falls back to when the test realm has none: that was half of a
 * program run's time. During a run, errors without a message (those stack captures) get no frames;
 * real errors keep theirs, unmapped.
 */
async function withCheapStackTraces<T>(fn: () => Promise<T>): Promise<T> {
  const previous = Error.prepareStackTrace;
  Error.prepareStackTrace = (e: Error, frames: NodeJS.CallSite[]) =>
    e.message ? `${e}${frames.map((f) => `\n    at ${f}`).join("")}` : `${e}`;
  try {
    return await fn();
  } finally {
    Error.prepareStackTrace = previous;
  }
}
