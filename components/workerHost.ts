import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import { SshConnection } from "../config";
import { PackageSource, stagedDir, synapsePaths } from "../render/paths";
import {
  redisStepParams, renderWorkerConfig, renderWorkerTarget, renderWorkerUnit, WorkerSpec, workerTarget, workerUnitTemplate,
} from "../render/workers";
import { hostFirewall } from "./firewall";
import { scriptStep, sha256, stagedFile, synapsePackages, teardownStep } from "./remote";
import { synapseConfig } from "./synapseConfig";
import { SynapseConfigFile } from "./synapseExtension";

export interface WorkerHostArgs {
  connection: SshConnection;
  /** Its private address: where its workers listen. */
  address: string;
  workers: WorkerSpec[];
  serverName: pulumi.Input<string>;
  packageSource: PackageSource;
  reportStats: pulumi.Input<boolean>;
  /** The Synapse release the stack holds, and a PyPI install's lock (Upgrades). */
  version: pulumi.Input<string>;
  lock?: pulumi.Input<string>;
  /** This host's upgrade gate (Upgrades.gate): its answer joins the workers step's parameters. */
  gate?: command.remote.Command;
  /** The files every Synapse process reads, as the Synapse VPS has them (SynapseHost.sharedConfigFiles). */
  sharedConfigFiles: SynapseConfigFile[];
  /** The Synapse VPS's signing key (secret). */
  signingKey: pulumi.Input<string>;
  workerMemoryMiB: pulumi.Input<number>;
  /** The other hosts of the pool (the Synapse VPS, other worker hosts): the only ones its workers admit. */
  peers: pulumi.Input<string>[];
}

/**
 * A VPS that runs some of Synapse's workers and nothing else: the package (its main unit
 * disabled), the Synapse VPS's config and signing key, its workers' files checked by Synapse's
 * loader before they go live, the workers' units, and a firewall admitting only the pool's hosts
 * to the workers' listeners on its private address.
 */
export class WorkerHost extends pulumi.ComponentResource {
  /** Its workers run and answer /health on the current config. */
  public readonly workersReady: command.remote.Command;

  constructor(name: string, args: WorkerHostArgs, opts?: pulumi.ComponentResourceOptions) {
    super("synapse:index:WorkerHost", name, {}, opts);
    const conn = args.connection;
    const python = pulumi.output(args.packageSource).apply((s) => synapsePaths(s).python);
    const workerFiles = args.workers.map((w) => ({ w, path: `workers/${w.name}.yaml` }));

    teardownStep(`${name}-teardown`, {
      connection: conn, script: "synapse-workers-teardown", params: { UNIT: workerUnitTemplate, TARGET: workerTarget },
    }, { parent: this });
    const packages = synapsePackages(name, {
      connection: conn, serverName: args.serverName, packageSource: args.packageSource, reportStats: args.reportStats,
      version: args.version, lock: args.lock, gate: args.gate,
    }, { parent: this });
    const redisClient = scriptStep(`${name}-redis-client`, {
      connection: conn, script: "redis-ensure",
      params: python.apply((p) => redisStepParams(p, { server: false })),
    }, { parent: this, dependsOn: [packages] });
    const firewall = hostFirewall(`${name}-firewall`, {
      connection: conn, name: "workers", ports: args.workers.map((w) => w.port), clients: args.peers, after: [packages],
    }, this);

    const configFiles: SynapseConfigFile[] = [
      ...args.sharedConfigFiles,
      { name: "signing-key", path: "homeserver.signing.key", mode: "0600", owner: "matrix-synapse:", content: pulumi.secret(args.signingKey) },
      ...workerFiles.map(({ w, path }) => ({ name: `worker-${w.name}`, path, mode: "0644", owner: "root:root", content: renderWorkerConfig(w) })),
    ];
    const unitContents = [
      { file: workerUnitTemplate, key: "worker-unit", content: pulumi.all([python, args.workerMemoryMiB]).apply(([p, mib]) => renderWorkerUnit(p, mib, true)) },
      { file: workerTarget, key: "worker-target", content: pulumi.output(renderWorkerTarget(true)) },
    ];
    const units = unitContents.map(({ file, key, content }) => stagedFile(`${name}-staged-${key}`, {
      connection: conn, path: `${stagedDir}/workers/${file}`, content, mode: "0644", owner: "root:root",
    }, { parent: this, dependsOn: [packages] }));

    // Synapse's loader checks each worker's view of the config; the package's main unit stays off.
    const config = synapseConfig(name, {
      connection: conn, serverName: args.serverName, python, files: configFiles, workerFiles: workerFiles.map((f) => f.path),
      after: [packages], activationAfter: () => [redisClient],
    }, this);
    // Re-run whenever the config, the units, the release or what the gate stopped change: the step
    // restarts workers whose files are newer, and starts those not running.
    this.workersReady = scriptStep(`${name}-workers`, {
      connection: conn, script: "synapse-workers",
      params: pulumi.all([config.params, args.version, args.gate?.stdout ?? "", pulumi.all(unitContents.map((u) => u.content))])
        .apply(([p, version, gate, unitTexts]) => ({
        WORKERS: args.workers.map((w) => `${w.name}:${w.port}`).join(" "), UNIT: workerUnitTemplate, TARGET: workerTarget,
        HOST: args.address, ACTIVATION: sha256([String(p.CONFIG_SHA256), version, gate, ...unitTexts].join("\0")).slice(0, 16),
      })),
    }, { parent: this, dependsOn: [config.activation, firewall, ...units] });
    this.registerOutputs({ workers: args.workers.map((w) => w.name) });
  }
}
