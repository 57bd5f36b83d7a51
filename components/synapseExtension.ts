// What another component adds to the Synapse host (MediaBucket's provider and upload job; later
// the worker pool): files checked and put live with homeserver.yaml, files staged for its own
// steps, and steps before Synapse's config check or after Synapse runs on the new config.
// SynapseHost wires them, so they take their place in its order of steps.
import * as pulumi from "@pulumi/pulumi";
import { ScriptParams } from "../render/script";

/** A file in /etc/matrix-synapse: checked by Synapse's loader and put live with homeserver.yaml. */
export interface SynapseConfigFile {
  /** Names the staging resource. */
  name: string;
  /** Relative to /etc/matrix-synapse. */
  path: string;
  content: pulumi.Input<string>;
  mode: string;
  /** "user:" means the user's login group. */
  owner: string;
}

/** A file staged under /var/lib/synapse-deploy/staged/ for a step to put live. */
export interface StagedFileSpec {
  /** Names the staging resource. */
  name: string;
  /** Relative to the staging directory. */
  path: string;
  content: pulumi.Input<string>;
}

/** A script from scripts/ run on the Synapse host; `teardown` runs when the step leaves the program. */
export interface HostStep {
  name: string;
  script: string;
  params?: pulumi.Input<ScriptParams>;
  stdin?: pulumi.Input<string>;
  teardown?: { script: string; params?: pulumi.Input<ScriptParams> };
  /** After activation only: run again whenever the activation runs (ACTIVATION joins its params). */
  afterEveryActivation?: boolean;
  /** Its stdout carries a secret (the signing key). */
  secretStdout?: boolean;
}

export interface SynapseExtension {
  configFiles?: SynapseConfigFile[];
  /** Paths among configFiles that are worker files: each is checked as its worker loads it. */
  workerConfigs?: string[];
  /** Secret homeserver.yaml keys, written to conf.d/secrets.yaml (0600) with SynapseHost's own. */
  secrets?: Record<string, pulumi.Input<string>>;
  stagedFiles?: StagedFileSpec[];
  /** After the packages, before the config check (e.g. a module homeserver.yaml names). */
  beforeActivation?: HostStep[];
  /** Once Synapse runs on the new config. */
  afterActivation?: HostStep[];
}
