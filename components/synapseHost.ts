import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import {
  DatabaseSection, HomeserverPart, renderHomeserver, renderLogConfig, renderPassfile, renderSecrets,
} from "../render/homeserver";
import { PackageSource, stagedDir, synapseLocalUrl, synapsePaths } from "../render/paths";
import { startTimeoutSeconds } from "../render/synapseService";
import { fingerprint, scriptStep, sha256, stagedFile, SshConnectionArgs, synapsePackages, teardownStep } from "./remote";
import { HostStep, SynapseConfigFile, SynapseExtension } from "./synapseExtension";

export interface SynapseHostArgs {
  connection: SshConnectionArgs;
  serverName: pulumi.Input<string>;
  packageSource: PackageSource;
  reportStats: pulumi.Input<boolean>;
  /** The Synapse release the stack holds, and a PyPI install's lock (Upgrades). */
  version: pulumi.Input<string>;
  lock?: pulumi.Input<string>;
  /**
   * The upgrade gate on this host (Upgrades.gate): a new release goes in after it, and its answer
   * joins the activation's parameters, so whatever it stopped, the activation starts again.
   */
  gate?: command.remote.Command;
  /** homeserver.yaml, composed from these parts (base settings, database, later workers…). */
  homeserverParts: pulumi.Input<pulumi.Input<HomeserverPart>[]>;
  /** The password for the database section's passfile (secret). */
  databasePassword: pulumi.Input<string>;
  /** Localpart of a first admin user to create; none when unset. */
  adminUser?: pulumi.Input<string | undefined>;
  /** `pulumi destroy` deletes the signing key, media and config (otherwise only stops Synapse). */
  deleteDataOnDestroy?: pulumi.Input<boolean>;
  /** What other components add to this host (MediaBucket…). */
  extensions?: SynapseExtension[];
  /** Read the signing key back (secret) for worker hosts, which sign with the same identity. */
  shareSigningKey?: boolean;
}

/** Files under /etc/matrix-synapse this component owns, relative to it. */
const files = {
  // No secret in these two: world-readable like the package's own.
  homeserver: { path: "homeserver.yaml", mode: "0644", owner: "root:root" },
  log: { path: "log.yaml", mode: "0644", owner: "root:root" },
  // "user:" = the service user's login group, which differs between the two packages.
  secrets: { path: "conf.d/secrets.yaml", mode: "0600", owner: "matrix-synapse:" },
  passfile: { path: "pgpass", mode: "0600", owner: "matrix-synapse:" },
} as const;

/**
 * Synapse on a Debian/Ubuntu host: packages, homeserver.yaml and its secrets, the signing key
 * (made once), a config check by Synapse's own loader before any restart, and the first admin.
 */
export class SynapseHost extends pulumi.ComponentResource {
  public readonly homeserverYaml: pulumi.Output<string>;
  public readonly adminUserId: pulumi.Output<string | undefined>;
  public readonly adminAccessToken: pulumi.Output<string | undefined>;
  /** The first admin's password (secret), when one is created. */
  public readonly adminPassword?: pulumi.Output<string>;
  /** Synapse runs and is healthy on the current config. */
  public readonly activated: command.remote.Command;
  /** The config files every Synapse process reads (homeserver.yaml, conf.d, pgpass…), not workers' own. */
  public readonly sharedConfigFiles: SynapseConfigFile[];
  /** The signing key (secret), with shareSigningKey. */
  public readonly signingKey?: pulumi.Output<string>;
  /** The extensions' steps on this host, by name (their output is some components' result). */
  public readonly extensionSteps: Record<string, command.remote.Command> = {};

