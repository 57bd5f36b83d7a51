import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import { SshConnection, WorkerCounts } from "../config";
import { firewallStep } from "../render/firewall";
import { HomeserverPart } from "../render/homeserver";
import { NginxRouting } from "../render/nginx";
import { PackageSource, synapsePaths } from "../render/paths";
import {
  loopback, mainReplication, redisAddress, redisPasswordFile, renderWorkerConfig, renderWorkerTarget, renderWorkerUnit, spansHosts,
  WorkerSpec, workerPlan, workerRouting, txredisapiVersion, workersHomeserverPart, workerTarget, workerUnitTemplate,
} from "../render/workers";
import { SynapseExtension } from "./synapseExtension";

export interface WorkerHostPlan {
  /** Its private address: where its workers listen. */
  address: string;
  connection: SshConnection;
  workers: WorkerSpec[];
}

export interface WorkerPoolArgs {
  /** Workers per kind; all 0 is a single process. Known when the program runs: it decides resources. */
  counts: WorkerCounts;
  packageSource: PackageSource;
  /** systemd MemoryHigh of each worker (MiB). */
  workerMemoryMiB: pulumi.Input<number>;
  /** Equal to Synapse's max_upload_size (nginx's client_max_body_size on the media routes). */
  maxUploadSize: pulumi.Input<string>;
  /** More hosts for workers, on the private network (each gets a WorkerHost). */
  workerHosts?: { address: string; connection: SshConnection }[];
  /** The Synapse VPS's private address: replication and Redis listen there when workers run elsewhere. */
  mainAddress?: string;
}

/**
 * Synapse's workers: Redis, the main process's replication settings, one config file per worker
 * (checked by Synapse's loader with the main config), the systemd template, and nginx's routing.
 * Workers on the Synapse VPS are its extension (SynapseHost runs their steps in its order: Redis
 * before the config check, the workers once the main process runs on the new config); workers
 * on other hosts are each host's WorkerHost. Redis and replication then listen on the private
 * address too, Redis with a password, and a firewall admits only the worker hosts to them.
 */
export class WorkerPool extends pulumi.ComponentResource {
  public readonly workers: WorkerSpec[];
  public readonly homeserverPart: HomeserverPart;
  /** What the Synapse host gets; none without workers. */
  public readonly synapseExtension?: SynapseExtension;
  public readonly routing: pulumi.Output<NginxRouting>;
  /** The worker hosts and the workers each runs. */
  public readonly remoteHosts: WorkerHostPlan[];

  constructor(name: string, args: WorkerPoolArgs, opts?: pulumi.ComponentResourceOptions) {
    super("synapse:index:WorkerPool", name, {}, opts);
    const hosts = args.workerHosts ?? [];
    this.workers = workerPlan(args.counts, hosts.map((h) => h.address));
    this.homeserverPart = workersHomeserverPart(this.workers, args.mainAddress);
    this.routing = pulumi.output(args.maxUploadSize).apply((size) => workerRouting(this.workers, size));
    this.remoteHosts = hosts.map((h) => ({ ...h, workers: this.workers.filter((w) => w.host === h.address) }))
      .filter((h) => h.workers.length > 0);
    this.synapseExtension = this.workers.length === 0 ? undefined : this.extension(name, args);
    this.registerOutputs({ workers: this.workers.map((w) => w.name), homeserverPart: this.homeserverPart });
  }

  private extension(name: string, args: WorkerPoolArgs): SynapseExtension {
    const python = pulumi.output(synapsePaths(args.packageSource).python);
    const replicationSecret = new random.RandomPassword(`${name}-replication-secret`, { length: 48, special: false }, { parent: this });
    const local = this.workers.filter((w) => w.host === loopback);
    const files = local.map((w) => ({ worker: w, path: `workers/${w.name}.yaml`, content: renderWorkerConfig(w) }));
    const unit = pulumi.all([python, args.workerMemoryMiB]).apply(([p, mib]) => renderWorkerUnit(p, mib));
    const extension: SynapseExtension = {
      secrets: { worker_replication_secret: pulumi.secret(replicationSecret.result) },
      configFiles: files.map(({ worker, path, content }) => ({
        name: `worker-${worker.name}`, path, mode: "0644", owner: "root:root", content,
      })),
      workerConfigs: files.map((f) => f.path),
      stagedFiles: [
        { name: "worker-unit", path: `workers/${workerUnitTemplate}`, content: unit },
        { name: "worker-target", path: `workers/${workerTarget}`, content: renderWorkerTarget() },
      ],
      beforeActivation: [{
        name: "redis", script: "redis-ensure",
        params: python.apply((p) => ({ PYTHON: p, PORT: redisAddress.port, TXREDISAPI_VERSION: txredisapiVersion })),
      }],
      afterActivation: [{
        name: "workers", script: "synapse-workers",
        // After every activation: its check covers the worker files and units (a change re-runs it),
        // and the main process's restart restarts the workers (PartOf), whose health this step awaits.
        afterEveryActivation: true,
        params: { WORKERS: local.map((w) => `${w.name}:${w.port}`).join(" "), UNIT: workerUnitTemplate, TARGET: workerTarget },
        teardown: { script: "synapse-workers-teardown", params: { UNIT: workerUnitTemplate, TARGET: workerTarget } },
      }],
    };
    return spansHosts(this.workers) ? this.acrossHosts(name, extension, python, args.mainAddress!) : extension;
  }

  /** Redis on the private address with a password, and the firewall admitting only the worker hosts. */
  private acrossHosts(name: string, extension: SynapseExtension, python: pulumi.Output<string>, mainAddress: string): SynapseExtension {
    const password = pulumi.secret(new random.RandomPassword(`${name}-redis-password`, { length: 40, special: false }, { parent: this }).result);
    const firewall = firewallStep({ name: "workers-main", ports: [mainReplication.port, redisAddress.port], clients: this.remoteHosts.map((h) => h.address) });
    return {
      ...extension,
      configFiles: [...extension.configFiles!, { name: "redis-password", path: redisPasswordFile.split("/").pop()!, mode: "0600", owner: "matrix-synapse:", content: password }],
      stagedFiles: [...extension.stagedFiles!, ...firewall.files.map((f) => ({ name: `firewall-${f.key}`, path: f.path, content: f.content }))],
      beforeActivation: [
        { name: "firewall", script: "firewall", params: firewall.params },
        {
          name: "redis", script: "redis-ensure", stdin: password,
          params: python.apply((p) => ({ PYTHON: p, PORT: redisAddress.port, TXREDISAPI_VERSION: txredisapiVersion, BIND: mainAddress })),
        },
      ],
    };
  }
}
