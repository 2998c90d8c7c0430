import { describe, expect, it } from 'vitest';
import { associationScore, logLikelihoodRatio } from '../src/llr.ts';

describe('logLikelihoodRatio', () => {
  it('matches the G-test computed by hand for a perfectly associated table', () => {
    // 10 users have both, 10 have neither; every expected cell count is 5:
    // G = 2 * (10 ln(10/5) + 10 ln(10/5)) = 40 ln 2
    expect(logLikelihoodRatio(10, 0, 0, 10)).toBeCloseTo(40 * Math.LN2, 10);
    expect(logLikelihoodRatio(1, 0, 0, 1)).toBeCloseTo(4 * Math.LN2, 10);
  });

  it('matches the G-test for an uneven table', () => {
    // k = [[5, 5], [5, 85]], N = 100; expected cells 1, 9, 9, 81
    const g = 2 * (5 * Math.log(5 / 1) + 5 * Math.log(5 / 9) + 5 * Math.log(5 / 9) + 85 * Math.log(85 / 81));
    expect(logLikelihoodRatio(5, 5, 5, 85)).toBeCloseTo(g, 10);
  });

  it('is zero for independent counts', () => {
    expect(logLikelihoodRatio(5, 5, 5, 5)).toBe(0);
    expect(logLikelihoodRatio(2, 8, 18, 72)).toBeCloseTo(0, 10);
  });
});

describe('associationScore', () => {
  it('scores a pair seen together more often than chance', () => {
    // nA = 10, nB = 10, both = 5, total = 100: the table of the uneven G-test above
    expect(associationScore(5, 10, 10, 100)).toBeCloseTo(logLikelihoodRatio(5, 5, 5, 85), 10);
  });

  it('gives nothing to a pair seen together less often than chance', () => {
    // B is in 50% of all users but only 10% of A's users
    expect(associationScore(1, 10, 50, 100)).toBe(0);
    expect(associationScore(0, 10, 10, 100)).toBe(0);
  });
});
