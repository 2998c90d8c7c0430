import { describe, expect, it } from 'vitest';
import { Aggregator } from '../src/aggregator.ts';
import { MemoryCatalog } from '../src/catalog.ts';
import { engineConfig } from '../src/config.ts';
import { NOTHING_HIDDEN, recommend, userSignals, type HiddenHistory } from '../src/recommend.ts';
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
    const list = await listFor('u', [
      event('u', 'lamp', 'PURCHASE', 12 * DAY),
      event('u', 'unknown-product', 'VIEW', 13 * DAY),
      event('u', 'teapot', 'ADD_TO_CART', 14 * DAY),
      event('u', 'spoon', 'VIEW', 14 * DAY + MINUTE),
    ], { removed: new Map([['spoon', NOW]]) });
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

  it('pulls harder towards buying again a product its buyers tend to buy again, when boosted', async () => {
    const catalog = new MemoryCatalog([
      ['coffee', { categoryId: 'kitchen', inStock: true }],
      ['kettle', { categoryId: 'kitchen', inStock: true }],
    ]);
    const boosted = engineConfig({ ...config, repurchaseBoost: 5 });
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
    expect(agg.repurchaseRate('coffee')).toBeCloseTo(2 / 3, 12);
    expect(agg.repurchaseRate('kettle')).toBe(0);
    // u bought both once, the kettle more recently; coffee still comes first
    await agg.apply([event('u', 'coffee', 'PURCHASE', 8 * DAY), event('u', 'kettle', 'PURCHASE', 9 * DAY)], NOW);
    const list = recommend({ state: agg.userState('u'), hidden: NOTHING_HIDDEN, now: NOW, catalog, read: agg, config: boosted });
    expect(list.items.map((item) => item.productId)).toEqual(['coffee', 'kettle']);
    // without the boost, the more recent purchase comes first
    const plain = recommend({ state: agg.userState('u'), hidden: NOTHING_HIDDEN, now: NOW, catalog, read: agg, config });
    expect(plain.items.map((item) => item.productId)).toEqual(['kettle', 'coffee']);
    // r3 buying coffee again makes every buyer of it a repeat buyer
    await agg.apply([event('r3', 'coffee', 'PURCHASE', 6 * DAY)], NOW);
    expect(agg.repurchaseRate('coffee')).toBe(3 / 4);
  });
});
