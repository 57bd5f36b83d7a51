import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import { componentPackages, packagesParam } from "../render/packages";
import * as random from "@pulumi/random";
import { TlsSettings } from "../config";
import { TurnSettings, turnPorts } from "../config/turn";
import { firewallRules, firewallTable, firewallUnit } from "../render/firewall";
import { HomeserverPart } from "../render/homeserver";
import { hostTool } from "../render/maintenance";
import { acmeWebroot, tlsDirFor } from "../render/nginx";
import { stagedDir } from "../render/paths";
import { renderTurnserverConf, turnFirewall, turnHomeserverPart, turnPaths, turnSecretFile, turnSiteName } from "../render/turn";
import { tableFirewall } from "./firewall";
import { deployNginxSite } from "./nginxSite";
import { scriptStep, sha256, stagedFile, teardownStep } from "./remote";
import { SynapseExtension } from "./synapseExtension";

export interface TurnServerArgs {
  turn: TurnSettings;
  /** coturn's realm: the server name. */
  realm: string;
  /** How a TURN host of its own gets its certificate (as the other sites do). */
  tls: TlsSettings;
}

/**
 * coturn from the distribution for voice and video calls, on the Synapse VPS or a host of its own:
 * credentials only from Synapse (a generated shared secret, in a 0600 file Synapse reads and in
 * coturn's config, never in a readable file), TURN over UDP and TCP on 3478 and TLS on 5349 with
 * the certificate the program already manages (on a host of its own, an nginx site's; renewed by
 * certbot, then copied for coturn again), and the hardening of Synapse's TURN guide. Synapse's
 * side (turn_uris, the secret's file) joins SynapseHost; coturn itself comes once the certificate
 * exists (`activate`).
 */
export class TurnServer extends pulumi.ComponentResource {
  public readonly homeserverPart: HomeserverPart;
  public readonly synapseExtension: SynapseExtension;
  /** On a host of its own: its nginx site's last step, after which its certificate exists. */
  public readonly certificate?: command.remote.Command;
  private readonly secret: pulumi.Output<string>;

  constructor(private readonly name: string, private readonly args: TurnServerArgs, opts?: pulumi.ComponentResourceOptions) {
    super("synapse:index:TurnServer", name, {}, opts);
    const { turn } = args;
    this.secret = pulumi.secret(new random.RandomPassword(`${name}-shared-secret`, { length: 48, special: false }, { parent: this }).result);
    this.homeserverPart = turnHomeserverPart(turn);
    this.synapseExtension = {
      configFiles: [{ name: "turn-shared-secret", path: turnSecretFile, mode: "0600", owner: "matrix-synapse:", content: this.secret }],
    };
    if (!turn.onSynapseHost) {
      this.certificate = deployNginxSite(this, `${name}-site`, {
        connection: turn.connection, siteName: turnSiteName, tls: args.tls,
        site: {
          name: turnSiteName, serverNames: [turn.domain], tlsDir: tlsDirFor(turnSiteName), httpsPorts: [443],
          upstreams: [], locations: [], acmeWebroot,
        },
      });
    }
    this.registerOutputs({ turnUris: this.homeserverPart.turn_uris });
  }

  /**
   * coturn on its host, after `after` (on the Synapse VPS: nginx, whose certificate it serves; on
   * a host of its own, its site's certificate comes first by itself).
   */
  activate(after: pulumi.Resource[]): command.remote.Command {
    const { name, args: { turn, realm } } = this;
    const conn = turn.connection;
    const table = turnFirewall(turn);
    const tlsSource = tlsDirFor(turn.onSynapseHost ? "matrix" : turnSiteName);
    const paths = { CONF: turnPaths.conf, TLS_DIR: turnPaths.tlsDir, TOOL: turnPaths.tlsTool, HOOK: turnPaths.renewalHook };
    teardownStep(`${name}-teardown`, {
      connection: conn, script: "turn-teardown",
      params: { ...paths, UNIT: firewallUnit(table), TABLE: firewallTable(table), RULES: firewallRules(table) },
    }, { parent: this });
    const conf = renderTurnserverConf(turn, realm);
    const tool = hostTool("synapse-turn-tls");
    const staged = [["turnserver.conf", conf], ["synapse-turn-tls", tool]].map(([file, content]) => stagedFile(`${name}-staged-${file.replace(/\./g, "-")}`, {
      connection: conn, path: `${stagedDir}/turn/${file}`, content, mode: "0644", owner: "root:root",
    }, { parent: this, dependsOn: after }));
    const certificate = this.certificate ? [this.certificate] : [];
    const activated = scriptStep(`${name}-activate`, {
      connection: conn, script: "turn-activate",
      params: { ...paths, PACKAGES: packagesParam(componentPackages.turn), TLS_SOURCE: tlsSource, PORT: turnPorts.plain, CONF_SHA256: sha256(`${conf}\0${tool}`).slice(0, 16) },
      stdin: this.secret,
    }, { parent: this, dependsOn: [...after, ...staged, ...certificate] });
    // After coturn's package: the table names its user.
    tableFirewall(`${name}-firewall`, { connection: conn, name: table.name, table, after: [activated] }, this);
    return activated;
  }
}
