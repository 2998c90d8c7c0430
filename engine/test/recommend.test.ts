import { describe, expect, it } from 'vitest';
import { Aggregator } from '../src/aggregator.ts';
import { MemoryCatalog } from '../src/catalog.ts';
import { engineConfig, type EngineConfig } from '../src/config.ts';
import { dueFactor, NOTHING_HIDDEN, recommend, repeatFactor, userSignals, type HiddenHistory } from '../src/recommend.ts';
import { MemoryStore } from '../src/store.ts';
import { DAY, event, MINUTE, T0 } from './fixtures.ts';

const config = engineConfig({ bestSellerWindows: [30], listWindowDays: 30 });
const NOW = T0 + 20 * DAY;

async function world() {
  const catalog = new MemoryCatalog([
    ['mug', { categoryId: 'kitchen', inStock: true }],
    ['teapot', { categoryId: 'kitchen', inStock: true }],
    ['spoon', { categoryId: 'kitchen', inStock: true }],
    ['candle', { categoryId: 'home', inStock: true }],
    ['lamp', { categoryId: 'home', inStock: true }],
    ['vase', { categoryId: 'home', inStock: false }],
  ]);
  const agg = new Aggregator(new MemoryStore(), catalog, config);
  await agg.start();
  // candle is the overall best seller; mug and teapot are bought together
  const events = [];
  for (const user of ['b1', 'b2', 'b3', 'b4']) events.push(event(user, 'candle', 'PURCHASE', 10 * DAY));
  for (const user of ['b1', 'b2', 'b3']) events.push(event(user, 'mug', 'PURCHASE', 11 * DAY), event(user, 'teapot', 'PURCHASE', 11 * DAY));
  events.push(event('b4', 'vase', 'PURCHASE', 11 * DAY), event('b4', 'lamp', 'PURCHASE', 11 * DAY));
  await agg.apply(events, NOW);
  const listFor = async (userId: string, userEvents: ReturnType<typeof event>[], hidden: HiddenHistory = NOTHING_HIDDEN) => {
    if (userEvents.length > 0) await agg.apply(userEvents, NOW);
    const state = agg.userState(userId);
    return { ...recommend({ state, hidden, now: NOW, catalog, read: agg, config }), state, catalog };
  };
  return { listFor };
}

describe('recommend', () => {
  it('gives a user without history the overall best sellers, marked BEST_SELLERS', async () => {
    const { listFor } = await world();
    const list = await listFor('new-user', []);
    expect(list.strategy).toBe('BEST_SELLERS');
    expect(list.items.map((i) => i.productId)).toEqual(['candle', 'mug', 'teapot', 'lamp']);
    expect(list.items[0]!.reasons).toEqual(['POPULAR']);
  });

  it('recommends what is bought together with the user’s purchases, and buying again', async () => {
    const { listFor } = await world();
    const list = await listFor('u', [event('u', 'mug', 'PURCHASE', 15 * DAY)]);
    expect(list.strategy).toBe('PERSONALIZED');
    const teapot = list.items.find((i) => i.productId === 'teapot');
    expect(teapot?.reasons).toContain('ALSO_BOUGHT:mug');
    expect(list.items.find((i) => i.productId === 'mug')?.reasons[0]).toBe('BUY_AGAIN');
  });

  it('ranks a recent purchase above an old one for buying again, other things equal', async () => {
    const { listFor } = await world();
    const list = await listFor('u', [event('u', 'spoon', 'PURCHASE', 0), event('u', 'lamp', 'PURCHASE', 19 * DAY)]);
    const buyAgain = (id: string) => list.items.find((item) => item.productId === id)!;
    expect(buyAgain('lamp').reasons[0]).toBe('BUY_AGAIN');
    expect(buyAgain('spoon').reasons[0]).toBe('BUY_AGAIN');
    const repeatOnly = engineConfig({ ...config, blend: { repeat: 1, alsoBought: 0, alsoViewed: 0, category: 0, popular: 0 } });
    const signals = userSignals(list.state, NOTHING_HIDDEN, NOW, list.catalog, repeatOnly);
    expect(signals.repeat.values.get('lamp')).toBeGreaterThan(signals.repeat.values.get('spoon')!);
  });

  it('leaves out products that are out of stock, unknown, in the cart, or removed from history', async () => {
    const { listFor } = await world();
    const list = await listFor(
      'u',
      [
        event('u', 'lamp', 'PURCHASE', 12 * DAY),
        event('u', 'unknown-product', 'VIEW', 13 * DAY),
        event('u', 'teapot', 'ADD_TO_CART', 14 * DAY),
        event('u', 'spoon', 'VIEW', 14 * DAY + MINUTE),
      ],
      { removed: new Map([['spoon', NOW]]) },
    );
    const ids = list.items.map((i) => i.productId);
    expect(ids).not.toContain('vase'); // bought with lamp, but out of stock
    expect(ids).not.toContain('unknown-product');
    expect(ids).not.toContain('teapot'); // in the cart
    expect(ids).not.toContain('spoon'); // removed from history
    expect(ids).toContain('lamp');
  });

  it('lets a product back once it leaves the cart by purchase', async () => {
    const { listFor } = await world();
    const list = await listFor('u', [event('u', 'teapot', 'ADD_TO_CART', 14 * DAY), event('u', 'teapot', 'PURCHASE', 14 * DAY + MINUTE)]);
    expect(list.items.map((i) => i.productId)).toContain('teapot');
  });
});

