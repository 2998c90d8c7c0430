import { describe, expect, it } from 'vitest';
import type { EvaluationResult, ResultRow, Segment } from '../src/evaluate.ts';
import { leadsOverBaselines, strongestBaseline } from '../src/leads.ts';
import { formatLeads, formatReplay, formatTable, toJson } from '../src/report.ts';

const row = (strategy: string, segment: Segment, recall: number, ndcg: number): ResultRow => ({
  strategy,
  segment,
  precision: recall / 2,
  recall,
  ndcg,
  hitRate: 0.5,
  novelty: 4,
  itemCoverage: 0.3,
  userCoverage: 1,
  n: 100,
});

/** Two baselines and served: in warm `rep` leads on Recall but `dec` on NDCG; in cold served is level with them. */
function resultOf(rows: ResultRow[], baselines: readonly string[]): EvaluationResult {
  return {
    k: 10,
    split: '2011-09-01',
    until: null,
    data: 'retail.csv',
    results: rows,
    catalogSize: 10,
    customers: { training: 3, warm: 2, cold: 1 },
    replay: {
      events: 10,
      seconds: 1,
      eventsPerSecond: 10,
      rate: { tenths: [{ events: 10, seconds: 1, eventsPerSecond: 10, cpuSeconds: 1, eventsPerCpuSecond: 10 }], lastToFirst: 1, cpuLastToFirst: 1 },
    },
    seconds: 2,
    strategies: Object.fromEntries(rows.map((r) => [r.strategy, r.strategy])),
    baselines,
  };
}

const RESULT = resultOf(
  [
    row('rep', 'warm', 0.16, 0.27),
    row('dec', 'warm', 0.15, 0.28),
    row('served', 'warm', 0.176, 0.2744),
    row('rep', 'cold', 0.05, 0.1),
    row('dec', 'cold', 0.06, 0.09),
    row('served', 'cold', 0.06, 0.1),
    row('rep', 'all', 0.1, 0.2),
    row('dec', 'all', 0.1, 0.2),
    row('served', 'all', 0.09, 0.25),
  ],
  ['rep', 'dec'],
);

describe('the strongest baseline', () => {
  it('is the baseline with the highest Recall@k of its segment, ties by NDCG@k then name, never served', () => {
    expect(strongestBaseline(RESULT, 'warm')).toBe('rep');
    expect(strongestBaseline(RESULT, 'cold')).toBe('dec');
    expect(strongestBaseline(RESULT, 'all')).toBe('dec');
    expect(strongestBaseline(resultOf([row('served', 'warm', 0.5, 0.5)], []), 'warm')).toBeUndefined();
  });

  it('is marked in the table, once per segment', () => {
    const lines = formatTable(RESULT).split('\n');
    expect(lines.filter((line) => line.includes('*')).map((line) => line.split(/\s{2,}/).slice(0, 2))).toEqual([
      ['warm', 'rep *'],
      ['cold', 'dec *'],
      ['all', 'dec *'],
    ]);
  });
});

