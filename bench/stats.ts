/**
 * Medians and spread of repeated measurements, and the interleaving that
 * keeps two candidates' samples comparable on a busy machine.
 *
 * @module
 */

/** A sample summarised: the median, and the spread around it. */
export interface Stats {
  /** Number of samples. */
  readonly n: number;
  readonly median: number;
  /** 10th and 90th percentiles: the spread, without the one outlier a busy machine gives. */
  readonly p10: number;
  readonly p90: number;
  readonly min: number;
  readonly max: number;
}

/** Rounds to one decimal: a bench on a shared machine is not more precise than that. */
export function round1(value: number): number {
  return Math.round(value * 10) / 10;
}

/** The value at quantile `q` (0..1) of sorted samples, by linear interpolation. */
function quantile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return Number.NaN;
  const at = (sorted.length - 1) * q;
  const low = Math.floor(at);
  const high = Math.ceil(at);
  const a = sorted[low] as number;
  const b = sorted[high] as number;
  return a + (b - a) * (at - low);
}

/**
 * Summarises samples (milliseconds, counts, bytes alike).
 *
 * @example
 * ```ts
 * stats([3, 1, 2]).median; // 2
 * ```
 */
export function stats(samples: readonly number[]): Stats {
  const sorted = [...samples].sort((a, b) => a - b);
  return {
    n: sorted.length,
    median: round1(quantile(sorted, 0.5)),
    p10: round1(quantile(sorted, 0.1)),
    p90: round1(quantile(sorted, 0.9)),
    min: round1(sorted[0] ?? Number.NaN),
    max: round1(sorted.at(-1) ?? Number.NaN),
  };
}

/** `median (p10-p90)`, for reports. */
export function spread(s: Stats, unit = 'ms'): string {
  return `${s.median} ${unit} (${s.p10}-${s.p90})`;
}

/** Milliseconds `fn` took. */
export async function timed(fn: () => Promise<unknown>): Promise<number> {
  const start = performance.now();
  await fn();
  return performance.now() - start;
}

/**
 * Runs `a` and `b` in rounds, alternating which goes first (ABBA), so that
 * a slow patch of the machine (another build, a GC-heavy neighbour) falls on
 * both alike. Returns each one's samples.
 */
export async function interleaved<T>(
  rounds: number,
  a: () => Promise<T>,
  b: () => Promise<T>,
): Promise<{ a: T[]; b: T[] }> {
  const out = { a: [] as T[], b: [] as T[] };
  for (let round = 0; round < rounds; round++) {
    if (round % 2 === 0) {
      out.a.push(await a());
      out.b.push(await b());
    } else {
      out.b.push(await b());
      out.a.push(await a());
    }
  }
  return out;
}
