// Synapse's config on a host, the one way both hosts that run Synapse take it: each file staged
// under /var/lib/synapse-deploy/staged/synapse, then synapse-activate checks the staged set with
// Synapse's own loader (each worker file as its worker loads it) and only then puts it live. The
// activation's parameters carry a fingerprint of every file, so it runs again exactly when one
// changes. SynapseHost (the main process) and WorkerHost (workers elsewhere) use it.
import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import { stagedDir } from "../render/paths";
import { ScriptParams } from "../render/script";
import { fingerprint, scriptStep, SshConnectionArgs, stagedFile } from "./remote";
import { SynapseConfigFile } from "./synapseExtension";

export interface SynapseConfigArgs {
  connection: SshConnectionArgs;
  serverName: pulumi.Input<string>;
  /** The package's interpreter: it has Synapse's loader. */
  python: pulumi.Input<string>;
  /** Every file under /etc/matrix-synapse the host gets. */
  files: SynapseConfigFile[];
  /** Those among `files` that are worker files. */
  workerFiles: string[];
  /**
   * The main process's health URL, awaited after a restart; none on a worker host, where the main
   * process never runs (its unit stays disabled, and the signing key must come staged).
   */
  health?: string;
  /** More that re-runs the activation when it changes, by parameter name (the extensions' digest). */
  digests?: Record<string, pulumi.Input<string>>;
  /** What the staged files follow (the packages). */
  after: pulumi.Resource[];
  /** What the activation follows besides the staged files: steps made once those exist. */
  activationAfter?: (staged: pulumi.Resource[]) => pulumi.Resource[];
}

export interface SynapseConfig {
  /** The activation: Synapse (or, on a worker host, only its files) on the current config. */
  activation: command.remote.Command;
  /** Its parameters: a step that must follow every activation takes their digest. */
  params: pulumi.Output<ScriptParams>;
}

export function synapseConfig(name: string, args: SynapseConfigArgs, parent: pulumi.Resource): SynapseConfig {
  const staged = args.files.map((f) => stagedFile(`${name}-staged-${f.name}`, {
    connection: args.connection, path: `${stagedDir}/synapse/${f.path}`, content: f.content, mode: f.mode, owner: f.owner,
  }, { parent, dependsOn: args.after }));
  const params = pulumi.all([args.serverName, args.python, fingerprint(args.files.map((f) => f.content)), pulumi.all(args.digests ?? {})])
    .apply(([serverName, python, config, digests]): ScriptParams => ({
      SERVER_NAME: serverName,
      PYTHON: python,
      FILES: args.files.map((f) => f.path).join(" "),
      HEALTH_URL: args.health ?? "none",
      ...(args.health ? {} : { MAIN: false }),
      ...(args.workerFiles.length > 0 ? { WORKER_FILES: args.workerFiles.join(" ") } : {}),
      // Re-run (and restart) whenever any staged file changes.
      CONFIG_SHA256: config,
      ...digests,
    }));
  const activation = scriptStep(`${name}-activate`, { connection: args.connection, script: "synapse-activate", params },
    { parent, dependsOn: [...staged, ...(args.activationAfter?.(staged) ?? [])] });
  return { activation, params };
}
