import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import { postgresSocketDir, Sizing } from "../config";
import { DatabaseSection, HomeserverPart, isUnixSocket } from "../render/homeserver";
import { componentPackages } from "../render/packages";
import { stagedDir, synapseConfigDir } from "../render/paths";
import {
  PostgresNetwork, postgresDropIn, postgresPort, postgresNetworkDropIn, renderAutovacuum, renderHbaBlock, renderListenDropIn, renderPostgresTuning,
  synapseAutovacuum, synapseDatabaseName,
} from "../render/postgres";
import { hostFirewall } from "./firewall";
import { scriptStep, sha256, SshConnectionArgs, stagedFile, teardownStep } from "./remote";

export interface PostgresDatabaseArgs {
  /** The host that runs PostgreSQL. */
  connection: SshConnectionArgs;
  /** The Synapse host, where an existing SQLite database is migrated from. */
  synapseConnection: SshConnectionArgs;
  serverName: pulumi.Input<string>;
  sizing: pulumi.Input<Sizing>;
  databaseName?: pulumi.Input<string>;
  user?: pulumi.Input<string>;
  /** Where Synapse connects: the box's address, or PostgreSQL's Unix socket directory (the default) when both share a host. */
  address?: pulumi.Input<string>;
  /**
   * Given when PostgreSQL has a box of its own: the Synapse hosts' private addresses, the only
   * ones admitted (pg_hba and nftables); PostgreSQL listens on `address` and loopback only.
   */
  clients?: pulumi.Input<string>[];
  /** `pulumi destroy` drops the database and role (otherwise they are kept). */
  deleteDataOnDestroy?: pulumi.Input<boolean>;
  /** The cluster ("major/name") the database lives in (Upgrades): a new major moves it there. */
  cluster: pulumi.Input<string>;
  /** What a move to another cluster waits for: the upgrade gate, which stops Synapse after a backup. */
  moveAfter?: pulumi.Resource[];
  /** The major of an old cluster a move left behind, to drop (postgresDropOldCluster); none keeps it. */
  dropOldCluster?: string;
}

/**
 * PostgreSQL for Synapse: packages, tier memory settings, a role and a database with
 * collation C, and the one-off move of an existing SQLite install.
 */
export class PostgresDatabase extends pulumi.ComponentResource {
  public readonly databaseName: pulumi.Output<string>;
  public readonly user: pulumi.Output<string>;
  public readonly host: pulumi.Output<string>;
  public readonly password: pulumi.Output<string>;
  /** The `database` section of homeserver.yaml (no secret: the password is in a passfile). */
  public readonly homeserverPart: pulumi.Output<HomeserverPart>;
  /** What the SQLite migration did, in a sentence. */
  public readonly migration: pulumi.Output<string>;
  /** The cluster serving the database, or what its last move did, in a sentence. */
  public readonly clusterState: pulumi.Output<string>;
  /** On a database box: what the move from the Synapse host's own PostgreSQL did, in a sentence. */
  public readonly move?: pulumi.Output<string>;
  /** Everything Synapse needs before it may start on this database. */
  public readonly ready: command.remote.Command;
  /**
   * What Synapse's steps depend on: the database ready, and the teardown, so that `pulumi destroy`
   * stops Synapse before PostgreSQL's teardown runs. (Not the whole component: tuneTables adds a
   * step that follows Synapse.)
   */
  public readonly synapseDependsOn: pulumi.Resource[];

  private readonly stepPrefix: string;
  private readonly hostConnection: SshConnectionArgs;
  private readonly cluster: pulumi.Output<string>;

