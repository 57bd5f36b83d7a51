// npm run gen [-- --check]: rewrites every generated block (gen/blocks.ts) in the README, the
// manual (docs/) and Pulumi.yaml from its source (gen/sources.ts). --check writes nothing and
// exits 1 naming each stale file: the unit suite runs it, so a figure cannot drift from its run.
import * as fs from "node:fs";
import * as path from "node:path";
import { renderBlocks, syntaxOf } from "./blocks";
import { renderSource, repoRoot } from "./sources";

/** The files that may hold generated blocks. */
export function generatedFiles(): string[] {
  const docs = path.join(repoRoot, "docs");
  const pages = fs.existsSync(docs) ? fs.readdirSync(docs).filter((f) => f.endsWith(".md")).map((f) => path.join(docs, f)) : [];
  return [path.join(repoRoot, "README.md"), ...pages, path.join(repoRoot, "Pulumi.yaml")];
}

/** Each file whose blocks are not what their sources give, with its regenerated text. */
export function staleFiles(): { file: string; text: string }[] {
  return generatedFiles().flatMap((file) => {
    const before = fs.readFileSync(file, "utf8");
    const text = renderBlocks(before, syntaxOf(file), renderSource);
    return text === before ? [] : [{ file, text }];
  });
}

if (require.main === module) {
  const check = process.argv.includes("--check");
  const stale = staleFiles();
  for (const { file, text } of stale) {
    const name = path.relative(repoRoot, file);
    if (check) console.error(`gen: ${name} is stale: run npm run gen`);
    else { fs.writeFileSync(file, text); console.error(`gen: wrote ${name}`); }
  }
  if (check && stale.length > 0) process.exit(1);
}
