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

export async function runProgram(config: Record<string, string>, secretKeys: string[] = ["sshPrivateKey"]): Promise<MockRun> {
  const resources: Recorded[] = [];
  const requests = new Map<string, { urn: string; parent: string; dependencies: string[]; protect: boolean; provider: string }>();
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
        state.stdout = args.name.endsWith("admin-user")
          ? JSON.stringify({ user_id: "@admin:example.org", access_token: adminToken })
          : `done ${args.name}`;
        state.stderr = "";
      }
      const req = requests.get(`${args.type}::${args.name}`) ?? { urn: "", parent: "", dependencies: [], protect: false, provider: "" };
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
      provider: req.getProvider(),
    });
    return register(req, callback);
  };
  const all: Record<string, string> = { "synapse:sshPrivateKey": testPrivateKey };
  for (const [k, v] of Object.entries(config)) all[`synapse:${k}`] = v;
  pulumi.runtime.setAllConfig(all, secretKeys.map((k) => `synapse:${k}`));

  // The program is a function: loading it (and the providers, @pulumi/aws above all) once per test
  // file is what keeps the unit suite fast; each run builds the stack anew from this config.
  const program = (require("../../program") as typeof import("../../program")).synapseProgram();
  const outputs: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(program)) {
    outputs[k] = pulumi.Output.isInstance(v) ? await new Promise((r) => (v as pulumi.Output<unknown>).apply(r)) : v;
  }
  // Let registrations that nothing awaits finish.
  for (let settled = -1; settled !== resources.length;) {
    settled = resources.length;
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    program,
    resources,
    outputs,
    byName(name: string) {
      const r = resources.find((x) => x.name === name);
      if (!r) throw new Error(`no resource named ${name}; have ${resources.map((x) => x.name).join(", ")}`);
      return r;
    },
  };
}
