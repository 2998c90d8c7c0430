import { describe, expect, it } from 'vitest';
import { Aggregator } from '../src/aggregator.ts';
import { MemoryCatalog } from '../src/catalog.ts';
import { engineConfig } from '../src/config.ts';
import { rankerCandidates } from '../src/ranker/candidates.ts';
import { candidateFeatures, RANKER_FEATURE_NAMES, RANKER_FEATURES } from '../src/ranker/features.ts';
import { rankCandidates, rankerModel } from '../src/ranker/rank.ts';
import { MemoryStore } from '../src/store.ts';
import { DAY, event, T0 } from './fixtures.ts';

const config = engineConfig({ bestSellerWindows: [7, 30, 90], listWindowDays: 7 });
/** Noon of day 40 after T0. */
const NOW = T0 + 40 * DAY + DAY / 2;

async function world() {
  const catalog = new MemoryCatalog([
    ['mug', { categoryId: 'kitchen', inStock: true }],
    ['teapot', { categoryId: 'kitchen', inStock: true }],
    ['candle', { categoryId: 'home', inStock: true }],
    ['vase', { categoryId: 'home', inStock: false }],
  ]);
  const aggregator = new Aggregator(new MemoryStore(), catalog, config);
  await aggregator.start();
  // u bought a mug on days 10, 20 and 30 and a vase (now out of stock) on day 30;
  // candle: 3 buyers on day 38 (in every window), teapot: bought with mugs by others on day 5
  const events = [
    event('u', 'mug', 'PURCHASE', 10 * DAY),
    event('u', 'mug', 'PURCHASE', 20 * DAY),
    event('u', 'mug', 'PURCHASE', 30 * DAY),
    event('u', 'vase', 'PURCHASE', 30 * DAY),
    ...['a', 'b', 'c'].map((user) => event(user, 'candle', 'PURCHASE', 38 * DAY)),
    ...['a', 'b'].flatMap((user) => [event(user, 'mug', 'PURCHASE', 5 * DAY), event(user, 'teapot', 'PURCHASE', 5 * DAY)]),
  ];
  await aggregator.apply(events, NOW);
  const prices = new Map([['mug', 2.5]]);
  const input = (userId: string) => ({
    state: aggregator.userState(userId),
    now: NOW,
    catalog,
    read: aggregator,
    config,
    price: (id: string) => prices.get(id),
  });
  return { input };
}

const value = (row: Float64Array, name: string) => row[RANKER_FEATURE_NAMES.indexOf(name)]!;

describe('ranker candidates and features', () => {
  it('takes candidates from the blended list, its filters applied (an out-of-stock purchase is not one)', async () => {
    const { input } = await world();
    const { candidates } = rankerCandidates(input('u'));
    const ids = candidates.map((candidate) => candidate.productId);
    expect(ids).toContain('mug');
    expect(ids).toContain('candle');
    expect(ids).toContain('teapot');
    expect(ids).not.toContain('vase');
    expect(candidates.map((candidate) => candidate.blendedRank)).toEqual(candidates.map((_, i) => i));
  });

  it('gives a user the engine has never seen the best sellers of the list window as candidates', async () => {
    const { input } = await world();
    const { candidates } = rankerCandidates(input('stranger'));
    // listWindowDays is 7: only the candle was bought in the last 7 days
    expect(candidates.map((candidate) => candidate.productId)).toEqual(['candle']);
  });

  it('computes how often, how lately and on what cycle the user bought a product, and its buyers per window', async () => {
    const { input } = await world();
    const { user, candidates } = rankerCandidates(input('u'));
    const mug = candidateFeatures(user, candidates.find((candidate) => candidate.productId === 'mug')!);
    expect(mug).toHaveLength(RANKER_FEATURES.length);
    expect(value(mug, 'user_item_days')).toBe(3);
    expect(value(mug, 'user_item_since_days')).toBeCloseTo(40.5 - 30 - 0, 10);
    expect(value(mug, 'user_item_cycle_days')).toBe(10);
    expect(value(mug, 'user_item_due')).toBeCloseTo((10.5 + 1) / (10 + 1), 10);
    expect(value(mug, 'user_item_purchases')).toBe(3);
    // 3 buyers ever (u, a, b); only u bought it on more than one day
    expect(value(mug, 'buyers_total')).toBe(3);
    expect(value(mug, 'buyers_7d')).toBe(0);
    expect(value(mug, 'buyers_30d')).toBe(1);
    expect(value(mug, 'buyers_90d')).toBe(3);
    expect(value(mug, 'repurchase_rate')).toBeCloseTo((1 + 20 * 0.2) / (3 + 20), 10);
    expect(value(mug, 'price')).toBe(2.5);
    expect(value(mug, 'user_purchase_days')).toBe(3);
    expect(value(mug, 'user_products')).toBe(2);
    expect(value(mug, 'user_since_days')).toBeCloseTo(10.5, 10);

    const candle = candidateFeatures(user, candidates.find((candidate) => candidate.productId === 'candle')!);
    expect(value(candle, 'user_item_days')).toBe(0);
    expect(value(candle, 'repeat_pull')).toBe(0);
    expect(value(candle, 'user_item_since_days')).toBeNaN();
    expect(value(candle, 'user_item_cycle_days')).toBeNaN();
    expect(value(candle, 'price')).toBeNaN();
    expect(value(candle, 'buyers_7d')).toBe(3);
    expect(value(candle, 'popular_rank')).toBe(0);
    const teapot = candidateFeatures(user, candidates.find((candidate) => candidate.productId === 'teapot')!);
    expect(value(teapot, 'also_bought')).toBe(1);
  });

  it('orders the candidates by the model, ties by the blended list', async () => {
    const { input } = await world();
    // one split: products the user bought on more than one day first
    const model = rankerModel({
      feature_names: RANKER_FEATURE_NAMES,
      tree_info: [
        {
          tree_structure: {
            split_feature: RANKER_FEATURE_NAMES.indexOf('user_item_days'),
            threshold: 1.5,
            decision_type: '<=',
            default_left: true,
            missing_type: 'None',
            left_child: { leaf_value: 0 },
            right_child: { leaf_value: 2 },
          },
        },
      ],
    });
    const blended = rankerCandidates(input('u')).candidates.map((candidate) => candidate.productId);
    const ranked = rankCandidates(input('u'), model);
    expect(ranked[0]).toEqual({ productId: 'mug', score: 2 });
    expect(ranked.slice(1).map((item) => item.productId)).toEqual(blended.filter((id) => id !== 'mug'));
  });
});
