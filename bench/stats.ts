// Medians, percentiles and ratios: every figure the suite reports is a ratio against a baseline
// measured in the same run, from the medians of interleaved rounds.

/** The middle value (the mean of the two middle ones for an even count). */
export function median(xs: number[]): number {
  if (xs.length === 0) throw new Error("median of an empty sample");
  const sorted = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** Nearest-rank percentile (p in 0..100) of a non-empty sample. */
export function percentile(xs: number[], p: number): number {
  if (xs.length === 0) throw new Error("percentile of an empty sample");
  const sorted = [...xs].sort((a, b) => a - b);
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[rank - 1];
}

export interface Measured {
  /** What was measured, e.g. "pulumi up, solo tier". */
  name: string;
  unit: string;
  runs: number[];
  median: number;
}

export function measured(name: string, unit: string, runs: number[]): Measured {
  return { name, unit, runs, median: median(runs) };
}

/** Which way a figure improves: a rate higher, a latency or a cost lower. */
export type Better = "higher" | "lower";

/** One line of a scenario's table: a figure, its baseline, and their ratio (figure / baseline). */
export interface Comparison {
  /** A name the docs quote it by (gen:bench:<id>.ratio …), when they do. */
  id?: string;
  what: string;
  figure: Measured;
  baseline: Measured;
  ratio: number;
  /**
   * The spread of the ratio: the smallest and largest of the rounds' own ratios (round i's figure
   * over round i's baseline, measured side by side), when both have the same rounds.
   */
  ratioRange?: [number, number];
  /** Set when the direction is known: a difference is called only when the ranges do not overlap. */
  verdict?: "better" | "worse" | "within the spread" | "one round: not called";
  /** Which way is better, when known: kept so a results file's verdicts can be computed again. */
  better?: Better;
}

export function compare(what: string, figure: Measured, baseline: Measured, id?: string, better?: Better): Comparison {
  const c: Comparison = { ...(id ? { id } : {}), what, figure, baseline, ratio: baseline.median === 0 ? NaN : figure.median / baseline.median };
  if (figure.runs.length === baseline.runs.length && figure.runs.length > 1) {
    const ratios = figure.runs.map((f, i) => f / baseline.runs[i]).filter(Number.isFinite);
    if (ratios.length > 0) c.ratioRange = [Math.min(...ratios), Math.max(...ratios)];
  }
  if (better) Object.assign(c, { better, verdict: verdict(figure.runs, baseline.runs, better) });
  return c;
}

/** "better" or "worse" only when every run of one lies beyond every run of the other. */
export function verdict(figure: number[], baseline: number[], better: Better): NonNullable<Comparison["verdict"]> {
  // One run of each has no spread to lie beyond: any difference would be called, noise included.
  if (figure.length < 2 || baseline.length < 2) return "one round: not called";
  const [fMin, fMax, bMin, bMax] = [Math.min(...figure), Math.max(...figure), Math.min(...baseline), Math.max(...baseline)];
  if (fMin > bMax) return better === "higher" ? "better" : "worse";
  if (fMax < bMin) return better === "lower" ? "better" : "worse";
  return "within the spread";
}

/** Runs `fns` in interleaved rounds (a, b, a, b…), so drift on a noisy machine hits each alike. */
export async function interleaved<K extends string>(rounds: number, fns: Record<K, () => Promise<number>>): Promise<Record<K, number[]>> {
  const out = Object.fromEntries(Object.keys(fns).map((k) => [k, [] as number[]])) as Record<K, number[]>;
  for (let i = 0; i < rounds; i++) {
    for (const k of Object.keys(fns) as K[]) out[k].push(await fns[k]());
  }
  return out;
}
