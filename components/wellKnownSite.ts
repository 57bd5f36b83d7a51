import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import { TlsSettings } from "../config";
import { acmeWebroot, tlsDirFor } from "../render/nginx";
import { federationAddress, wellKnownDocuments, wellKnownLocations } from "../render/wellknown";
import { deployNginxSite } from "./nginxSite";
import { SshConnectionArgs } from "./remote";

export interface WellKnownSiteArgs {
  /** The host serving https://<serverName>/ — often the Synapse VPS, sometimes the web host. */
  connection: SshConnectionArgs;
  serverName: pulumi.Input<string>;
  matrixHost: pulumi.Input<string>;
  tls: TlsSettings;
  /** What the site goes live after (Synapse); the rest is staged meanwhile. */
  activateAfter?: pulumi.Resource[];
}

/** Delegation: https://<serverName>/.well-known/matrix/{server,client} point at matrixHost:443. */
export class WellKnownSite extends pulumi.ComponentResource {
  public readonly federationUrl: pulumi.Output<string>;
  public readonly activated: command.remote.Command;

  constructor(name: string, args: WellKnownSiteArgs, opts?: pulumi.ComponentResourceOptions) {
    super("synapse:index:WellKnownSite", name, {}, opts);
    const siteName = "matrix-well-known";
    const site = pulumi.all([args.serverName, args.matrixHost]).apply(([serverName, matrixHost]) => ({
      name: siteName,
      serverNames: [serverName],
      tlsDir: tlsDirFor(siteName),
      httpsPorts: [443],
      upstreams: [],
      locations: wellKnownLocations(wellKnownDocuments(matrixHost)),
      acmeWebroot,
    }));
    this.activated = deployNginxSite(this, name, { connection: args.connection, site, siteName, tls: args.tls, activateAfter: args.activateAfter });
    this.federationUrl = pulumi.output(args.matrixHost).apply((host) => `https://${federationAddress(host)}`);
    this.registerOutputs({ federationUrl: this.federationUrl });
  }
}
