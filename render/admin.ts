// The admin tools on the Synapse VPS: synadm, configured for root.
import YAML from "yaml";
import { synapseLocalUrl } from "./paths";

/** synadm from PyPI: Debian's 0.38 lacks commands the README uses. */
export const synadmVersion = "0.49.2";
export const synadmConfigPath = "/root/.config/synadm.yaml";

/**
 * synadm's own config file (what `synadm config` writes): the admin user and token, and the
 * local listener, so it never goes through nginx or TLS. Secret: it holds the token.
 */
export function renderSynadmConfig(adminUser: string, token: string, serverName: string): string {
  return YAML.stringify({
    user: adminUser,
    token,
    base_url: synapseLocalUrl,
    admin_path: "/_synapse/admin",
    matrix_path: "/_matrix",
    format: "human",
    timeout: 30,
    server_discovery: "well-known",
    homeserver: serverName,
    ssl_verify: false,
  });
}
