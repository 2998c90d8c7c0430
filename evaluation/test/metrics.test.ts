import { describe, expect, it } from 'vitest';
import { MetricAccumulator, novelty, scoreList } from '../src/metrics.ts';

describe('scoreList', () => {
  it('scores a list against an invoice as computed by hand', () => {
    // hits at ranks 2 and 4 of 4; the invoice has 3 products
    const score = scoreList(['a', 'b', 'c', 'd'], new Set(['b', 'd', 'x']), 4);
    expect(score.hits).toBe(2);
    expect(score.precision).toBe(0.5);
    expect(score.recall).toBeCloseTo(2 / 3, 12);
    // DCG = 1/log2(3) + 1/log2(5) = 1.061606; ideal = 1 + 1/log2(3) + 1/log2(4) = 2.130930
    expect(score.ndcg).toBeCloseTo(1.061606 / 2.13093, 5);
    expect(score.hit).toBe(true);
  });

  it('scores a short list as if padded with misses, and a miss as zero', () => {
    expect(scoreList(['x'], new Set(['x']), 4)).toEqual({ hits: 1, precision: 0.25, recall: 1, ndcg: 1, hit: true });
    expect(scoreList(['a', 'b'], new Set(['x']), 2)).toEqual({ hits: 0, precision: 0, recall: 0, ndcg: 0, hit: false });
    expect(scoreList([], new Set(['x']), 10).recall).toBe(0);
  });

  it('only looks at the first k items and counts a repeated item once', () => {
    expect(scoreList(['a', 'x', 'y'], new Set(['y']), 2).hits).toBe(0);
    expect(scoreList(['y', 'y'], new Set(['y', 'z']), 2).hits).toBe(1);
  });
});

describe('novelty', () => {
  it('is the mean self-information of the first five items, an unseen item counting as one buyer', () => {
    const buyers = new Map([
      ['a', 2],
      ['b', 1],
      ['c', 8],
    ]);
    const of = (item: string) => buyers.get(item) ?? 0;
    // -log2(2/8) = 2, -log2(1/8) = 3, -log2(8/8) = 0
    expect(novelty(['a', 'b', 'c'], of, 8)).toBeCloseTo(5 / 3, 12);
    expect(novelty(['new'], of, 8)).toBe(3);
    // only the first five count
    expect(novelty(['c', 'c', 'c', 'c', 'c', 'b'], of, 8)).toBe(0);
    expect(novelty([], of, 8)).toBeNaN();
  });
});

describe('MetricAccumulator', () => {
  it('averages per invoice and counts coverage over the catalog and the customers', () => {
    const metrics = new MetricAccumulator(2);
    metrics.add('u1', ['a', 'b'], new Set(['a']), 1); // P 0.5, R 1, NDCG 1, hit
    metrics.add('u1', ['c', 'a'], new Set(['a', 'd']), 3); // P 0.5, R 0.5, NDCG (1/log2 3)/(1 + 1/log2 3), hit
    metrics.add('u2', ['a'], new Set(['z']), Number.NaN); // a short list: u2 never got a full one
    const summary = metrics.summary(10);
    const secondNdcg = 1 / Math.log2(3) / (1 + 1 / Math.log2(3));
    expect(summary.n).toBe(3);
    expect(summary.precision).toBeCloseTo((0.5 + 0.5 + 0) / 3, 12);
    expect(summary.recall).toBeCloseTo((1 + 0.5 + 0) / 3, 12);
    expect(summary.ndcg).toBeCloseTo((1 + secondNdcg + 0) / 3, 12);
    expect(summary.hitRate).toBeCloseTo(2 / 3, 12);
    expect(summary.novelty).toBe(2); // mean of 1 and 3; the NaN of an empty-novelty list is left out
    expect(summary.itemCoverage).toBe(0.3); // a, b, c of 10
    expect(summary.userCoverage).toBe(0.5); // u1 always got 2 items, u2 did not
  });
});
