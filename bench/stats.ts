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

/** One line of a scenario's table: a figure, its baseline, and their ratio (figure / baseline). */
export interface Comparison {
  /** A name the docs quote it by (gen:bench:<id>.ratio …), when they do. */
  id?: string;
  what: string;
  figure: Measured;
  baseline: Measured;
  ratio: number;
}

export function compare(what: string, figure: Measured, baseline: Measured, id?: string): Comparison {
  return { ...(id ? { id } : {}), what, figure, baseline, ratio: baseline.median === 0 ? NaN : figure.median / baseline.median };
}

/** Runs `fns` in interleaved rounds (a, b, a, b…), so drift on a noisy machine hits each alike. */
export async function interleaved<K extends string>(rounds: number, fns: Record<K, () => Promise<number>>): Promise<Record<K, number[]>> {
  const out = Object.fromEntries(Object.keys(fns).map((k) => [k, [] as number[]])) as Record<K, number[]>;
  for (let i = 0; i < rounds; i++) {
    for (const k of Object.keys(fns) as K[]) out[k].push(await fns[k]());
  }
  return out;
}
