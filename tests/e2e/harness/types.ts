// Shared types of the e2e apply harness (state file, report, plan).
// Pure type module: imported by the harness, its tests and the unit tests.

/** What the engine would do to one resource in one apply. */
export type Op = "create" | "update" | "replace" | "unchanged" | "delete";

/** A JSON value as stored in the state file (assets are normalised, see `AssetJson`). */
export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/** How an asset input is recorded: its content hash decides whether it changed, like the engine. */
export interface AssetJson {
  $asset: "text" | "file";
  /** sha256 of the content (what the engine diffs on). */
  hash: string;
  text?: string;
  path?: string;
}

/** One resource in the state file: what the last successful apply left behind. */
export interface StateResource {
  /** Stable key: the real engine's URN, `urn:pulumi:<stack>::<project>::<Parent$...$Type>::<name>`. */
  key: string;
  type: string;
  name: string;
  /** Key (URN) of the parent resource; absent for top-level resources. */
  parent?: string;
  /** false for ComponentResources (nothing is performed for them). */
  custom: boolean;
  id?: string;
  /** Inputs as the provider received them (secrets in clear: the state file is a test artifact). */
  inputs: Record<string, Json>;
  /** Inputs plus what the provider computed (stdout, stderr, result, defaults). */
  outputs: Record<string, Json>;
  /** Keys (URNs) of everything this resource depended on (dependsOn + inputs), as the engine records. */
  dependencies: string[];
  /** Top-level input/output property names that were secret. */
  secretPaths: string[];
  deleteBeforeReplace?: boolean;
  replaceOnChanges?: string[];
}

export interface StateFile {
  version: 1;
  project: string;
  stack: string;
  updatedAt: string;
  resources: Record<string, StateResource>;
  /** Replaced resources whose delete failed; retried (deleted) by the next apply, like the engine's pending deletes. */
  pendingDeletes?: StateResource[];
  /** Stack outputs of the last successful apply, secrets in clear (like `pulumi stack output --show-secrets`). */
  outputs?: Record<string, unknown>;
}

/** What `planDiff` needs to know about a resource registered by the current apply. */
export interface PlannedResource {
  type: string;
  inputs: Record<string, Json>;
  /** The resource's `replaceOnChanges` option (the command SDK adds `triggers[*]` itself). */
  replaceOnChanges?: string[];
  /** false for ComponentResources. */
  custom?: boolean;
}

export interface ReportResource {
  key: string;
  type: string;
  name: string;
  parent?: string;
  custom: boolean;
  op: Op;
  /** Wall time of what the harness performed for this resource (0 when nothing ran). */
  seconds: number;
  /** Top-level input names that differ from the previous apply (update/replace). */
  changed?: string[];
  /** Inputs of this apply, secret values replaced by "[secret]". */
  inputs?: Record<string, Json>;
  /** For commands: stdout/stderr of this apply (secret values redacted); absent if nothing ran. */
  stdout?: string;
  stderr?: string;
  /** Set when this resource failed (redacted). */
  error?: string;
  /** Offsets from the start of the apply (seconds) — shows the order things ran in. */
  startedAt?: number;
  finishedAt?: number;
}

export interface ApplyReport {
  ok: boolean;
  error?: string;
  preview: boolean;
  project: string;
  stack: string;
  /** The program module's exported values, awaited. Secret ones as "[secret]", unknown (preview) as "<unknown>". */
  outputs: Record<string, unknown>;
  /** In the order they were registered; deletes last. */
  resources: ReportResource[];
  /** Things the real provider/CLI would do that the program probably does not want (secret leaks...). */
  warnings: string[];
  wallSeconds: number;
}

/** config.json given to the harness. */
export interface ConfigFile {
  /** Full keys, e.g. "synapse:serverName". Non-string values are passed JSON-encoded, like structured config. */
  config: Record<string, unknown>;
  /** Keys (full form) that are secret. */
  secrets?: string[];
  stack?: string;
  /** Defaults to Pulumi.yaml's `name` next to the program, else "synapse". */
  project?: string;
}
