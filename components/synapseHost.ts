import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import {
  DatabaseSection, HomeserverPart, renderHomeserver, renderLogConfig, renderPassfile, renderSecrets,
} from "../render/homeserver";
import { PackageSource, stagedDir, synapseLocalUrl, synapsePaths } from "../render/paths";
import { startTimeoutSeconds } from "../render/synapseService";
import { scriptStep, sha256, stagedFile, SshConnectionArgs, synapsePackages, teardownStep } from "./remote";
import { synapseConfig } from "./synapseConfig";
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
  /** Localpart of a first admin user to create; none when unset (known when the program runs: it decides resources). */
  adminUser?: string;
  /** `pulumi destroy` deletes the signing key, media and config (otherwise only stops Synapse). */
  deleteDataOnDestroy?: pulumi.Input<boolean>;
  /** What other components add to this host (MediaBucket, WorkerPool, a restore…). */
  extensions?: SynapseExtension[];
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
  /** The first admin, when one is created: its user ID, access token and password (both secret). */
  public readonly admin?: { userId: pulumi.Output<string>; accessToken: pulumi.Output<string>; password: pulumi.Output<string> };
  /** Synapse runs and is healthy on the current config. */
  public readonly activated: command.remote.Command;
  /** The config files every Synapse process reads (homeserver.yaml, conf.d, pgpass…), not workers' own. */
  public readonly sharedConfigFiles: SynapseConfigFile[];
  /** The extensions' steps on this host, by the step each extension gave. */
  private readonly steps = new Map<HostStep, command.remote.Command>();

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

    const extensions = args.extensions ?? [];
    const own = this.ownConfigFiles(name, args, extensions);
    this.homeserverYaml = own.homeserverYaml;
    const configFiles = [...own.files, ...extensions.flatMap((e) => e.configFiles ?? [])];
    const workerConfigs = extensions.flatMap((e) => e.workerConfigs ?? []);
    const extensionStaged = extensions.flatMap((e) => e.stagedFiles ?? []).map((f) =>
      stagedFile(`${name}-staged-${f.name}`, {
        connection: conn, path: `${stagedDir}/${f.path}`, content: f.content, mode: "0644", owner: "root:root",
      }, { parent: this, dependsOn: [packages] }));
    const hostStep = (step: HostStep, dependsOn: pulumi.Resource[], params = step.params) => {
      const cmd = scriptStep(`${name}-${step.name}`, {
        connection: conn, script: step.script, params, stdin: step.stdin, teardown: step.teardown, secretStdout: step.secretStdout,
      }, { parent: this, dependsOn });
      this.steps.set(step, cmd);
      return cmd;
    };
    const beforeSteps = extensions.flatMap((e) => e.beforeActivation ?? []);

    // The extensions' staged files and steps count as config: a change re-runs the activation.
    const extensionDigest = pulumi.unsecret(pulumi.all([
      ...extensions.flatMap((e) => e.stagedFiles ?? []).map((f) => f.content),
      ...beforeSteps.map((st) => pulumi.output(st.params ?? {}).apply((p) => JSON.stringify(p))),
    ]).apply((contents) => sha256(contents.join("\0")).slice(0, 16)));
    const config = synapseConfig(name, {
      connection: conn, serverName: args.serverName, python: paths.python, files: configFiles, workerFiles: workerConfigs,
      health: `${synapseLocalUrl}/health`,
      digests: {
        // A new release, or what the gate stopped, runs the activation again: it starts Synapse.
        SYNAPSE_VERSION: args.version,
        ...(args.gate ? { GATE: args.gate.stdout.apply((g) => g.trim()) } : {}),
        START_TIMEOUT: String(startTimeoutSeconds),
        ...(extensions.length > 0 ? { EXTENSIONS_SHA256: extensionDigest } : {}),
      },
      after: [packages],
      // After the staged config too: a step may read it (the restore reads the staged passfile).
      activationAfter: (staged) => beforeSteps.map((step) => hostStep(step, [packages, ...staged, ...extensionStaged])),
    }, this);
    this.activated = config.activation;
    // Steps that follow every activation (the workers, restarted with the main process) re-run with it.
    const activationDigest = pulumi.unsecret(config.params.apply((p) => sha256(JSON.stringify(p)).slice(0, 16)));
    for (const step of extensions.flatMap((e) => e.afterActivation ?? [])) {
      hostStep(step, [this.activated, ...extensionStaged], step.afterEveryActivation
        ? pulumi.all([step.params ?? {}, activationDigest]).apply(([p, d]) => ({ ...p, ACTIVATION: d }))
        : step.params);
    }

    const workerFiles = new Set(workerConfigs);
    this.sharedConfigFiles = configFiles.filter((f) => !workerFiles.has(f.path));

    if (args.adminUser !== undefined) this.admin = this.firstAdmin(name, conn, args.adminUser, paths.python);
    this.registerOutputs({ homeserverYaml: this.homeserverYaml, adminUserId: this.admin?.userId, adminAccessToken: this.admin?.accessToken });
  }

  /**
   * The files this component writes under /etc/matrix-synapse: homeserver.yaml composed from its
   * parts, the logging config, the secrets (its own and the extensions') and the database's passfile.
   */
  private ownConfigFiles(name: string, args: SynapseHostArgs, extensions: SynapseExtension[]): { files: SynapseConfigFile[]; homeserverYaml: pulumi.Output<string> } {
    const secret = (suffix: string) => this.secret(name, suffix);
    const extraSecrets = pulumi.all(Object.assign({}, ...extensions.map((e) => e.secrets ?? {})) as Record<string, pulumi.Input<string>>);
    const secretsYaml = pulumi.secret(pulumi.all([secret("registration-secret"), secret("macaroon-key"), secret("form-secret"), extraSecrets])
      .apply(([registrationSharedSecret, macaroonSecretKey, formSecret, extra]) =>
        renderSecrets({ registrationSharedSecret, macaroonSecretKey, formSecret }, extra)));
    const parts = pulumi.output(args.homeserverParts);
    const homeserverYaml = parts.apply(renderHomeserver);
    const databaseArgs = parts.apply((ps) => {
      const db = ps.find((p) => p.database)?.database as DatabaseSection | undefined;
      if (!db) throw new Error("SynapseHost: no homeserver part has a database section");
      return db.args;
    });
    const passfile = pulumi.secret(pulumi.all([databaseArgs, args.databasePassword]).apply(([db, pw]) => renderPassfile(db, pw)));
    const contents: Record<keyof typeof files, pulumi.Input<string>> = {
      homeserver: homeserverYaml, log: renderLogConfig(), secrets: secretsYaml, passfile,
    };
    return { files: (Object.keys(files) as (keyof typeof files)[]).map((key) => ({ ...files[key], name: key, content: contents[key] })), homeserverYaml };
  }

  /** The first admin, made (or adopted) through the shared-secret registration once Synapse runs. */
  private firstAdmin(name: string, conn: SshConnectionArgs, adminUser: string, python: string): NonNullable<SynapseHost["admin"]> {
    const password = this.secret(name, "admin-password");
    const step = scriptStep(`${name}-admin-user`, {
      connection: conn, script: "synapse-admin-user",
      params: { ADMIN_USER: adminUser, PYTHON: python, BASE_URL: synapseLocalUrl },
      stdin: password,
      secretStdout: true,
    }, { parent: this, dependsOn: [this.activated] });
    const result = step.stdout.apply((out) => JSON.parse(out) as { user_id: string; access_token: string });
    return {
      userId: pulumi.unsecret(result.apply((r) => r.user_id)),
      accessToken: pulumi.secret(result.apply((r) => r.access_token)),
      password,
    };
  }

  private secret(name: string, suffix: string): pulumi.Output<string> {
    return pulumi.secret(new random.RandomPassword(`${name}-${suffix}`, { length: 48, special: false }, { parent: this }).result);
  }

  /** The command an extension's step became on this host. */
  public stepOf(step: HostStep): command.remote.Command {
    const cmd = this.steps.get(step);
    if (!cmd) throw new Error(`SynapseHost: no extension of this host has the step ${step.name}`);
    return cmd;
  }
}
