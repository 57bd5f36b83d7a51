// The generated blocks of the README, the manual and Pulumi.yaml (npm run gen): the markers, and
// that every block holds what its source gives now, so no figure or reference drifts from what
// produced it.
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
