// The project at an earlier git revision, for measuring before and after a change side by side.
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";

/** The project at git revision `rev`, exported to a scratch directory (its own npm packages are this tree's). */
export function checkoutOf(rev: string): { dir: string; commit: string } {
  const root = path.join(__dirname, "..");
  const commit = execFileSync("git", ["-C", root, "rev-parse", "--short", `${rev}^{commit}`], { encoding: "utf8" }).trim();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `bench-${commit}-`));
  execFileSync("bash", ["-c", `git -C "$1" archive "$2" | tar -x -C "$3"`, "-", root, commit, dir]);
  return { dir, commit };
}
