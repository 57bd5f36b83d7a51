import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import { WorkerCounts } from "../config";
import { HomeserverPart } from "../render/homeserver";
import { NginxRouting } from "../render/nginx";
import { PackageSource, synapsePaths } from "../render/paths";
import {
  redisAddress, renderWorkerConfig, renderWorkerTarget, renderWorkerUnit, WorkerSpec, workerPlan, workerRouting,
  txredisapiVersion, workersHomeserverPart, workerTarget, workerUnitTemplate,
} from "../render/workers";
import { SynapseExtension } from "./synapseExtension";

export interface WorkerPoolArgs {
  /** Workers per kind; all 0 is a single process. Known when the program runs: it decides resources. */
  counts: WorkerCounts;
  packageSource: pulumi.Input<PackageSource>;
  /** systemd MemoryHigh of each worker (MiB). */
  workerMemoryMiB: pulumi.Input<number>;
  /** Equal to Synapse's max_upload_size (nginx's client_max_body_size on the media routes). */
  maxUploadSize: pulumi.Input<string>;
}

/**
 * Synapse's workers on the Synapse host: Redis, the main process's replication settings, one
 * config file per worker (checked by Synapse's loader with the main config), the systemd template,
 * and nginx's routing. It owns no host steps of its own: SynapseHost runs them in its order
 * (Redis before the config check, the workers once the main process runs on the new config).
 */
export class WorkerPool extends pulumi.ComponentResource {
  public readonly workers: WorkerSpec[];
  public readonly homeserverPart: HomeserverPart;
  /** What the Synapse host gets; none without workers. */
  public readonly synapseExtension?: SynapseExtension;
  public readonly routing: pulumi.Output<NginxRouting>;

  constructor(name: string, args: WorkerPoolArgs, opts?: pulumi.ComponentResourceOptions) {
    super("synapse:index:WorkerPool", name, {}, opts);
    this.workers = workerPlan(args.counts);
    this.homeserverPart = workersHomeserverPart(this.workers);
    this.routing = pulumi.output(args.maxUploadSize).apply((size) => workerRouting(this.workers, size));
    this.synapseExtension = this.workers.length === 0 ? undefined : this.extension(name, args);
    this.registerOutputs({ workers: this.workers.map((w) => w.name), homeserverPart: this.homeserverPart });
  }

  private extension(name: string, args: WorkerPoolArgs): SynapseExtension {
    const python = pulumi.output(args.packageSource).apply((s) => synapsePaths(s).python);
    const replicationSecret = new random.RandomPassword(`${name}-replication-secret`, { length: 48, special: false }, { parent: this });
    const files = this.workers.map((w) => ({ worker: w, path: `workers/${w.name}.yaml`, content: renderWorkerConfig(w) }));
    const unit = pulumi.all([python, args.workerMemoryMiB]).apply(([p, mib]) => renderWorkerUnit(p, mib));
    return {
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
        params: { WORKERS: this.workers.map((w) => `${w.name}:${w.port}`).join(" "), UNIT: workerUnitTemplate, TARGET: workerTarget },
        teardown: { script: "synapse-workers-teardown", params: { UNIT: workerUnitTemplate, TARGET: workerTarget } },
      }],
    };
  }
}