  constructor(name: string, args: SynapseHostArgs, opts?: pulumi.ComponentResourceOptions) {
    super("synapse:index:SynapseHost", name, {}, opts);
    const conn = args.connection;
    const paths = synapsePaths(args.packageSource);

    teardownStep(`${name}-teardown`, {
      connection: conn, script: "synapse-teardown",
      params: pulumi.output(args.deleteDataOnDestroy ?? false).apply((deleteData) => ({ DELETE_DATA: deleteData })),
    }, { parent: this });
    const packages = synapsePackages(name, {
      connection: conn, serverName: args.serverName, packageSource: args.packageSource, reportStats: args.reportStats,
      version: args.version, lock: args.lock, gate: args.gate,
    }, { parent: this });

    const secret = (suffix: string) =>
      pulumi.secret(new random.RandomPassword(`${name}-${suffix}`, { length: 48, special: false }, { parent: this }).result);
    const extensions = args.extensions ?? [];
    const extraSecrets = pulumi.all(Object.assign({}, ...extensions.map((e) => e.secrets ?? {})) as Record<string, pulumi.Input<string>>);
    const secretsYaml = pulumi.secret(pulumi.all([secret("registration-secret"), secret("macaroon-key"), secret("form-secret"), extraSecrets])
      .apply(([registrationSharedSecret, macaroonSecretKey, formSecret, extra]) =>
        renderSecrets({ registrationSharedSecret, macaroonSecretKey, formSecret }, extra)));

    const parts = pulumi.output(args.homeserverParts);
    this.homeserverYaml = parts.apply(renderHomeserver);
    const databaseArgs = parts.apply((ps) => {
      const db = ps.find((p) => p.database)?.database as DatabaseSection | undefined;
      if (!db) throw new Error("SynapseHost: no homeserver part has a database section");
      return db.args;
    });
    const passfile = pulumi.secret(pulumi.all([databaseArgs, args.databasePassword]).apply(([db, pw]) => renderPassfile(db, pw)));
    const logYaml = renderLogConfig();

    const contents: Record<keyof typeof files, pulumi.Input<string>> = {
      homeserver: this.homeserverYaml, log: logYaml, secrets: secretsYaml, passfile,
    };
    const configFiles: SynapseConfigFile[] = [
      ...(Object.keys(files) as (keyof typeof files)[]).map((key) => ({ ...files[key], name: key, content: contents[key] })),
      ...extensions.flatMap((e) => e.configFiles ?? []),
    ];
    const staged = configFiles.map((f) =>
      stagedFile(`${name}-staged-${f.name}`, {
        connection: conn, path: `${stagedDir}/synapse/${f.path}`, content: f.content, mode: f.mode, owner: f.owner,
      }, { parent: this, dependsOn: [packages] }));
    const extensionStaged = extensions.flatMap((e) => e.stagedFiles ?? []).map((f) =>
      stagedFile(`${name}-staged-${f.name}`, {
        connection: conn, path: `${stagedDir}/${f.path}`, content: f.content, mode: "0644", owner: "root:root",
      }, { parent: this, dependsOn: [packages] }));
    const hostStep = (step: HostStep, dependsOn: pulumi.Resource[]) => scriptStep(`${name}-${step.name}`, {
      connection: conn, script: step.script, params: step.params, stdin: step.stdin, teardown: step.teardown,
    }, { parent: this, dependsOn });
    // After the staged config too: a step may read it (the restore reads the staged passfile).
    const before = extensions.flatMap((e) => e.beforeActivation ?? []).map((step) => hostStep(step, [packages, ...staged, ...extensionStaged]));
    extensions.flatMap((e) => e.beforeActivation ?? []).forEach((step, i) => { this.extensionSteps[step.name] = before[i]; });

    // The extensions' staged files and steps count as config: a change re-runs the activation.
    const extensionDigest = pulumi.unsecret(pulumi.all([
      ...extensions.flatMap((e) => e.stagedFiles ?? []).map((f) => f.content),
      ...extensions.flatMap((e) => e.beforeActivation ?? []).map((st) => pulumi.output(st.params ?? {}).apply((p) => JSON.stringify(p))),
    ]).apply((parts) => sha256(parts.join("\0")).slice(0, 16)));
    const plainConfig = [this.homeserverYaml, logYaml];
    const workerConfigs = extensions.flatMap((e) => e.workerConfigs ?? []);
    const activationParams = pulumi.all([args.serverName, pulumi.all(plainConfig),
        fingerprint([secretsYaml, passfile, ...configFiles.slice(Object.keys(files).length).map((f) => f.content)]), extensionDigest,
        args.version, args.gate?.stdout ?? ""])
      .apply(([serverName, plain, secretsFingerprint, extensionsFingerprint, version, gate]) => ({
          SERVER_NAME: serverName,
          PYTHON: paths.python,
          // A new release, or what the gate stopped, runs the activation again: it starts Synapse.
          SYNAPSE_VERSION: version,
          ...(gate ? { GATE: gate.trim() } : {}),
          FILES: configFiles.map((f) => f.path).join(" "),
          HEALTH_URL: `${synapseLocalUrl}/health`,
          START_TIMEOUT: startTimeoutSeconds,
          // Re-run (and restart) whenever any staged file changes.
          CONFIG_SHA256: sha256(plain.join("")).slice(0, 16),
          SECRETS_SHA256: secretsFingerprint,
          ...(extensions.length > 0 ? { EXTENSIONS_SHA256: extensionsFingerprint } : {}),
          ...(workerConfigs.length > 0 ? { WORKER_FILES: workerConfigs.join(" ") } : {}),
        }));
    this.activated = scriptStep(`${name}-activate`, {
      connection: conn, script: "synapse-activate", params: activationParams,
    }, { parent: this, dependsOn: [...staged, ...before] });
    // Steps that follow every activation (the workers, restarted with the main process) re-run with it.
    const activationDigest = pulumi.unsecret(activationParams.apply((p) => sha256(JSON.stringify(p)).slice(0, 16)));
    extensions.flatMap((e) => e.afterActivation ?? []).forEach((step) => { this.extensionSteps[step.name] = hostStep(
      step.afterEveryActivation
        ? { ...step, params: pulumi.all([step.params ?? {}, activationDigest]).apply(([p, d]) => ({ ...p, ACTIVATION: d })) }
        : step,
      [this.activated, ...extensionStaged]); });

    const workerFiles = new Set(workerConfigs);
    this.sharedConfigFiles = configFiles.filter((f) => !workerFiles.has(f.path));
    if (args.shareSigningKey) {
      // The command's stdout loses the file's final newline; put it back, so copies are byte for byte.
      this.signingKey = pulumi.secret(scriptStep(`${name}-signing-key`, {
        connection: conn, script: "synapse-signing-key", secretStdout: true,
      }, { parent: this, dependsOn: [this.activated] }).stdout.apply((key) => (key.endsWith("\n") ? key : `${key}\n`)));
    }

    let adminUserId: pulumi.Output<string | undefined> = pulumi.output(undefined);
    let adminAccessToken: pulumi.Output<string | undefined> = pulumi.output(undefined);
    const adminUser = pulumi.output(args.adminUser);
    // Whether there is an admin is known from config when the program runs (it decides resources).
    if (args.adminUser !== undefined) {
      const password = secret("admin-password");
      const admin = scriptStep(`${name}-admin-user`, {
        connection: conn, script: "synapse-admin-user",
        params: adminUser.apply((u) => ({ ADMIN_USER: u ?? "", PYTHON: paths.python, BASE_URL: synapseLocalUrl })),
        stdin: password,
        secretStdout: true,
      }, { parent: this, dependsOn: [this.activated] });
      const result = admin.stdout.apply((out) => JSON.parse(out) as { user_id: string; access_token: string });
      adminUserId = pulumi.unsecret(result.apply((r) => r.user_id));
      adminAccessToken = pulumi.secret(result.apply((r) => r.access_token));
      this.adminPassword = password;
    }
    this.adminUserId = adminUserId;
    this.adminAccessToken = adminAccessToken;
    this.registerOutputs({ homeserverYaml: this.homeserverYaml, adminUserId, adminAccessToken });
  }
}
