// The two shapes every host step takes: run a rendered script, or stage a file (content on
// stdin). Components use these; they never build command strings themselves.
import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import { createHash } from "node:crypto";
import { packagesParam, synapsePackageParams, synapseStepPackages } from "../render/packages";
import { PackageSource, stagedDir, workerUnitTemplate } from "../render/paths";
import { pypiUnitStagedPath, renderPypiSynapseUnit, renderStartDropIn, startDropInStagedPath } from "../render/synapseService";
import { remoteCommand, ScriptParams } from "../render/script";

/** An SSH connection. The private key is made secret here, whatever the caller passed. */
export interface SshConnectionArgs {
  host: pulumi.Input<string>;
  port?: pulumi.Input<number>;
  user?: pulumi.Input<string>;
  privateKey: pulumi.Input<string>;
}

export function connectionOf(c: SshConnectionArgs): command.types.input.remote.ConnectionArgs {
  return {
    host: c.host,
    port: c.port ?? 22,
    user: c.user ?? "root",
    privateKey: pulumi.secret(c.privateKey),
    // A VPS that is still booting refuses a few dials; keep trying for about a minute.
    dialErrorLimit: 20,
    perDialTimeout: 15,
  };
}

export interface ScriptStepArgs {
  connection: SshConnectionArgs;
  /** Script in scripts/ (without .sh). */
  script: string;
  params?: pulumi.Input<ScriptParams>;
  /** Content for the script; mark secrets with pulumi.secret. */
  stdin?: pulumi.Input<string>;
  /** The command's stdout carries a secret (e.g. an access token). */
  secretStdout?: boolean;
  /** Run when the step leaves the program (or on `pulumi destroy`). */
  teardown?: { script: string; params?: pulumi.Input<ScriptParams> };
}

/** The command string running `script` with `params` (sudo for a non-root user). */
function scriptCommand(connection: SshConnectionArgs, script: string, params?: pulumi.Input<ScriptParams>): pulumi.Output<string> {
  // Only the user name goes into the command string: never the key.
  return pulumi
    .all([pulumi.output(connection.user ?? "root"), pulumi.output(params ?? {})])
    .apply(([user, p]) => remoteCommand(script, p, user));
}

export function scriptStep(name: string, args: ScriptStepArgs, opts: pulumi.CustomResourceOptions): command.remote.Command {
  return new command.remote.Command(name, {
    connection: connectionOf(args.connection),
    create: scriptCommand(args.connection, args.script, args.params),
    delete: args.teardown ? scriptCommand(args.connection, args.teardown.script, args.teardown.params) : undefined,
    stdin: args.stdin,
    logging: args.secretStdout ? "stderr" : "stdoutAndStderr",
    // No script reads its previous output; sending it (possibly a token) as SSH environment
    // requests only leaks it to the host and draws a warning from every stock sshd.
    addPreviousOutputInEnv: false,
  }, { ...opts, additionalSecretOutputs: args.secretStdout ? ["stdout"] : undefined });
}

export interface TeardownStepArgs {
  connection: SshConnectionArgs;
  /** Script in scripts/ (without .sh), run only when the resource is deleted. */
  script: string;
  params?: pulumi.Input<ScriptParams>;
}

/**
 * What `pulumi destroy` (or a component leaving the program) does on a host: a command with only
 * a `delete`. Creating or updating it runs nothing, so it can exist from the first step on, and
 * its parent's place in the dependency graph orders it (nginx before Synapse before PostgreSQL).
 */
export function teardownStep(name: string, args: TeardownStepArgs, opts: pulumi.CustomResourceOptions): command.remote.Command {
  return new command.remote.Command(name, {
    connection: connectionOf(args.connection),
    delete: scriptCommand(args.connection, args.script, args.params),
    logging: "stdoutAndStderr",
    addPreviousOutputInEnv: false,
  }, opts);
}

