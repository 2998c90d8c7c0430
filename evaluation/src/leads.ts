import { SEGMENTS, type EvaluationResult, type ResultRow, type Segment } from './evaluate.ts';

/** The accuracy metrics a lead over the baselines is claimed on. */
export const LEAD_METRICS = ['recall', 'ndcg'] as const;
export type LeadMetric = (typeof LEAD_METRICS)[number];

/** One strategy's figure against the best baseline's on one metric. */
export interface MetricLead {
  readonly value: number;
  /** The baseline with the highest figure on this metric in the segment, and that figure. */
  readonly baseline: string;
  readonly best: number;
  /** (value − best) / best: above 0 a lead, below 0 a gap; NaN when the best baseline scores 0. */
  readonly lift: number;
}

/** How a strategy that is not a baseline (`served`, a tuning variant) did against the baselines in one segment. */
export interface Lead {
  readonly strategy: string;
  readonly segment: Segment;
  /** The segment's strongest baseline (see strongestBaseline). */
  readonly strongest: string;
  readonly metrics: Readonly<Record<LeadMetric, MetricLead>>;
}

const rowsOf = (result: EvaluationResult, segment: Segment, names: readonly string[]) =>
  result.results.filter((row) => row.segment === segment && names.includes(row.strategy));

/** Higher `metric` first, then higher NDCG, then the name: a total order. */
const better = (metric: LeadMetric) => (a: ResultRow, b: ResultRow) =>
  b[metric] - a[metric] || b.ndcg - a.ndcg || (a.strategy < b.strategy ? -1 : a.strategy > b.strategy ? 1 : 0);

/** The baseline with the highest Recall@k in the segment (ties: NDCG@k, then name); undefined when none was scored. */
export function strongestBaseline(result: EvaluationResult, segment: Segment): string | undefined {
  return rowsOf(result, segment, result.baselines).sort(better('recall'))[0]?.strategy;
}

/**
 * Every non-baseline strategy against the baselines, per segment: on each metric against the
 * baseline best on that metric (the strongest one unless another beats it there), so a lead is
 * never claimed over a weaker baseline. Empty when no baseline or no other strategy was scored.
 */
export function leadsOverBaselines(result: EvaluationResult): Lead[] {
  const candidates = [...new Set(result.results.map((row) => row.strategy))].filter((name) => !result.baselines.includes(name));
  const leads: Lead[] = [];
  for (const segment of SEGMENTS) {
    const baselines = rowsOf(result, segment, result.baselines);
    const strongest = strongestBaseline(result, segment);
    if (strongest === undefined) continue;
    for (const strategy of candidates) {
      const row = result.results.find((r) => r.strategy === strategy && r.segment === segment);
      if (row === undefined) continue;
      const metrics = Object.fromEntries(
        LEAD_METRICS.map((metric) => {
          const best = [...baselines].sort(better(metric))[0]!;
          const lift = best[metric] === 0 ? Number.NaN : (row[metric] - best[metric]) / best[metric];
          return [metric, { value: row[metric], baseline: best.strategy, best: best[metric], lift }];
        }),
      ) as Record<LeadMetric, MetricLead>;
      leads.push({ strategy, segment, strongest, metrics });
    }
  }
  return leads;
}
