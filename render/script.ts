// Remote commands: a real .sh file from scripts/, with lib.sh and a header of shell-quoted
// parameters in front, run by bash on the host. Content the script installs (and every secret)
// travels on stdin, never in the command string, which the command provider prints on failure.
import * as fs from "node:fs";
import * as path from "node:path";
import { deployConfigDir, deployStateDir, stagedDir, synapseConfigDir, synapseDataDir, synapseVenv, tlsRoot } from "./paths";

export const scriptsDir = path.join(__dirname, "..", "scripts");

export type ScriptParams = Record<string, string | number | boolean>;

const heredocDelimiter = "SYNAPSE_DEPLOY_SCRIPT";

export function shellQuote(value: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(value) ? value : `'${value.replace(/'/g, `'\\''`)}'`;
}

function scriptBody(name: string): string {
  const text = fs.readFileSync(path.join(scriptsDir, `${name}.sh`), "utf8");
  return text.replace(/^#!.*\n/, "");
}

/**
 * Where things are on the host, as every script sees it (lib.sh and the scripts use these names):
 * rendered from render/paths.ts. SYNAPSE_DEPLOY_* point the unit tests at scratch trees.
 */
export function hostLayoutHeader(): string {
  const place = (name: string, override: string, value: string) => `${name}=\${${override}:-${shellQuote(value)}}`;
  return [
    "# Where things are on the host (config/hostLayout.json).",
    "# shellcheck disable=SC2034 # not every script uses every place",
    `declare ${[
      place("STATE_DIR", "SYNAPSE_DEPLOY_STATE_DIR", deployStateDir),
      `STAGED_DIR=\${SYNAPSE_DEPLOY_STATE_DIR:-${shellQuote(deployStateDir)}}${stagedDir.slice(deployStateDir.length)}`,
      place("SYNAPSE_ETC", "SYNAPSE_DEPLOY_ETC_DIR", synapseConfigDir),
      place("SYNAPSE_DATA", "SYNAPSE_DEPLOY_DATA_DIR", synapseDataDir),
      place("TLS_ROOT", "SYNAPSE_DEPLOY_TLS_DIR", tlsRoot),
      place("DEPLOY_ETC", "SYNAPSE_DEPLOY_CONFIG_DIR", deployConfigDir),
      place("SYNAPSE_VENV", "SYNAPSE_DEPLOY_VENV", synapseVenv),
    ].join(" \\\n  ")}`,
  ].join("\n");
}

/** The complete script for `name`: parameters, where things are on the host, lib.sh, then the script itself. */
export function renderScript(name: string, params: ScriptParams = {}): string {
  const header = [
    `# synapse-deploy: ${name}`,
    "# shellcheck disable=SC2317 # lib.sh functions this script does not call",
    `SCRIPT_NAME=${shellQuote(name)}`,
  ];
  for (const [key, value] of Object.entries(params)) {
    if (!/^[A-Z][A-Z0-9_]*$/.test(key)) throw new Error(`script parameter names are upper-case: ${key}`);
    header.push(`${key}=${shellQuote(String(value))}`);
  }
  header.push(hostLayoutHeader());
  const text = `#!/usr/bin/env bash\n${header.join("\n")}\n${scriptBody("lib")}${scriptBody(name)}`;
  if (text.split("\n").includes(heredocDelimiter)) throw new Error(`${name}.sh contains the line ${heredocDelimiter}`);
  return text;
}

/**
 * The command string for remote.Command: bash runs the rendered script (via sudo for a non-root
 * user), while the command's stdin stays free for content. Readable in `pulumi preview --diff`.
 */
export function remoteCommand(name: string, params: ScriptParams, user: string): string {
  const runner = user === "root" ? "bash" : "sudo -n bash";
  return `${runner} -c "$(cat <<'${heredocDelimiter}'\n${renderScript(name, params)}\n${heredocDelimiter}\n)"`;
}
