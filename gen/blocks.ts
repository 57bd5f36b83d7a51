// Generated blocks in the project's text files: a pair of markers around content that a run or a
// table of the code produced, so a figure or a reference is written once, by what knows it.
//   Markdown, a block of lines:  <!-- gen:NAME -->\n…\n<!-- /gen:NAME -->
//   Markdown, inline in a line:  <!-- gen:NAME -->274 MiB<!-- /gen:NAME -->
//   YAML, a block of lines:      # gen:NAME\n…\n# /gen:NAME
// A block's content is replaced as a whole; the markers stay.

export interface Block {
  name: string;
  /** Offsets of the content between the opening and the closing marker. */
  start: number;
  end: number;
  inline: boolean;
  /** A block of lines takes the indentation of its opening marker (a code block in a list item). */
  indent: string;
}

const markers = {
  markdown: { open: /<!-- gen:([\w.:+!=@-]+) -->/g, close: (name: string) => `<!-- /gen:${name} -->` },
  yaml: { open: /^[ \t]*# gen:([\w.:-]+)$/gm, close: (name: string) => `# /gen:${name}` },
};
export type Syntax = keyof typeof markers;

export function syntaxOf(file: string): Syntax {
  return /\.ya?ml$/.test(file) ? "yaml" : "markdown";
}

/** Every block of a text, in order; a marker without its closing one is an error. */
export function findBlocks(text: string, syntax: Syntax): Block[] {
  const m = markers[syntax];
  const blocks: Block[] = [];
  for (const open of text.matchAll(m.open)) {
    const name = open[1];
    const afterMarker = open.index! + open[0].length;
    const close = text.indexOf(m.close(name), afterMarker);
    if (close < 0) throw new Error(`the block gen:${name} has no closing marker ${m.close(name)}`);
    if (!text.slice(afterMarker, close).includes("\n")) {
      blocks.push({ name, start: afterMarker, end: close, inline: true, indent: "" });
      continue;
    }
    // A block of lines: from the line after the opening marker to the closing marker's line (whose
    // indentation belongs to the marker).
    const lineStart = text.lastIndexOf("\n", close) + 1;
    const openLine = text.slice(text.lastIndexOf("\n", afterMarker - 1) + 1, afterMarker);
    blocks.push({
      name, start: text.indexOf("\n", afterMarker) + 1,
      end: /^[ \t]*$/.test(text.slice(lineStart, close)) ? lineStart : close, inline: false,
      indent: /^[ \t]*/.exec(openLine)![0],
    });
  }
  return blocks;
}

/** The text with each block's content replaced by what `render` gives for its name. */
export function renderBlocks(text: string, syntax: Syntax, render: (name: string) => string): string {
  let out = "";
  let at = 0;
  for (const b of findBlocks(text, syntax)) {
    const content = render(b.name);
    if (b.inline && content.includes("\n")) throw new Error(`gen:${b.name} is inline, but its content has several lines`);
    const lines = b.inline || content === "" ? content
      : (content.endsWith("\n") ? content : `${content}\n`).replace(/^(?=.)/gm, b.indent);
    out += text.slice(at, b.start) + lines;
    at = b.end;
  }
  return out + text.slice(at);
}