  constructor(name: string, args: PostgresDatabaseArgs, opts?: pulumi.ComponentResourceOptions) {
    super("synapse:index:PostgresDatabase", name, {}, opts);
    this.stepPrefix = name;
    this.hostConnection = args.connection;
    const cluster = pulumi.output(args.cluster);
    this.cluster = cluster;
    const databaseName = pulumi.output(args.databaseName ?? synapseDatabaseName);
    const user = pulumi.output(args.user ?? "synapse_user");
    const host = pulumi.output(args.address ?? postgresSocketDir);
    const port = postgresPort;

    // Alphanumeric: it travels through psql and a pgpass file without quoting rules.
    const password = new random.RandomPassword(`${name}-password`, { length: 40, special: false }, { parent: this });
    const secretPassword = pulumi.secret(password.result);

    const teardown = teardownStep(`${name}-teardown`, {
      connection: args.connection, script: "postgres-teardown",
      params: pulumi.all([cluster, databaseName, user, args.deleteDataOnDestroy ?? false]).apply(([c, db, u, deleteData]) => ({
        PG_CLUSTER: c, DB_NAME: db, DB_USER: u, DELETE_DATA: deleteData,
      })),
    }, { parent: this });
    // The cluster installed and serving; a new major moves the database there (Synapse stopped).
    const clusterStep = scriptStep(`${name}-cluster`, {
      connection: args.connection,
      script: "postgres-cluster",
      params: pulumi.all([cluster, databaseName, user]).apply(([c, db, u]) => ({
        PG_CLUSTER: c, PORT: port, DB_NAME: db, DB_USER: u, PACKAGE: componentPackages.postgres[0],
      })),
      stdin: secretPassword,
    }, { parent: this, dependsOn: args.moveAfter ?? [] });
    if (args.dropOldCluster) {
      scriptStep(`${name}-drop-old-cluster`, {
        connection: args.connection,
        script: "postgres-drop-cluster",
        params: cluster.apply((c) => ({ DROP: args.dropOldCluster!, PG_CLUSTER: c })),
      }, { parent: this, dependsOn: [clusterStep] });
    }
    const tuning = scriptStep(`${name}-tuning`, {
      connection: args.connection,
      script: "postgres-tuning",
      params: cluster.apply((c) => ({ PG_CLUSTER: c, DROPIN: postgresDropIn })),
      stdin: pulumi.output(args.sizing).apply(renderPostgresTuning),
    }, { parent: this, dependsOn: [clusterStep] });
    const database = scriptStep(`${name}-database`, {
      connection: args.connection,
      script: "postgres-database",
      params: pulumi.all([cluster, databaseName, user]).apply(([c, db, u]) => ({ PG_CLUSTER: c, DB_NAME: db, DB_USER: u })),
      stdin: secretPassword,
    }, { parent: this, dependsOn: [tuning] });
    const box = args.clients ? this.privateNetwork(name, args, databaseName, user, host, port, database, secretPassword) : undefined;
    this.move = box?.move.stdout;
    this.ready = scriptStep(`${name}-sqlite-migration`, {
      connection: args.synapseConnection,
      script: "sqlite-migrate",
      params: pulumi.all([args.serverName, databaseName, user, host]).apply(([serverName, db, u, h]) => ({
        SERVER_NAME: serverName, DB_NAME: db, DB_USER: u, DB_HOST: h, DB_PORT: port,
      })),
      stdin: secretPassword,
    }, { parent: this, dependsOn: [database, ...(box ? [box.network, box.move] : [])] });

    const section = pulumi.all([databaseName, user, host, pulumi.output(args.sizing)]).apply(
      ([db, u, h, sizing]): DatabaseSection => ({
        name: "psycopg2",
        args: {
          user: u, dbname: db, host: h, port,
          passfile: `${synapseConfigDir}/pgpass`,
          cp_min: sizing.dbPoolMin, cp_max: sizing.dbPoolMax,
          // Over TCP, notice dead connections (a restarted or remote PostgreSQL) within a minute;
          // a socket's peer going away is seen at once, and libpq ignores keepalives there.
          ...(isUnixSocket(h) ? {} : { keepalives_idle: 10, keepalives_interval: 10, keepalives_count: 3 }),
        },
      }));

    this.databaseName = databaseName;
    this.user = user;
    this.host = host;
    this.password = secretPassword;
    this.homeserverPart = section.apply((database): HomeserverPart => ({ database }));
    this.migration = this.ready.stdout;
    this.clusterState = clusterStep.stdout.apply((s) => s.trim());
    this.synapseDependsOn = [this.ready, teardown];
    this.registerOutputs({
      databaseName: this.databaseName, user: this.user, host: this.host,
      homeserverPart: this.homeserverPart, migration: this.migration, move: this.move, clusterState: this.clusterState,
    });
  }

  /**
   * Autovacuum settings for Synapse's hot tables, once `schema` (Synapse's first start) has made
   * them. The tables are Synapse's, so this step follows it rather than preceding it.
   */
  public tuneTables(schema: pulumi.Resource): command.remote.Command {
    return scriptStep(`${this.stepPrefix}-autovacuum`, {
      connection: this.hostConnection,
      script: "postgres-autovacuum",
      params: pulumi.all([this.cluster, this.databaseName]).apply(([c, db]) => ({ PG_CLUSTER: c, DB_NAME: db })),
      stdin: renderAutovacuum(synapseAutovacuum),
    }, { parent: this, dependsOn: [schema] });
  }

  /**
   * A database box: close it to all but the Synapse hosts, then move the database there from the
   * Synapse host's own PostgreSQL if it has one (a single-host deployment growing up).
   */
  private privateNetwork(name: string, args: PostgresDatabaseArgs, databaseName: pulumi.Output<string>, user: pulumi.Output<string>,
    host: pulumi.Output<string>, port: number, database: command.remote.Command, password: pulumi.Output<string>,
  ): { network: command.remote.Command; move: command.remote.Command } {
    const network = pulumi.all([host, pulumi.all(args.clients ?? []), databaseName, user]).apply(
      ([address, clients, db, u]): PostgresNetwork => ({ address, clients, database: db, user: u, port }));
    // The firewall first: the port is never open wider than the rules say.
    const firewall = hostFirewall(`${name}-firewall`, {
      connection: args.connection, name: "postgres", ports: [port], clients: network.apply((n) => n.clients), after: [database],
    }, this);
    const staged = `${stagedDir}/postgres-network`;
    const files: [string, (n: PostgresNetwork) => string][] = [["hba.conf", renderHbaBlock], ["listen.conf", renderListenDropIn]];
    const stagedFiles = files.map(([file, render]) => stagedFile(`${name}-network-${file.split(".")[0]}`, {
      connection: args.connection, path: `${staged}/${file}`, mode: "0644", owner: "root:root", content: network.apply(render),
    }, { parent: this }));
    const networkStep = scriptStep(`${name}-network`, {
      connection: args.connection,
      script: "postgres-network",
      // The files' digest: a new client or address re-runs the step that puts them live.
      params: pulumi.all([network, this.cluster]).apply(([n, c]) => ({
        PG_CLUSTER: c, STAGED: staged, DROPIN: postgresNetworkDropIn, CONFIG_SHA256: sha256(files.map(([, render]) => render(n)).join("\0")).slice(0, 16),
      })),
    }, { parent: this, dependsOn: [firewall, ...stagedFiles] });
    const move = scriptStep(`${name}-move`, {
      connection: args.synapseConnection,
      script: "postgres-move",
      params: pulumi.all([databaseName, user, host]).apply(([db, u, h]) => ({ DB_NAME: db, DB_USER: u, DB_HOST: h, DB_PORT: port })),
      stdin: password,
    }, { parent: this, dependsOn: [networkStep] });
    return { network: networkStep, move };
  }
}