describe('browsingHistory', async () => {
  const { browsingHistory } = await import('../src/history.ts');
  const { emptyUserState, mergeEvents } = await import('../src/userState.ts');
  const state = mergeEvents(
    emptyUserState('u'),
    [
      event('u', 'a', 'VIEW', 0),
      event('u', 'b', 'VIEW', MINUTE),
      event('u', 'a', 'CLICK', 2 * MINUTE),
      event('u', 'c', 'PURCHASE', 3 * MINUTE),
      event('u', 'd', 'VIEW', 4 * MINUTE),
    ],
    config,
  ).state;

  it('lists distinct viewed products, most recent first, with view counts', () => {
    expect(browsingHistory(state, NOTHING_HIDDEN, 10)).toEqual([
      { productId: 'd', lastViewedAt: T0 + 4 * MINUTE, views: 1 },
      { productId: 'a', lastViewedAt: T0 + 2 * MINUTE, views: 2 },
      { productId: 'b', lastViewedAt: T0 + MINUTE, views: 1 },
    ]);
    expect(browsingHistory(state, NOTHING_HIDDEN, 2).map((e) => e.productId)).toEqual(['d', 'a']);
  });

  it('leaves out views removed or cleared, but shows later views again', () => {
    expect(browsingHistory(state, { removed: new Map([['a', T0 + 2 * MINUTE]]) }, 10).map((e) => e.productId)).toEqual(['d', 'b']);
    expect(browsingHistory(state, { removed: new Map([['a', T0 + MINUTE]]) }, 10)).toContainEqual({ productId: 'a', lastViewedAt: T0 + 2 * MINUTE, views: 1 });
    expect(browsingHistory(state, { removed: new Map(), clearedAt: T0 + 3 * MINUTE }, 10).map((e) => e.productId)).toEqual(['d']);
  });
});

