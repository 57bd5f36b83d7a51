// One nginx site on one host: packages, certificate, staged site, `nginx -t`-gated activation,
// and ACME issuance. NginxProxy and WellKnownSite are both built from it.
import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import { TlsSettings } from "../config";
import { NginxSite, renderSite } from "../render/nginx";
import { componentPackages, packagesParam } from "../render/packages";
import { stagedDir } from "../render/paths";
import { scriptStep, sha256, stagedFile, SshConnectionArgs, teardownStep } from "./remote";

export interface NginxSiteArgs {
  connection: SshConnectionArgs;
  site: pulumi.Input<NginxSite>;
  /** File name of the site; also names its certificate directory. Known when the program runs. */
  siteName: string;
  tls: TlsSettings;
  /**
   * What the site goes live after (Synapse, its worker hosts): its packages, certificate and staged
   * file do not wait for them, so they are ready while Synapse starts; the teardown waits too, so
   * that `pulumi destroy` takes the site down before what it proxies to.
   */
  activateAfter?: pulumi.Resource[];
}

export function deployNginxSite(parent: pulumi.Resource, name: string, args: NginxSiteArgs): command.remote.Command {
  const site = pulumi.output(args.site);
  const names = site.apply((s) => s.serverNames.join(" "));
  const after = args.activateAfter ?? [];
  teardownStep(`${name}-teardown`, { connection: args.connection, script: "nginx-teardown", params: { SITE: args.siteName } }, { parent, dependsOn: after });
  const packages = scriptStep(`${name}-packages`, {
    connection: args.connection, script: "nginx-packages",
    params: { ACME: args.tls.mode === "acme", PACKAGES: packagesParam(componentPackages.nginx(args.tls.mode === "acme")) },
  }, { parent });
  const certificate = scriptStep(`${name}-certificate`, {
    connection: args.connection, script: "tls-certificate",
    params: names.apply((n) => ({ SITE: args.siteName, MODE: args.tls.mode, NAMES: n })),
    stdin: args.tls.mode === "provided" ? pulumi.secret(`${args.tls.privateKey}\n${args.tls.certificate}\n`) : undefined,
  }, { parent, dependsOn: [packages] });
  const text = site.apply(renderSite);
  const staged = stagedFile(`${name}-staged-site`, {
    connection: args.connection, path: `${stagedDir}/nginx/${args.siteName}.conf`, content: text, mode: "0644", owner: "root:root",
  }, { parent, dependsOn: [packages] });
  const activated = scriptStep(`${name}-activate`, {
    connection: args.connection, script: "nginx-activate",
    // The content hash makes the activation re-run whenever the staged site changes.
    params: text.apply((t) => ({ SITE: args.siteName, CONTENT_SHA256: sha256(t).slice(0, 16) })),
  }, { parent, dependsOn: [certificate, staged, ...after] });
  if (args.tls.mode !== "acme") return activated;
  const { email, server, caBundle } = args.tls;
  return scriptStep(`${name}-acme`, {
    connection: args.connection, script: "acme-issue",
    params: names.apply((n) => ({ SITE: args.siteName, DOMAINS: n, EMAIL: email, SERVER: server })),
    // The private ACME server's root, if any (a certificate: no secret, readable in the diff).
    stdin: caBundle || undefined,
  }, { parent, dependsOn: [activated] });
}
