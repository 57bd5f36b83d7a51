import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import { HostPackagePlan, hostPackagesParams } from "../render/packages";
import { scriptStep } from "./remote";

export interface HostPackagesArgs {
  /** One plan per host (render/packages.ts). */
  plans: HostPackagePlan[];
  /** The Synapse release the stack holds: a missing package is installed (and pinned) at it. */
  synapseVersion: pulumi.Input<string>;
  /** The PostgreSQL major the stack holds: the per-major packages' %s. */
  postgresMajor: pulumi.Input<string>;
}

/**
 * Every host's Debian packages in one apt transaction, before the other components' steps (they
 * depend on this component). On a host that runs Synapse it also checks the host first, and keeps
 * Synapse from starting on the package's default config.
 */
export class HostPackages extends pulumi.ComponentResource {
  public readonly steps: command.remote.Command[];

  constructor(name: string, args: HostPackagesArgs, opts?: pulumi.ComponentResourceOptions) {
    super("synapse:index:HostPackages", name, {}, opts);
    this.steps = args.plans.map((plan) => scriptStep(`${name}-${plan.role}`, {
      connection: plan.connection, script: "host-packages",
      params: pulumi.all([args.synapseVersion, args.postgresMajor]).apply(([synapse, postgresMajor]) => hostPackagesParams(plan, { synapse, postgresMajor })),
    }, { parent: this }));
    this.registerOutputs({ packages: this.steps.map((s) => s.stdout) });
  }
}
