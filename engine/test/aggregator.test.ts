import { describe, expect, it } from 'vitest';
import { Aggregator } from '../src/aggregator.ts';
import { MemoryCatalog } from '../src/catalog.ts';
import { engineConfig, type EngineConfig } from '../src/config.ts';
import type { TrackedEvent } from '../src/event.ts';
import { MemoryStore } from '../src/store.ts';
import { DAY, event, MINUTE, shuffled, T0 } from './fixtures.ts';

function catalog(count: number, categories = 3): MemoryCatalog {
  return new MemoryCatalog(Array.from({ length: count }, (_, i) => [`p${i}`, { categoryId: `c${i % categories}`, inStock: true }] as const));
}

async function aggregator(config: EngineConfig = engineConfig(), products = catalog(10)): Promise<Aggregator> {
  const agg = new Aggregator(new MemoryStore(), products, config);
  await agg.start();
  return agg;
}

describe('Aggregator best sellers', () => {
  it('counts distinct buyers exactly over trailing windows of whole days', async () => {
    const products = new MemoryCatalog([
      ['p1', { categoryId: 'A', inStock: true }],
      ['p2', { categoryId: 'A', inStock: true }],
      ['p3', { categoryId: 'B', inStock: true }],
    ]);
    const agg = await aggregator(engineConfig({ bestSellerWindows: [7, 30] }), products);
    await agg.apply(
      [
        event('u1', 'p1', 'PURCHASE', 0),
        event('u1', 'p1', 'PURCHASE', 5 * DAY),
        event('u2', 'p1', 'PURCHASE', 1 * DAY),
        event('u3', 'p2', 'PURCHASE', 2 * DAY),
        event('u1', 'p3', 'PURCHASE', 6 * DAY),
      ],
      T0 + 10 * DAY,
    );
    // days 4..10: only u1's latest purchase of p1 (day 5) and of p3 (day 6) are inside
    expect(agg.bestSellers(null, 7)).toEqual([
      ['p1', 1],
      ['p3', 1],
    ]);
    // days -19..10: u1 and u2 bought p1 (u1 twice, counted once), u3 p2, u1 p3
    expect(agg.bestSellers(null, 30)).toEqual([
      ['p1', 2],
      ['p2', 1],
      ['p3', 1],
    ]);
    expect(agg.bestSellers('A', 30)).toEqual([
      ['p1', 2],
      ['p2', 1],
    ]);
    // a window that is not materialized is computed on request
    expect(agg.bestSellers(null, 3)).toEqual([]);
    // days 3..10: u2 (day 1) and u3 (day 2) are out
    expect(agg.bestSellers(null, 8)).toEqual([
      ['p1', 1],
      ['p3', 1],
    ]);
    // days 1..10: u2 is in, u3's purchase of p2 too
    expect(agg.bestSellers(null, 10)).toEqual([
      ['p1', 2],
      ['p2', 1],
      ['p3', 1],
    ]);
  });

  it('reports the lists that change as the windows slide', async () => {
    const agg = await aggregator(engineConfig({ bestSellerWindows: [7] }), catalog(3, 1));
    const first = await agg.apply([event('u1', 'p0', 'PURCHASE', 0), event('u2', 'p1', 'PURCHASE', 3 * DAY)], T0 + 3 * DAY);
    expect(first.bestSellers.map((l) => [l.categoryId, l.items])).toEqual([
      [
        null,
        [
          ['p0', 1],
          ['p1', 1],
        ],
      ],
      [
        'c0',
        [
          ['p0', 1],
          ['p1', 1],
        ],
      ],
    ]);
    expect((await agg.refresh(T0 + 6 * DAY)).bestSellers).toEqual([]);
    // on day 7 the purchase of day 0 leaves the 7-day window
    const slid = await agg.refresh(T0 + 7 * DAY);
    expect(slid.bestSellers.map((l) => [l.categoryId, l.items])).toEqual([
      [null, [['p1', 1]]],
      ['c0', [['p1', 1]]],
    ]);
  });
});

