// The machine's tools a unit test file runs for real (shellcheck, openssl, age, rclone, promtool).
// A missing one fails the file at once with the package that provides it: a test that needs a tool
// never skips itself into a pass. .ci/run installs them all (promtool comes with the prometheus
// package on Debian 12, in a package of its own since).
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { renderHostTool } from "../../render/maintenance";

const packageOf: Record<string, string> = {
  shellcheck: "shellcheck", openssl: "openssl", age: "age", "age-keygen": "age", rclone: "rclone", promtool: "promtool",
};

/** Throws, naming the Debian package to install, unless every tool runs here. */
export function requireTools(...tools: (keyof typeof packageOf)[]): void {
  const missing = tools.filter((t) => spawnSync(t, ["--version"], { stdio: "ignore" }).error !== undefined);
  if (missing.length > 0) {
    const packages = [...new Set(missing.map((t) => packageOf[t]))].join(" ");
    throw new Error(`${missing.join(", ")} not found: apt-get install ${packages} (these tests run the real tools)`);
  }
}

/** A tool from host-tools/ as the program installs it (with where things are on the host), in a scratch file. */
export function installedTool(name: string, conf?: string): string {
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "tool-")), `${name}.sh`);
  fs.writeFileSync(file, renderHostTool(name, conf), { mode: 0o755 });
  return file;
}
