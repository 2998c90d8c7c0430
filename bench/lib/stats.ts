/** Nearest-rank percentile of unsorted samples (milliseconds or any unit). */
export function percentile(samples: readonly number[], p: number): number {
  if (samples.length === 0) return Number.NaN;
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

export interface Summary {
  readonly n: number;
  readonly p50: number;
  readonly p95: number;
  readonly p99: number;
  readonly max: number;
}

export function summarize(samples: readonly number[]): Summary {
  const round = (x: number) => Math.round(x * 10) / 10;
  return {
    n: samples.length,
    p50: round(percentile(samples, 50)),
    p95: round(percentile(samples, 95)),
    p99: round(percentile(samples, 99)),
    max: round(samples.length === 0 ? Number.NaN : Math.max(...samples)),
  };
}

/**
 * p50 / p99 of millisecond samples as Prometheus's histogram_quantile would give them from a
 * histogram with these upper bounds (seconds): linear interpolation inside the bucket holding the
 * rank, the lower bound of the first bucket taken as 0, the largest finite bound beyond the last.
 */
export function bucketed(samples: readonly number[], bounds: readonly number[]): { p50: number; p99: number } {
  const counts = bounds.map((bound) => samples.filter((ms) => ms / 1_000 <= bound).length);
  const quantile = (q: number): number => {
    if (samples.length === 0) return Number.NaN;
    const rank = q * samples.length;
    const i = counts.findIndex((count) => count >= rank);
    if (i === -1) return bounds.at(-1)! * 1_000;
    const [lower, below] = i === 0 ? [0, 0] : [bounds[i - 1]!, counts[i - 1]!];
    const seconds = lower + (bounds[i]! - lower) * ((rank - below) / (counts[i]! - below));
    return Math.round(seconds * 10_000) / 10;
  };
  return { p50: quantile(0.5), p99: quantile(0.99) };
}

/** Runs `task` over `items` with at most `concurrency` in flight. */
export async function pool<T>(items: readonly T[], concurrency: number, task: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(concurrency, items.length) }, async () => {
      while (next < items.length) await task(items[next++]!);
    }),
  );
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
