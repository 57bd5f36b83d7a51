import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import { PackageSource, SshConnection } from "../config";
import { componentPackages, synapsePackageParams } from "../render/packages";
import { workerUnitTemplate } from "../render/paths";
import { postgresPort } from "../render/postgres";
import { pypiExtras } from "../render/synapseService";
import { scriptStep, SshConnectionArgs } from "./remote";

export interface UpgradesArgs {
  synapse: {
    connection: SshConnectionArgs;
    source: PackageSource;
    /** synapseVersion; "" = the newest at first install (or the one installed), held. */
    wanted: string;
    serverName: string;
    reportStats: boolean;
  };
  /** The worker hosts: their workers stop at the gate too. */
  workerHosts: SshConnection[];
  database: {
    connection: SshConnectionArgs;
    /** postgresVersion; "" = the distribution's default at first install (or the cluster serving), held. */
    wanted: string;
  };
}

/**
 * What the stack pins, and the gate every change of it passes. The Synapse release and the
 * PostgreSQL cluster are each resolved on their host by a step named after the config value
 * (`…-synapse-version-<source>[-<version>]`, `…-postgres-version[-<major>]`): it runs when it is made,
 * checks a change before anything changes (availability, the database's schema, the PostgreSQL
 * major, Python, the disk), and is never run again (ignoreChanges), so its answer is held in the
 * stack's state until the config value, and with it the step's name, changes. A PyPI install's
 * lock is made and held the same way. Then the gate, on each host that runs Synapse, gets a new
 * release ready, backs up, and stops the homeserver when something is about to change.
 */
export class Upgrades extends pulumi.ComponentResource {
  /** The Synapse release the stack runs (known at preview when synapseVersion is set). */
  public readonly synapseVersion: pulumi.Output<string>;
  /** The PostgreSQL cluster ("major/name") holding the database, and its major. */
  public readonly postgresCluster: pulumi.Output<string>;
  public readonly postgresMajor: pulumi.Output<string>;
  /** The steps that resolve them (HostPackages installs what they say). */
  public readonly resolved: command.remote.Command[];
  /** A PyPI install's lock (secret-free text); none for the other sources. */
  public lock?: pulumi.Output<string>;

  private readonly args: UpgradesArgs;
  private readonly name: string;

  constructor(name: string, args: UpgradesArgs, opts?: pulumi.ComponentResourceOptions) {
    super("synapse:index:Upgrades", name, {}, opts);
    this.args = args;
    this.name = name;
    const s = args.synapse;
    // Made once per value, never re-run: a later `pulumi up` finds a newer release or a moved
    // host without upgrading anything.
    const held: pulumi.CustomResourceOptions = { parent: this, ignoreChanges: ["connection", "create"] };
    const synapse = scriptStep(`${name}-synapse-version-${s.source}${s.wanted ? `-${s.wanted}` : ""}`, {
      connection: s.connection, script: "synapse-version",
      params: { SOURCE: s.source, SERVER_NAME: s.serverName, REPORT_STATS: s.reportStats, WANTED: s.wanted, ...synapsePackageParams(s.source) },
    }, held);
    const postgres = scriptStep(`${name}-postgres-version${args.database.wanted ? `-${args.database.wanted}` : ""}`, {
      connection: args.database.connection, script: "postgres-version",
      params: {
        WANTED: args.database.wanted, PORT: postgresPort, PACKAGE: componentPackages.postgres[0], DEFAULT_PACKAGE: componentPackages.postgresDefault[0],
      },
    }, held);
    this.resolved = [synapse, postgres];
    this.synapseVersion = s.wanted ? pulumi.output(s.wanted) : synapse.stdout.apply(lastLine);
    this.postgresCluster = postgres.stdout.apply(lastLine);
    this.postgresMajor = this.postgresCluster.apply((c) => c.split("/")[0]);
    this.registerOutputs({ synapseVersion: this.synapseVersion, postgresCluster: this.postgresCluster });
  }

  /**
   * The lock (PyPI) and the gate, once the hosts have their packages (`after`): on the Synapse VPS
   * and each worker host, the step that stops Synapse for a version change. Returns the gate steps,
   * the Synapse VPS's first: what PostgreSQL's move and Synapse's install wait for.
   */
  public gate(after: pulumi.Resource[]): { main: command.remote.Command; workerHosts: command.remote.Command[] } {
    const s = this.args.synapse;
    const opts: pulumi.CustomResourceOptions = { parent: this, dependsOn: after };
    if (s.source === "pypi") {
      this.lock = scriptStep(`${this.name}-synapse-lock${s.wanted ? `-${s.wanted}` : ""}`, {
        connection: s.connection, script: "synapse-lock",
        params: this.synapseVersion.apply((v) => ({ VERSION: v, EXTRAS: pypiExtras.join(",") })),
      }, { ...opts, ignoreChanges: ["connection", "create"] }).stdout;
    }
    const gateStep = (name: string, connection: SshConnectionArgs, main: boolean, dependsOn: pulumi.Resource[]) => scriptStep(name, {
      connection, script: "synapse-upgrade-gate",
      params: pulumi.all([this.synapseVersion, this.postgresMajor]).apply(([version, pg]) => ({
        SOURCE: s.source, VERSION: version, PG_TARGET: pg, MAIN: main, ...synapsePackageParams(s.source), WORKER_UNIT: workerUnitTemplate,
      })),
      stdin: this.lock,
    }, { parent: this, dependsOn });
    const main = gateStep(`${this.name}-gate`, s.connection, true, after);
    // Their workers stop after the main host's backup, before anything changes.
    const workerHosts = this.args.workerHosts.map((c, i) => gateStep(`${this.name}-gate-worker-host-${i + 1}`, c, false, [main]));
    return { main, workerHosts };
  }
}

/** A step's answer: its last line (what it logs goes to stderr). */
function lastLine(out: string): string {
  return out.trim().split("\n").pop() ?? "";
}
