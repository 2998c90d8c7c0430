import { describe, expect, it } from 'vitest';
import { EMPTY_TALLY } from '@recs/shared';
import { experimentReport, rateDifference, wilsonInterval } from '../experimentReport.ts';

/** Rounded as published, to 4 decimals. */
const rounded = (estimate: { low: number; high: number } | undefined) => estimate && [Number(estimate.low.toFixed(4)), Number(estimate.high.toFixed(4))];

describe('wilsonInterval', () => {
  // the worked examples of Newcombe (1998), "Two-sided confidence intervals for the single proportion", Statistics in Medicine 17: 857-872 (method 3)
  it.each([
    [81, 263, [0.2553, 0.3662]],
    [15, 148, [0.0624, 0.1605]],
    [0, 20, [0, 0.1611]],
    [1, 29, [0.0061, 0.1718]],
    [29, 29, [0.883, 1]],
  ])('%i of %i: the published 95%% interval', (successes, trials, expected) => {
    expect(rounded(wilsonInterval(successes, trials))).toEqual(expected);
    expect(wilsonInterval(successes, trials)?.value).toBeCloseTo(successes / trials, 12);
  });

  it('is undefined with no trials, and takes successes above trials as trials', () => {
    expect(wilsonInterval(0, 0)).toBeUndefined();
    expect(wilsonInterval(5, 4)).toEqual(wilsonInterval(4, 4));
  });
});

describe('rateDifference', () => {
  // the worked examples of Newcombe (1998), "Interval estimation for the difference between independent proportions", Statistics in Medicine 17: 873-890 (method 10)
  it.each([
    [56, 70, 48, 80, [0.0524, 0.3339]],
    [9, 10, 3, 10, [0.1705, 0.809]],
    [6, 7, 2, 7, [0.0582, 0.8062]],
    [5, 56, 0, 29, [-0.0381, 0.1926]],
  ])('%i/%i − %i/%i: the published hybrid score interval', (a, n, b, m, expected) => {
    const difference = rateDifference(wilsonInterval(a, n)!, wilsonInterval(b, m)!);
    expect(rounded(difference)).toEqual(expected);
    expect(difference.value).toBeCloseTo(a / n - b / m, 12);
  });
});

describe('experimentReport', () => {
  const setting = {
    name: 'home',
    variants: [
      { name: 'blend', weight: 3 },
      { name: 'diverse', weight: 1 },
    ],
  };

  it('lists the running experiment’s variants in order (zeros before any figure), then others by name, with rates and differences to the first', () => {
    const report = experimentReport(
      'home',
      [
        { variant: 'diverse', counts: { ...EMPTY_TALLY, impressions: 100, users: 80, clicks: 60, clickingUsers: 48, purchases: 9, purchasingUsers: 8 } },
        { variant: 'old', counts: { ...EMPTY_TALLY, impressions: 1, users: 1 } },
      ],
      setting,
    );
    expect(report?.active).toBe(true);
    expect(report?.variants.map((v) => [v.variant, v.share])).toEqual([
      ['blend', 0.75],
      ['diverse', 0.25],
      ['old', null],
    ]);
    const [blend, diverse, old] = report!.variants;
    expect(blend).toMatchObject({ impressions: 0, users: 0, clickThroughRate: null, conversionRate: null, clickThroughRateDifference: null });
    expect(diverse).toMatchObject({ impressions: 100, users: 80, clicks: 60, clickingUsers: 48, purchases: 9, purchasingUsers: 8 });
    expect(diverse?.clickThroughRate).toEqual(wilsonInterval(48, 80));
    expect(diverse?.conversionRate).toEqual(wilsonInterval(8, 80));
    // the control has no users: no difference
    expect(diverse?.clickThroughRateDifference).toBeNull();
    expect(old?.clickThroughRate).toEqual(wilsonInterval(0, 1));
  });

  it('compares every variant with the first', () => {
    const report = experimentReport(
      'home',
      [
        { variant: 'blend', counts: { ...EMPTY_TALLY, users: 80, clickingUsers: 48, purchasingUsers: 8 } },
        { variant: 'diverse', counts: { ...EMPTY_TALLY, users: 70, clickingUsers: 56, purchasingUsers: 5 } },
      ],
      setting,
    );
    const [blend, diverse] = report!.variants;
    expect(blend?.clickThroughRateDifference).toBeNull();
    expect(diverse?.clickThroughRateDifference).toEqual(rateDifference(wilsonInterval(56, 70)!, wilsonInterval(48, 80)!));
    expect(rounded(diverse?.clickThroughRateDifference ?? undefined)).toEqual([0.0524, 0.3339]);
    expect(diverse?.conversionRateDifference).toEqual(rateDifference(wilsonInterval(5, 70)!, wilsonInterval(8, 80)!));
  });

  it('reports an experiment that no longer runs by its figures, and none for an unknown one', () => {
    const past = experimentReport('past', [{ variant: 'blend', counts: { ...EMPTY_TALLY, users: 2 } }], setting);
    expect(past).toMatchObject({ name: 'past', active: false, variants: [{ variant: 'blend', share: null, users: 2 }] });
    expect(experimentReport('unknown', [], setting)).toBeNull();
    expect(experimentReport('home', [], undefined)).toBeNull();
  });
});
