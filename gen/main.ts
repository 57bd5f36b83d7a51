// npm run gen [-- --check]: rewrites every generated block (gen/blocks.ts) in the README, the
// manual (docs/) and Pulumi.yaml from its source (gen/sources.ts). --check writes nothing and
// exits 1 naming each stale file: the unit suite runs it, so a figure cannot drift from its run.
import * as fs from "node:fs";
import * as path from "node:path";
import { findBlocks, renderBlocks, syntaxOf } from "./blocks";
import { renderSource, repoRoot } from "./sources";

/** The files that may hold generated blocks. */
export function generatedFiles(): string[] {
  const docs = path.join(repoRoot, "docs");
  const pages = fs.existsSync(docs) ? fs.readdirSync(docs).filter((f) => f.endsWith(".md")).map((f) => path.join(docs, f)) : [];
  return [path.join(repoRoot, "README.md"), ...pages, path.join(repoRoot, "Pulumi.yaml")];
}

/**
 * Each file whose blocks are not what their sources give, with its regenerated text, and the
 * blocks whose source could not be read (they keep their content; `problems` says why).
 */
export function staleFiles(problems: string[] = []): { file: string; text: string }[] {
  return generatedFiles().flatMap((file) => {
    const before = fs.readFileSync(file, "utf8");
    const blocks = new Map(findBlocks(before, syntaxOf(file)).map((b) => [b.name, before.slice(b.start, b.end)]));
    const text = renderBlocks(before, syntaxOf(file), (name) => {
      try {
        return renderSource(name, file);
      } catch (e) {
        problems.push(`${path.relative(repoRoot, file)}: ${(e as Error).message}`);
        return blocks.get(name)!;
      }
    });
    return text === before ? [] : [{ file, text }];
  });
}

if (require.main === module) {
  const check = process.argv.includes("--check");
  const problems: string[] = [];
  const stale = staleFiles(problems);
  for (const { file, text } of stale) {
    const name = path.relative(repoRoot, file);
    if (check) console.error(`gen: ${name} is stale: run npm run gen`);
    else { fs.writeFileSync(file, text); console.error(`gen: wrote ${name}`); }
  }
  for (const p of problems) console.error(`gen: ${p}`);
  if ((check && stale.length > 0) || problems.length > 0) process.exit(1);
}
