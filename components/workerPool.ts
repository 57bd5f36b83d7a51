import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import { WorkerCounts, WorkerHosts, WorkerHostSpec } from "../config";
import { firewallStep } from "../render/firewall";
import { HomeserverPart } from "../render/homeserver";
import { NginxRouting } from "../render/nginx";
import { PackageSource, synapsePaths } from "../render/paths";
import {
  loopback, mainReplication, redisAddress, redisPasswordName, redisStepParams, renderWorkerConfig, renderWorkerTarget, renderWorkerUnit,
  WorkerSpec, workerPlan, workerRouting, workersHomeserverPart, workerTarget, workerUnitTemplate,
} from "../render/workers";
import { HostStep, SynapseExtension } from "./synapseExtension";
import type { SynapseHost } from "./synapseHost";
import { WorkerHost } from "./workerHost";

export interface WorkerPoolArgs {
  /** Workers per kind; all 0 is a single process. Known when the program runs: it decides resources. */
  counts: WorkerCounts;
  packageSource: PackageSource;
  /** systemd MemoryHigh of each worker (MiB). */
  workerMemoryMiB: pulumi.Input<number>;
  /** Equal to Synapse's max_upload_size (nginx's client_max_body_size on the media routes). */
  maxUploadSize: pulumi.Input<string>;
  /** More hosts for workers on the private network, with the Synapse VPS's address there (each gets a WorkerHost). */
  workerHosts: WorkerHosts;
  /** What a worker host's Synapse package is installed with. */
  serverName: pulumi.Input<string>;
  reportStats: pulumi.Input<boolean>;
}

/** What the worker hosts follow: the packages, and the release the stack holds with its gate per host. */
export interface WorkerHostsOptions {
  dependsOn: pulumi.Resource[];
  /** The Synapse release the stack holds, and a PyPI install's lock (Upgrades). */
  version: pulumi.Input<string>;
  lock?: pulumi.Input<string>;
  /** The upgrade gate of each host of `workerHosts`, in its order (Upgrades.gate). */
  gates: command.remote.Command[];
}

/** Workers on other hosts: each host with its workers, the Synapse VPS's address, the step that reads the signing key there. */
interface Remote {
  mainAddress: string;
  hosts: (WorkerHostSpec & { workers: WorkerSpec[] })[];
  signingKey: HostStep;
}

/**
 * Synapse's workers: Redis, the main process's replication settings, one config file per worker
 * (checked by Synapse's loader with the main config), the systemd template, and nginx's routing.
 * Workers on the Synapse VPS are its extension (SynapseHost runs their steps in its order: Redis
 * before the config check, the workers once the main process runs on the new config); workers
 * on other hosts are each host's WorkerHost (addWorkerHosts, once SynapseHost exists). Redis and
 * replication then listen on the private address too, Redis with a password, and a firewall
 * admits only the worker hosts to them.
 */
export class WorkerPool extends pulumi.ComponentResource {
  public readonly workers: WorkerSpec[];
  public readonly homeserverPart: HomeserverPart;
  /** What the Synapse host gets; none without workers. */
  public readonly synapseExtension?: SynapseExtension;
  public readonly routing: pulumi.Output<NginxRouting>;
  private readonly remote?: Remote;
  private readonly args: WorkerPoolArgs;

  constructor(name: string, args: WorkerPoolArgs, opts?: pulumi.ComponentResourceOptions) {
    super("synapse:index:WorkerPool", name, {}, opts);
    this.args = args;
    const { mainAddress, hosts } = args.workerHosts;
    this.workers = workerPlan(args.counts, hosts.map((h) => h.address));
    this.homeserverPart = workersHomeserverPart(this.workers, mainAddress);
    this.routing = pulumi.output(args.maxUploadSize).apply((size) => workerRouting(this.workers, size));
    const remoteHosts = hosts.map((h) => ({ ...h, workers: this.workers.filter((w) => w.host === h.address) })).filter((h) => h.workers.length > 0);
    if (mainAddress !== undefined && remoteHosts.length > 0) {
      // The worker hosts sign with the Synapse VPS's key: read back there (its stdout is a secret).
      this.remote = { mainAddress, hosts: remoteHosts, signingKey: { name: "signing-key", script: "synapse-signing-key", secretStdout: true } };
    }
    this.synapseExtension = this.workers.length === 0 ? undefined : this.extension(name, args);
    this.registerOutputs({ workers: this.workers.map((w) => w.name), homeserverPart: this.homeserverPart });
  }

