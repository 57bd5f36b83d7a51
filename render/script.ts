// Remote commands: a real .sh file from scripts/, with lib.sh and a header of shell-quoted
// parameters in front, run by bash on the host. Content the script installs (and every secret)
// travels on stdin, never in the command string, which the command provider prints on failure.
import * as fs from "node:fs";
import * as path from "node:path";

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

/** The complete script for `name`: parameters, lib.sh, then the script itself. */
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
