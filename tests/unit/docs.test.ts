// The generated blocks of the README, the manual and Pulumi.yaml (npm run gen): the markers, and
// that every block holds what its source gives now, so no figure or reference drifts from what
// produced it.
import * as fs from "node:fs";
import * as path from "node:path";
import { findBlocks, renderBlocks } from "../../gen/blocks";
import { staleFiles } from "../../gen/main";
import { formatFigure, repoRoot } from "../../gen/sources";

describe("generated blocks", () => {
  const text = [
    "# Title", "  <!-- gen:list -->", "  old", "  <!-- /gen:list -->",
    "It took <!-- gen:e2e:x -->3 s<!-- /gen:e2e:x --> here.", "",
  ].join("\n");

  it("replace a block of lines (indented like its marker) and an inline one, and keep everything else", () => {
    const out = renderBlocks(text, "markdown", (name) => (name === "list" ? "```\na\n\nb\n```" : "7.5 s"));
    expect(out).toBe(["# Title", "  <!-- gen:list -->", "  ```", "  a", "", "  b", "  ```", "  <!-- /gen:list -->",
      "It took <!-- gen:e2e:x -->7.5 s<!-- /gen:e2e:x --> here.", ""].join("\n"));
    expect(renderBlocks(out, "markdown", (name) => (name === "list" ? "```\na\n\nb\n```" : "7.5 s"))).toBe(out);
  });

  it("in YAML too", () => {
    expect(renderBlocks("a: 1\n  # gen:keys\n  b: 2\n  # /gen:keys\nc: 3\n", "yaml", () => "b: 4\nd: 5"))
      .toBe("a: 1\n  # gen:keys\n  b: 4\n  d: 5\n  # /gen:keys\nc: 3\n");
  });

  it("name a variant's figures as the bench names them (+, !, =, and @ for a revision)", () => {
    for (const id of ["bench:perf.steady.cpu.solo+cacheFactor=2!jemalloc-solo.ratio", "bench:perf.steady.cpu.solo@c1f4888-solo.ratio"]) {
      expect(findBlocks(`CPU <!-- gen:${id} -->0.9×<!-- /gen:${id} --> of solo`, "markdown").map((b) => b.name)).toEqual([id]);
    }
  });

  it("refuse a block without its closing marker, and several lines in an inline block", () => {
    expect(() => findBlocks("<!-- gen:a -->\nx\n", "markdown")).toThrow("the block gen:a has no closing marker <!-- /gen:a -->");
    expect(() => renderBlocks("x <!-- gen:a --><!-- /gen:a -->", "markdown", () => "1\n2")).toThrow("gen:a is inline");
  });

  it("format figures as prose", () => {
    expect(formatFigure({ value: 273.6, unit: "MiB", what: "" })).toBe("274 MiB");
    expect(formatFigure({ value: 7.25, unit: "s", what: "" })).toBe("7.3 s");
    expect(formatFigure({ value: 1360, what: "" })).toBe("1,360");
  });
});

it("every generated block in the README, docs/ and Pulumi.yaml is current (else: npm run gen)", () => {
  const problems: string[] = [];
  expect(staleFiles(problems).map((f) => path.relative(repoRoot, f.file))).toEqual([]);
  expect(problems).toEqual([]);
});

describe("the manual's links", () => {
  // GitHub's anchor for a heading (github-slugger's rule; the package is ESM-only, which this
  // CommonJS jest cannot load): lower case, punctuation dropped, spaces to hyphens, repeats numbered.
  const anchors = (markdown: string): Set<string> => {
    const seen = new Map<string, number>();
    const out = new Set<string>();
    for (const [, heading] of withoutCode(markdown).matchAll(/^#{1,6} +(.+?) *#*$/gm)) {
      const base = heading.replace(/`/g, "").toLowerCase().replace(/[^\p{L}\p{M}\p{N}\p{Pc} -]/gu, "").replace(/ /g, "-");
      const n = seen.get(base) ?? 0;
      seen.set(base, n + 1);
      out.add(n === 0 ? base : `${base}-${n}`);
    }
    return out;
  };
  const withoutCode = (markdown: string) => markdown.replace(/^```[\s\S]*?^```/gm, "").replace(/`[^`\n]*`/g, "");
  const pages = ["README.md", ...fs.readdirSync(path.join(repoRoot, "docs")).filter((f) => f.endsWith(".md")).map((f) => `docs/${f}`)];

  it.each(pages)("%s links only to files and headings that exist", (page) => {
    const text = fs.readFileSync(path.join(repoRoot, page), "utf8");
    const broken: string[] = [];
    for (const [, target] of withoutCode(text).matchAll(/\]\(([^)\s]+)\)/g)) {
      if (/^[a-z]+:/.test(target)) continue; // https:, mailto:
      const [file, anchor] = target.split("#");
      const resolved = file === "" ? path.join(repoRoot, page) : path.resolve(path.dirname(path.join(repoRoot, page)), file);
      if (!fs.existsSync(resolved)) { broken.push(`${target}: no such file`); continue; }
      if (anchor !== undefined && resolved.endsWith(".md") && !anchors(fs.readFileSync(resolved, "utf8")).has(anchor)) {
        broken.push(`${target}: no such heading`);
      }
    }
    expect(broken).toEqual([]);
  });

  it("every page of docs/ is reachable from the README", () => {
    const readme = fs.readFileSync(path.join(repoRoot, "README.md"), "utf8");
    const linked = new Set([...readme.matchAll(/\]\(docs\/([\w.-]+\.md)(?:#[^)]*)?\)/g)].map((m) => m[1]));
    const unlinked = pages.filter((p) => p.startsWith("docs/")).map((p) => p.slice(5))
      .filter((p) => !linked.has(p) && !pages.some((other) => other !== `docs/${p}` && fs.readFileSync(path.join(repoRoot, other), "utf8").includes(`](${p}`)));
    expect(unlinked).toEqual([]);
  });
});