describe('sameItems', async () => {
  const { sameItems } = await import('../src/recommend.ts');
  const item = (productId: string, score: number, reasons: string[]) => ({ productId, score, reasons });
  it('ignores score drift but not order, products or reasons', () => {
    const list = [item('a', 2, ['BUY_AGAIN']), item('b', 1, ['POPULAR'])];
    expect(sameItems(list, [item('a', 1.999, ['BUY_AGAIN']), item('b', 1.001, ['POPULAR'])])).toBe(true);
    expect(sameItems(list, [item('b', 1, ['POPULAR']), item('a', 2, ['BUY_AGAIN'])])).toBe(false);
    expect(sameItems(list, [item('a', 2, ['BUY_AGAIN']), item('c', 1, ['POPULAR'])])).toBe(false);
    expect(sameItems(list, [item('a', 2, ['ALSO_BOUGHT:x']), item('b', 1, ['POPULAR'])])).toBe(false);
    expect(sameItems(list, list.slice(0, 1))).toBe(false);
  });

  it('pulls harder towards buying again a product its buyers tend to buy again', async () => {
    const catalog = new MemoryCatalog([
      ['coffee', { categoryId: 'kitchen', inStock: true }],
      ['kettle', { categoryId: 'kitchen', inStock: true }],
    ]);
    const boosted = engineConfig({ ...config, repurchaseBoost: 5, repurchasePrior: { rate: 0, weight: 0 }, demandExponent: 0 });
    const agg = new Aggregator(new MemoryStore(), catalog, boosted);
    await agg.start();
    // r1 and r2 buy coffee on two days each; r3 buys it once; kettles are bought once each
    await agg.apply(
      [
        ...['r1', 'r2'].flatMap((user) => [event(user, 'coffee', 'PURCHASE', DAY), event(user, 'coffee', 'PURCHASE', 5 * DAY)]),
        event('r3', 'coffee', 'PURCHASE', 2 * DAY),
        ...['r1', 'r2', 'r3'].map((user) => event(user, 'kettle', 'PURCHASE', 3 * DAY)),
      ],
      NOW,
    );
    expect(agg.productBuyers('coffee')).toMatchObject({ total: 3, repeat: 2 });
    expect(agg.productBuyers('kettle')).toMatchObject({ total: 3, repeat: 0 });
    expect(agg.productBuyers('unknown')).toMatchObject({ total: 0, repeat: 0 });
    // u bought both once, the kettle more recently; coffee still comes first
    await agg.apply([event('u', 'coffee', 'PURCHASE', 8 * DAY), event('u', 'kettle', 'PURCHASE', 9 * DAY)], NOW);
    const list = recommend({ state: agg.userState('u'), hidden: NOTHING_HIDDEN, now: NOW, catalog, read: agg, config: boosted });
    expect(list.items.map((item) => item.productId)).toEqual(['coffee', 'kettle']);
    // without the boost, the more recent purchase comes first
    const plain = engineConfig({ ...boosted, repurchaseBoost: 0 });
    expect(
      recommend({ state: agg.userState('u'), hidden: NOTHING_HIDDEN, now: NOW, catalog, read: agg, config: plain }).items.map((item) => item.productId),
    ).toEqual(['kettle', 'coffee']);
    // r3 buying coffee again makes every buyer of it but u a repeat buyer
    await agg.apply([event('r3', 'coffee', 'PURCHASE', 6 * DAY)], NOW);
    expect(agg.productBuyers('coffee')).toMatchObject({ total: 4, repeat: 3 });
  });

  it('weighs a past purchase by the product: smoothed repurchase rate, and whether its buyers still buy it', () => {
    const today = 100;
    const weigh = (buyers: { total: number; repeat: number; days: [number, number][] }, overrides: Partial<EngineConfig>) =>
      repeatFactor({ ...buyers, days: new Map(buyers.days) }, today, engineConfig({ ...config, ...overrides }));
    const off = { repurchaseBoost: 0, demandExponent: 0 };
    expect(weigh({ total: 10, repeat: 5, days: [[10, 10]] }, off)).toBe(1);
    // rate (5 + 20 × 0.2) / (10 + 20) = 0.3, boosted by 2: 1.6
    expect(weigh({ total: 10, repeat: 5, days: [[10, 10]] }, { ...off, repurchaseBoost: 2, repurchasePrior: { rate: 0.2, weight: 20 } })).toBeCloseTo(1.6, 12);
    // no prior: the raw share of repeat buyers, 5 / 10
    expect(weigh({ total: 10, repeat: 5, days: [[10, 10]] }, { ...off, repurchaseBoost: 2, repurchasePrior: { rate: 0, weight: 0 } })).toBeCloseTo(2, 12);
    // no buyers known and no prior: no boost (not NaN)
    expect(weigh({ total: 0, repeat: 0, days: [] }, { ...off, repurchaseBoost: 2, repurchasePrior: { rate: 0, weight: 0 } })).toBe(1);
    // a product with a single buyer who bought it once is taken near the prior, not at 0
    expect(weigh({ total: 1, repeat: 0, days: [[99, 1]] }, { ...off, repurchaseBoost: 1, repurchasePrior: { rate: 0.2, weight: 20 } })).toBeCloseTo(
      1 + 4 / 21,
      12,
    );
    // demand: 3 of 15 buyers bought within the last 30 days (days 71..100): ((3 + 1) / (15 + 1)) ^ 0.5 = 0.5
    const buyers = {
      total: 15,
      repeat: 0,
      days: [
        [40, 12],
        [71, 2],
        [100, 1],
      ] as [number, number][],
    };
    expect(weigh(buyers, { ...off, demandExponent: 0.5, demandWindowDays: 30 })).toBeCloseTo(0.5, 12);
    // a product nobody bought lately pulls least; one all of whose buyers are recent, fully
    expect(weigh({ total: 15, repeat: 0, days: [[40, 15]] }, { ...off, demandExponent: 0.5 })).toBeCloseTo(0.25, 12);
    expect(weigh({ total: 15, repeat: 0, days: [[90, 15]] }, { ...off, demandExponent: 0.5 })).toBe(1);
  });

  it('lets a product its buyers stopped buying fall behind one they still buy', async () => {
    const catalog = new MemoryCatalog([
      ['old-print', { categoryId: 'art', inStock: true }],
      ['new-print', { categoryId: 'art', inStock: true }],
    ]);
    const weighed = engineConfig({ ...config, repurchaseBoost: 0, demandExponent: 0.5, demandWindowDays: 7 });
    const agg = new Aggregator(new MemoryStore(), catalog, weighed);
    await agg.start();
    // many bought the old print early on, nobody lately; the new one sells now
    await agg.apply(
      [
        ...['a', 'b', 'c', 'd'].map((user) => event(user, 'old-print', 'PURCHASE', DAY)),
        ...['e', 'f'].map((user) => event(user, 'new-print', 'PURCHASE', 18 * DAY)),
        // u bought the old print more recently than the new one
        event('u', 'new-print', 'PURCHASE', 2 * DAY),
        event('u', 'old-print', 'PURCHASE', 3 * DAY),
      ],
      NOW,
    );
    const ids = (cfg: EngineConfig) =>
      recommend({ state: agg.userState('u'), hidden: NOTHING_HIDDEN, now: NOW, catalog, read: agg, config: cfg }).items.map((item) => item.productId);
    expect(ids(weighed)).toEqual(['new-print', 'old-print']);
    expect(ids(engineConfig({ ...weighed, demandExponent: 0 }))).toEqual(['old-print', 'new-print']);
  });

  it('weighs a product bought on a cycle by how due it is', () => {
    const due = engineConfig({ ...config, dueExponent: 0.25 });
    // bought on days 40, 70 and 100: every 30 days; 5 days since: ((5 + 1) / (30 + 1)) ^ 0.25
    expect(dueFactor([100, 70, 40], 105 * DAY, due)).toBeCloseTo((6 / 31) ** 0.25, 12);
    expect(dueFactor([100, 70, 40], 100.5 * DAY, due)).toBeCloseTo((1.5 / 31) ** 0.25, 12);
    // due (30 days since) or overdue: not held back
    expect(dueFactor([100, 70, 40], 130 * DAY, due)).toBe(1);
    expect(dueFactor([100, 70, 40], 200 * DAY, due)).toBe(1);
    // one day only: no cycle; turned off: 1
    expect(dueFactor([100], 101 * DAY, due)).toBe(1);
    expect(dueFactor([100, 70, 40], 105 * DAY, engineConfig({ ...due, dueExponent: 0 }))).toBe(1);
  });

  it('lets a product restocked lately wait behind one whose cycle has come round', async () => {
    const catalog = new MemoryCatalog(['filters', 'tape'].map((id) => [id, { categoryId: 'c', inStock: true }]));
    const agg = new Aggregator(new MemoryStore(), catalog, config);
    await agg.start();
    // both every 8 days; filters last bought yesterday, tape 8 days ago
    await agg.apply(
      [
        event('u', 'filters', 'PURCHASE', 11 * DAY),
        event('u', 'filters', 'PURCHASE', 19 * DAY),
        event('u', 'tape', 'PURCHASE', 4 * DAY),
        event('u', 'tape', 'PURCHASE', 12 * DAY),
      ],
      NOW,
    );
    const ranked = (cfg: EngineConfig) => {
      const { repeat } = userSignals(agg.userState('u'), NOTHING_HIDDEN, NOW, catalog, cfg);
      return [...repeat.values].sort((a, b) => b[1] - a[1]).map(([id]) => id);
    };
    expect(ranked(engineConfig({ ...config, dueExponent: 0 }))).toEqual(['filters', 'tape']);
    expect(ranked(engineConfig({ ...config, dueExponent: 0.25 }))).toEqual(['tape', 'filters']);
  });

  it('considers only the strongest repeatCandidates past purchases for buying again', async () => {
    const catalog = new MemoryCatalog(['p1', 'p2', 'p3', 'p4'].map((id) => [id, { categoryId: 'c', inStock: true }]));
    const agg = new Aggregator(new MemoryStore(), catalog, config);
    await agg.start();
    await agg.apply(
      ['p1', 'p2', 'p3', 'p4'].map((id, i) => event('u', id, 'PURCHASE', (i + 1) * DAY)),
      NOW,
    );
    const signals = userSignals(agg.userState('u'), NOTHING_HIDDEN, NOW, catalog, engineConfig({ ...config, repeatCandidates: 2 }));
    expect([...signals.repeat.values.keys()].sort()).toEqual(['p3', 'p4']);
  });
});
