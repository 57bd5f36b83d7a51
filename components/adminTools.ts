import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import { renderSynadmConfig, synadmConfigPath, synadmVersion } from "../render/admin";
import { componentPackages, packagesParam } from "../render/packages";
import { scriptStep, SshConnectionArgs, stagedFile } from "./remote";

export interface AdminToolsArgs {
  /** The Synapse VPS. */
  connection: SshConnectionArgs;
  serverName: pulumi.Input<string>;
  /** The admin's user ID and access token (secret). */
  adminUserId: pulumi.Input<string>;
  adminAccessToken: pulumi.Input<string>;
}

/**
 * synadm on the Synapse VPS, ready for root: `synadm user list` works right after `pulumi up`.
 * Its config holds the admin's token in a 0600 file, written again whenever the token changes.
 */
export class AdminTools extends pulumi.ComponentResource {
  /** The install from PyPI: it needs only the host's packages, not Synapse. */
  public readonly synadm: command.remote.Command;
  /** The config with the admin's token: after Synapse has made the admin. */
  public readonly config: command.remote.Command;

  constructor(name: string, args: AdminToolsArgs, opts?: pulumi.ComponentResourceOptions) {
    super("synapse:index:AdminTools", name, {}, opts);
    const config = stagedFile(`${name}-synadm-config`, {
      connection: args.connection, path: synadmConfigPath, mode: "0600", owner: "root:root",
      content: pulumi.secret(pulumi.all([args.adminUserId, args.adminAccessToken, args.serverName]).apply(
        ([userId, token, server]) => renderSynadmConfig(userId.replace(/^@([^:]+):.*$/, "$1"), token, server))),
    }, { parent: this });
    this.synadm = scriptStep(`${name}-synadm`, {
      connection: args.connection, script: "synadm-install", params: { VERSION: synadmVersion, PACKAGES: packagesParam(componentPackages.synadm) },
    }, { parent: this });
    this.config = config;
    this.registerOutputs({ synadm: this.synadm.stdout });
  }
}