describe('the lead over the baselines', () => {
  it('is measured on each metric against the baseline best on it', () => {
    const leads = leadsOverBaselines(RESULT);
    expect(leads.map((lead) => [lead.segment, lead.strategy, lead.strongest])).toEqual([
      ['warm', 'served', 'rep'],
      ['cold', 'served', 'dec'],
      ['all', 'served', 'dec'],
    ]);
    const warm = leads[0]!.metrics;
    expect(warm.recall).toMatchObject({ value: 0.176, baseline: 'rep', best: 0.16 });
    expect(warm.recall.lift).toBeCloseTo(0.1, 12);
    // on NDCG dec is the stronger: the gap is against it, not against rep
    expect(warm.ndcg).toMatchObject({ value: 0.2744, baseline: 'dec', best: 0.28 });
    expect(warm.ndcg.lift).toBeCloseTo(-0.02, 12);
    expect(leads[1]!.metrics.recall.lift).toBe(0);
  });

  it('is printed as a lead or a gap, plainly', () => {
    const text = formatLeads(RESULT);
    expect(text).toContain('* strongest baseline of its segment: the highest Recall@10 of the baselines (rep, dec)');
    expect(text).toContain('warm  Recall@10 0.1760 vs 0.1600 rep: +10.0% (ahead); NDCG@10 0.2744 vs 0.2800 dec: −2.0% (behind)');
    expect(text).toContain('cold  Recall@10 0.0600 vs 0.0600 dec: +0.0% (level); NDCG@10 0.1000 vs 0.1000 rep: +0.0% (level)');
    expect(text).toContain('all   Recall@10 0.0900 vs 0.1000 dec: −10.0% (behind); NDCG@10 0.2500 vs 0.2000 dec: +25.0% (ahead)');
  });

  it('is written to the JSON results', () => {
    const json = JSON.parse(toJson(RESULT));
    expect(json.baselines).toEqual(['rep', 'dec']);
    expect(json.leads[0]).toEqual({
      strategy: 'served',
      segment: 'warm',
      strongest: 'rep',
      recall: { value: 0.176, baseline: 'rep', best: 0.16, lift: 0.1 },
      ndcg: { value: 0.2744, baseline: 'dec', best: 0.28, lift: -0.02 },
    });
  });

  it('is left out when there is nothing to compare', () => {
    expect(formatLeads(resultOf([row('rep', 'warm', 0.1, 0.1)], ['rep']))).toBe('');
    expect(formatLeads(resultOf([row('served', 'warm', 0.1, 0.1)], []))).toBe('');
    expect(leadsOverBaselines(resultOf([row('served', 'warm', 0.1, 0.1)], []))).toEqual([]);
  });
});

describe('the replay rate', () => {
  const replayed: EvaluationResult = {
    ...RESULT,
    replay: {
      events: 30_000,
      seconds: 4,
      eventsPerSecond: 7500,
      rate: {
        tenths: [
          { events: 10_000, seconds: 1, eventsPerSecond: 10_000, cpuSeconds: 0.8, eventsPerCpuSecond: 12_500 },
          { events: 10_000, seconds: 1.25, eventsPerSecond: 8000, cpuSeconds: 1, eventsPerCpuSecond: 10_000 },
          { events: 10_000, seconds: 1.75, eventsPerSecond: 5714.3, cpuSeconds: 1.25, eventsPerCpuSecond: 8000 },
        ],
        lastToFirst: 0.57143,
        cpuLastToFirst: 0.64,
      },
    },
  };

  it('is printed per tenth with the last tenth’s over the first’s', () => {
    expect(formatReplay(replayed).split('\n')).toEqual([
      'replay: 30,000 training purchases in 4.0 s (7,500 events/s); whole evaluation 2.0 s',
      'replay per tenth of its events (events/s): 10,000 · 8,000 · 5,714; last tenth / first: 0.57',
      'replay per tenth, per CPU second of this process (steadier on a shared machine): 12,500 · 10,000 · 8,000; last tenth / first: 0.64',
    ]);
  });

  it('is written to the JSON results', () => {
    expect(JSON.parse(toJson(replayed)).replay).toEqual({
      events: 30_000,
      seconds: 4,
      eventsPerSecond: 7500,
      tenths: [
        { events: 10_000, seconds: 1, eventsPerSecond: 10_000, cpuSeconds: 0.8, eventsPerCpuSecond: 12_500 },
        { events: 10_000, seconds: 1.25, eventsPerSecond: 8000, cpuSeconds: 1, eventsPerCpuSecond: 10_000 },
        { events: 10_000, seconds: 1.75, eventsPerSecond: 5714, cpuSeconds: 1.25, eventsPerCpuSecond: 8000 },
      ],
      lastToFirst: 0.57143,
      cpuLastToFirst: 0.64,
    });
  });
});
