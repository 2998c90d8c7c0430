import { EMPTY_TALLY, type ExperimentSetting, type TallyCounts, type VariantTally } from '@recs/shared';

/** z for a two-sided 95% interval. */
const Z95 = 1.959963984540054;

export interface RateEstimate {
  readonly value: number;
  readonly low: number;
  readonly high: number;
}

/**
 * The proportion successes / trials with its Wilson score interval (Wilson 1927; Newcombe 1998,
 * method 3), which stays inside [0, 1] and is sound for small counts and rates near 0 or 1, where
 * the normal approximation is not. Undefined with no trials. Successes above trials count as trials.
 */
export function wilsonInterval(successes: number, trials: number, z = Z95): RateEstimate | undefined {
  if (trials <= 0) return undefined;
  const p = Math.min(successes, trials) / trials;
  const z2 = z * z;
  const centre = p + z2 / (2 * trials);
  const spread = z * Math.sqrt((p * (1 - p)) / trials + z2 / (4 * trials * trials));
  const denominator = 1 + z2 / trials;
  return { value: p, low: Math.max(0, (centre - spread) / denominator), high: Math.min(1, (centre + spread) / denominator) };
}

/**
 * The difference of two independent proportions, a − b, with Newcombe's hybrid score interval
 * (Newcombe 1998, method 10), built from each one's Wilson interval.
 */
export function rateDifference(a: RateEstimate, b: RateEstimate): RateEstimate {
  const value = a.value - b.value;
  return {
    value,
    low: value - Math.sqrt((a.value - a.low) ** 2 + (b.high - b.value) ** 2),
    high: value + Math.sqrt((a.high - a.value) ** 2 + (b.value - b.low) ** 2),
  };
}

export interface VariantReport extends TallyCounts {
  readonly variant: string;
  readonly share: number | null;
  readonly clickThroughRate: RateEstimate | null;
  readonly conversionRate: RateEstimate | null;
  readonly clickThroughRateDifference: RateEstimate | null;
  readonly conversionRateDifference: RateEstimate | null;
}

export interface ExperimentReport {
  readonly name: string;
  readonly active: boolean;
  readonly variants: readonly VariantReport[];
}

/**
 * The report of experiment `name` from its stored tallies: the running experiment's variants in
 * its order (the first is the control), then variants with figures it no longer lists, by name.
 * `running`: the experiment this replica runs, if any. Null when `name` neither runs nor has figures.
 */
export function experimentReport(name: string, tallies: readonly VariantTally[], running: ExperimentSetting | undefined): ExperimentReport | null {
  const active = running?.name === name;
  if (!active && tallies.length === 0) return null;
  const counts = new Map(tallies.map((tally) => [tally.variant, tally.counts]));
  const configured = active ? running.variants : [];
  const total = configured.reduce((sum, variant) => sum + variant.weight, 0);
  const rows = [
    ...configured.map((variant) => ({ variant: variant.name, share: variant.weight / total, counts: counts.get(variant.name) ?? EMPTY_TALLY })),
    ...tallies.filter((tally) => !configured.some((variant) => variant.name === tally.variant)).map((tally) => ({ ...tally, share: null })),
  ];
  const rated = rows.map((row) => ({
    ...row,
    clickThroughRate: wilsonInterval(row.counts.clickingUsers, row.counts.users),
    conversionRate: wilsonInterval(row.counts.purchasingUsers, row.counts.users),
  }));
  const control = rated[0];
  const versus = (rate: RateEstimate | undefined, base: RateEstimate | undefined, isControl: boolean) =>
    isControl || rate === undefined || base === undefined ? null : rateDifference(rate, base);
  return {
    name,
    active,
    variants: rated.map((row, i) => ({
      variant: row.variant,
      share: row.share,
      ...row.counts,
      clickThroughRate: row.clickThroughRate ?? null,
      conversionRate: row.conversionRate ?? null,
      clickThroughRateDifference: versus(row.clickThroughRate, control?.clickThroughRate, i === 0),
      conversionRateDifference: versus(row.conversionRate, control?.conversionRate, i === 0),
    })),
  };
}