export interface StagedFileArgs {
  connection: SshConnectionArgs;
  path: string;
  content: pulumi.Input<string>;
  mode: string;
  owner: string;
}

/** Writes `content` to `path` through stdin; the content shows in preview diffs unless secret. */
export function stagedFile(name: string, args: StagedFileArgs, opts: pulumi.CustomResourceOptions): command.remote.Command {
  return scriptStep(name, {
    connection: args.connection,
    script: "stage-file",
    params: { DEST: args.path, MODE: args.mode, OWNER: args.owner },
    stdin: args.content,
  }, opts);
}

export function sha256(text: string): string {
  return createHash("sha256").update(text).digest("hex");
}

/**
 * A fingerprint of content that may be secret, safe to show: a SHA-256 of high-entropy secrets
 * reveals nothing, and lets an activation step re-run (and say so in the diff) when they change.
 */
export function fingerprint(contents: pulumi.Input<string>[]): pulumi.Output<string> {
  return pulumi.unsecret(pulumi.all(contents).apply((cs) => sha256(cs.join("\0")).slice(0, 16)));
}

export interface SynapsePackagesArgs {
  connection: SshConnectionArgs;
  serverName: pulumi.Input<string>;
  packageSource: PackageSource;
  reportStats: pulumi.Input<boolean>;
  /** The release the stack holds (Upgrades). */
  version: pulumi.Input<string>;
  /** A PyPI install's lock (Upgrades). */
  lock?: pulumi.Input<string>;
  /** This host's upgrade gate: a release replacing another goes in only after it stopped Synapse. */
  gate?: pulumi.Resource;
}

/**
 * The first two steps on any host that runs Synapse (main process or workers): the preflight
 * (a Debian/Ubuntu host serving no other server name), then Synapse at the release the stack
 * holds: the package, never started on its default config, or from PyPI the virtualenv, the
 * service user and the unit. Returns the packages step, which the host's other steps follow.
 */
export function synapsePackages(name: string, args: SynapsePackagesArgs, opts: pulumi.CustomResourceOptions): command.remote.Command {
  const preflight = scriptStep(`${name}-preflight`, {
    connection: args.connection, script: "synapse-preflight",
    params: pulumi.output(args.serverName).apply((s) => ({ SERVER_NAME: s })),
  }, opts);
  const pypi = args.packageSource === "pypi";
  // The unit (PyPI) and the start timeout's drop-in (every source), staged for the step to put live.
  const units = [
    { key: "start-dropin", path: startDropInStagedPath, content: renderStartDropIn() },
    ...(pypi ? [{ key: "unit", path: pypiUnitStagedPath, content: renderPypiSynapseUnit() }] : []),
  ];
  const staged = units.map((u) => stagedFile(`${name}-staged-${u.key}`, {
    connection: args.connection, path: `${stagedDir}/${u.path}`, content: u.content, mode: "0644", owner: "root:root",
  }, { ...opts, dependsOn: [preflight] }));
  return scriptStep(`${name}-packages`, {
    connection: args.connection, script: "synapse-packages",
    params: pulumi.all([args.serverName, args.reportStats, args.version]).apply(([serverName, stats, version]) => ({
      SOURCE: args.packageSource, SERVER_NAME: serverName, REPORT_STATS: stats, VERSION: version,
      START_DROPIN: `${stagedDir}/${startDropInStagedPath}`,
      ...(pypi ? { UNIT: `${stagedDir}/${pypiUnitStagedPath}` } : {}),
      UNITS_SHA256: sha256(units.map((u) => u.content).join("\0")).slice(0, 16),
      PACKAGES: packagesParam(synapseStepPackages(args.packageSource)),
      ...synapsePackageParams(args.packageSource),
      WORKER_UNIT: workerUnitTemplate,
    })),
    stdin: pypi ? args.lock : undefined,
  }, { ...opts, dependsOn: [preflight, ...staged, ...(args.gate ? [args.gate] : [])] });
}