describe('Aggregator co-occurrence', () => {
  it('counts each user once per product and per pair, and ranks neighbours by LLR', async () => {
    const agg = await aggregator();
    const events: TrackedEvent[] = [];
    // five users view p1 then p2 in a session; u1 views them again in a later session
    for (const user of ['u1', 'u2', 'u3', 'u4', 'u5']) {
      events.push(event(user, 'p1', 'VIEW', 0), event(user, 'p2', 'VIEW', MINUTE));
    }
    events.push(event('u1', 'p1', 'VIEW', DAY), event('u1', 'p2', 'VIEW', DAY + MINUTE));
    // five other users view p3 alone
    for (const user of ['u6', 'u7', 'u8', 'u9', 'u10']) events.push(event(user, 'p3', 'VIEW', 0));
    await agg.apply(events, T0 + 2 * DAY);
    expect(agg.coocOf('v', 'p1')?.users).toBe(5);
    expect(agg.coocOf('v', 'p1')?.pairs.get('p2')).toBe(5);
    expect(agg.universe.viewers).toBe(10);
    const [neighbour] = agg.neighbours('p1', 'ALSO_VIEWED');
    expect(neighbour?.[0]).toBe('p2');
    // 2x2 table: 5 both, 0 p1 only, 0 p2 only, 5 neither -> G = 20 ln 2
    expect(neighbour?.[1]).toBeCloseTo(20 * Math.LN2, 5);
  });

  it('keeps at most maxPairsPerItem pairs per product, dropping the weakest', async () => {
    const agg = await aggregator(engineConfig({ maxPairsPerItem: 2, coBuyItems: 10 }));
    await agg.apply(
      [
        event('u1', 'p0', 'PURCHASE', 0),
        event('u1', 'p1', 'PURCHASE', 0),
        event('u2', 'p0', 'PURCHASE', 0),
        event('u2', 'p1', 'PURCHASE', 0),
        event('u3', 'p0', 'PURCHASE', 0),
        event('u3', 'p2', 'PURCHASE', 0),
        event('u3', 'p3', 'PURCHASE', 0),
      ],
      T0,
    );
    const pairs = agg.coocOf('b', 'p0')!.pairs;
    expect(pairs.size).toBe(2);
    expect(pairs.get('p1')).toBe(2);
  });
});

describe('Aggregator determinism', () => {
  it('gives the same aggregates for one batch as for the same events shuffled into many batches', async () => {
    const config = engineConfig({ ringSize: 8, coBuyItems: 4, lastPurchaseCap: 6 });
    const types = ['VIEW', 'VIEW', 'CLICK', 'ADD_TO_CART', 'PURCHASE'] as const;
    const events: TrackedEvent[] = [];
    for (let i = 0; i < 400; i++) {
      const user = `u${(i * 7) % 23}`;
      const product = `p${(i * 13 + (i % 5)) % 10}`;
      events.push(event(user, product, types[(i * 3) % 5]!, ((i * 37) % 200) * 30 * MINUTE, { eventId: `x${i}`, price: 2, quantity: 1 + (i % 3) }));
    }
    const now = T0 + 120 * DAY;
    const whole = await aggregator(config);
    await whole.apply(events, now);

    const pieces = await aggregator(config);
    const order = shuffled(events, 42);
    for (let i = 0; i < order.length; ) {
      const size = 1 + ((i * 11) % 17);
      await pieces.apply(order.slice(i, i + size), now);
      i += size;
    }

    // version counts changes, so it depends on batching; the state itself must not
    const stateOf = (agg: Aggregator, id: string) => {
      const state = agg.userState(id);
      return state && { events: state.events, purchaseDays: [...state.purchaseDays].sort() };
    };
    for (let u = 0; u < 23; u++) expect(stateOf(pieces, `u${u}`)).toEqual(stateOf(whole, `u${u}`));
    expect(pieces.universe).toEqual(whole.universe);
    for (let p = 0; p < 10; p++) {
      for (const kind of ['v', 'b'] as const) {
        const a = pieces.coocOf(kind, `p${p}`);
        const b = whole.coocOf(kind, `p${p}`);
        expect(a?.users ?? 0).toBe(b?.users ?? 0);
        expect(Object.fromEntries(a?.pairs ?? [])).toEqual(Object.fromEntries(b?.pairs ?? []));
      }
      expect(Object.fromEntries(pieces.buyerDaysOf(`p${p}`) ?? [])).toEqual(Object.fromEntries(whole.buyerDaysOf(`p${p}`) ?? []));
    }
    expect(pieces.bestSellers(null, 30)).toEqual(whole.bestSellers(null, 30));
  });
});

describe('Aggregator and history control events', () => {
  it('applies them to the user state but counts them nowhere', async () => {
    const agg = await aggregator();
    await agg.apply([event('u1', 'p1', 'VIEW', 0), event('u1', 'p2', 'VIEW', MINUTE)], T0 + DAY);
    const before = { universe: agg.universe, v1: agg.coocOf('v', 'p1')?.users, pair: agg.coocOf('v', 'p1')?.pairs.get('p2') };
    const result = await agg.apply([{ ...event('u1', 'p1', 'VIEW', 2 * MINUTE), type: 'HIDE_PRODUCT' }], T0 + DAY);
    expect(result.users.map((u) => [...u.hidden.keys()])).toEqual([['p1']]);
    expect({ universe: agg.universe, v1: agg.coocOf('v', 'p1')?.users, pair: agg.coocOf('v', 'p1')?.pairs.get('p2') }).toEqual(before);
  });
});