  /**
   * The worker hosts, once the main process runs on the config they share: each gets the Synapse
   * VPS's config files and signing key (read back from it by this pool's step there), its workers,
   * and a firewall admitting only the pool's hosts.
   */
  public addWorkerHosts(synapse: SynapseHost, opts: WorkerHostsOptions): WorkerHost[] {
    const remote = this.remote;
    if (!remote) return [];
    // The command's stdout loses the file's final newline; put it back, so copies are byte for byte.
    const signingKey = pulumi.secret(synapse.stepOf(remote.signingKey).stdout.apply((key) => (key.endsWith("\n") ? key : `${key}\n`)));
    const pool = [remote.mainAddress, ...remote.hosts.map((h) => h.address)];
    return remote.hosts.map((h, i) => new WorkerHost(`worker-host-${i + 1}`, {
      connection: h.connection,
      address: h.address,
      workers: h.workers,
      serverName: this.args.serverName,
      packageSource: this.args.packageSource,
      reportStats: this.args.reportStats,
      version: opts.version,
      lock: opts.lock,
      gate: opts.gates[this.args.workerHosts.hosts.findIndex((w) => w.address === h.address)],
      sharedConfigFiles: synapse.sharedConfigFiles,
      signingKey,
      workerMemoryMiB: this.args.workerMemoryMiB,
      peers: pool.filter((a) => a !== h.address),
    }, { parent: this, dependsOn: [...opts.dependsOn, synapse] }));
  }

  private extension(name: string, args: WorkerPoolArgs): SynapseExtension {
    const python = pulumi.output(synapsePaths(args.packageSource).python);
    const replicationSecret = new random.RandomPassword(`${name}-replication-secret`, { length: 48, special: false }, { parent: this });
    const local = this.workers.filter((w) => w.host === loopback);
    const files = local.map((w) => ({ worker: w, path: `workers/${w.name}.yaml`, content: renderWorkerConfig(w) }));
    const unit = pulumi.all([python, args.workerMemoryMiB]).apply(([p, mib]) => renderWorkerUnit(p, mib));
    const remote = this.remote;
    // With workers elsewhere: Redis on the private address too, with a password, and a firewall
    // admitting only the worker hosts to it and to replication.
    const redisPassword = remote
      ? pulumi.secret(new random.RandomPassword(`${name}-redis-password`, { length: 40, special: false }, { parent: this }).result) : undefined;
    const firewall = remote
      ? firewallStep({ name: "workers-main", ports: [mainReplication.port, redisAddress.port], clients: remote.hosts.map((h) => h.address) }) : undefined;
    return {
      secrets: { worker_replication_secret: pulumi.secret(replicationSecret.result) },
      configFiles: [
        ...files.map(({ worker, path, content }) => ({ name: `worker-${worker.name}`, path, mode: "0644", owner: "root:root", content })),
        ...(redisPassword ? [{ name: "redis-password", path: redisPasswordName, mode: "0600", owner: "matrix-synapse:", content: redisPassword }] : []),
      ],
      workerConfigs: files.map((f) => f.path),
      stagedFiles: [
        { name: "worker-unit", path: `workers/${workerUnitTemplate}`, content: unit },
        { name: "worker-target", path: `workers/${workerTarget}`, content: renderWorkerTarget() },
        ...(firewall ? firewall.files.map((f) => ({ name: `firewall-${f.key}`, path: f.path, content: f.content })) : []),
      ],
      beforeActivation: [
        ...(firewall ? [{ name: "firewall", script: "firewall", params: firewall.params }] : []),
        remote
          ? { name: "redis", script: "redis-ensure", stdin: redisPassword, params: python.apply((p) => redisStepParams(p, { bind: remote.mainAddress })) }
          : { name: "redis", script: "redis-ensure", params: python.apply((p) => redisStepParams(p)) },
      ],
      afterActivation: [
        {
          name: "workers", script: "synapse-workers",
          // After every activation: its check covers the worker files and units (a change re-runs it),
          // and the main process's restart restarts the workers (PartOf), whose health this step awaits.
          afterEveryActivation: true,
          params: { WORKERS: local.map((w) => `${w.name}:${w.port}`).join(" "), UNIT: workerUnitTemplate, TARGET: workerTarget },
          teardown: { script: "synapse-workers-teardown", params: { UNIT: workerUnitTemplate, TARGET: workerTarget } },
        },
        ...(remote ? [remote.signingKey] : []),
      ],
    };
  }
}
