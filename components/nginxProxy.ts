import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import { FederationLimits, TlsSettings } from "../config";
import { federationGuard } from "../render/federationLimits";
import { acmeWebroot, mainUpstream, matrixLocations, NginxLocation, NginxRouting, tlsDirFor } from "../render/nginx";
import { clientBaseUrl, federationAddress } from "../render/wellknown";
import { deployNginxSite } from "./nginxSite";
import { SshConnectionArgs } from "./remote";

export interface NginxProxyArgs {
  connection: SshConnectionArgs;
  matrixHost: pulumi.Input<string>;
  tls: TlsSettings;
  /** Equal to Synapse's max_upload_size. */
  maxUploadSize: pulumi.Input<string>;
  adminAllowedNetworks: pulumi.Input<string[]>;
  federationPort8448: pulumi.Input<boolean>;
  /** Locations placed before the catch-all (.well-known when not delegated). */
  extraLocations?: pulumi.Input<NginxLocation[]>;
  /** The worker pool's routing: its maps, upstreams and locations go ahead of the main process's. */
  routing?: pulumi.Input<NginxRouting>;
  /** Per-origin rates and the deny list for inbound federation; none when unset. */
  federationLimits?: pulumi.Input<FederationLimits>;
  /** What the site goes live after (Synapse, its worker hosts); the rest is staged meanwhile. */
  activateAfter?: pulumi.Resource[];
}

const noRouting: NginxRouting = { maps: [], upstreams: [], locations: [], adminLocations: [] };

/** nginx in front of Synapse: TLS, HTTP→HTTPS, the Matrix paths, the admin API fenced off. */
export class NginxProxy extends pulumi.ComponentResource {
  public readonly clientBaseUrl: pulumi.Output<string>;
  /** Where other servers reach this homeserver's federation API (what /.well-known/matrix/server says). */
  public readonly federationUrl: pulumi.Output<string>;
  public readonly activated: command.remote.Command;

  constructor(name: string, args: NginxProxyArgs, opts?: pulumi.ComponentResourceOptions) {
    super("synapse:index:NginxProxy", name, {}, opts);
    const siteName = "matrix";
    const site = pulumi
      .all([args.matrixHost, args.maxUploadSize, args.adminAllowedNetworks, args.federationPort8448,
        args.extraLocations ?? [], args.routing ?? noRouting, args.federationLimits])
      .apply(([host, maxUploadSize, networks, port8448, extraLocations, routing, limits]) => {
        const guard = limits ? federationGuard(limits) : { maps: [], httpDirectives: [], serverDirectives: [] };
        return {
          name: siteName,
          serverNames: [host],
          tlsDir: tlsDirFor(siteName),
          httpsPorts: port8448 ? [443, 8448] : [443],
          maps: [...guard.maps, ...routing.maps],
          httpDirectives: guard.httpDirectives,
          serverDirectives: guard.serverDirectives,
          upstreams: [mainUpstream, ...routing.upstreams],
          locations: [
            ...extraLocations,
            ...routing.locations,
            ...matrixLocations({
              upstream: mainUpstream.name, maxUploadSize, adminAllowedNetworks: networks, adminLocations: routing.adminLocations,
            }),
          ],
          acmeWebroot,
        };
      });
    this.activated = deployNginxSite(this, name, { connection: args.connection, site, siteName, tls: args.tls, activateAfter: args.activateAfter });
    this.clientBaseUrl = pulumi.output(args.matrixHost).apply(clientBaseUrl);
    this.federationUrl = pulumi.output(args.matrixHost).apply((host) => `https://${federationAddress(host)}`);
    this.registerOutputs({ clientBaseUrl: this.clientBaseUrl });
  }
}
