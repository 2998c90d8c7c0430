import { describe, expect, it } from 'vitest';
import { Aggregator } from '../src/aggregator.ts';
import { MemoryCatalog } from '../src/catalog.ts';
import { engineConfig, type EngineConfig } from '../src/config.ts';
import type { TrackedEvent } from '../src/event.ts';
import { rankBestSellers } from '../src/bestSellers.ts';
import { topNeighbours } from '../src/similarity.ts';
import { MemoryStore, type AggregateSnapshot } from '../src/store.ts';
import { dayOf } from '../src/time.ts';
import { DAY, event, MINUTE, seededRandom, shuffled, T0 } from './fixtures.ts';

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

/** Buyer days that count how often all of them are read, to show what sliding a window costs. */
class CountedDays extends Map<number, number> {
  static reads = 0;
  override [Symbol.iterator](): MapIterator<[number, number]> {
    CountedDays.reads++;
    return super[Symbol.iterator]();
  }
  override entries(): MapIterator<[number, number]> {
    CountedDays.reads++;
    return super.entries();
  }
  override values(): MapIterator<number> {
    CountedDays.reads++;
    return super.values();
  }
}

/** A MemoryStore whose aggregates start with the given buyer days (as the workers' store loads them). */
class SeededStore extends MemoryStore {
  private readonly buyerDays: Map<string, Map<number, number>>;
  constructor(buyerDays: Map<string, Map<number, number>>) {
    super();
    this.buyerDays = buyerDays;
  }
  override async loadSnapshot(): Promise<AggregateSnapshot> {
    return { ...(await super.loadSnapshot()), buyerDays: this.buyerDays };
  }
}

describe('Aggregator best-seller windows as days pass', () => {
  it('slide a day by reading the products bought on the days they gain or lose, not every product’s days', async () => {
    const today = dayOf(T0);
    const buyerDays = new Map<string, Map<number, number>>();
    // 1,000 products bought on 200 days each
    for (let n = 0; n < 1000; n++) buyerDays.set(`p${n}`, new CountedDays(Array.from({ length: 200 }, (_, d) => [today - 2 * d, 1 + ((n + d) % 3)])));
    const agg = new Aggregator(new SeededStore(buyerDays), catalog(1000), engineConfig({ bestSellerWindows: [7, 30, 90] }));
    await agg.start();
    await agg.refresh(T0);
    for (let day = 1; day <= 5; day++) {
      CountedDays.reads = 0;
      await agg.apply([event(`u${day}`, 'p1', 'PURCHASE', day * DAY)], T0 + day * DAY);
      // the one product bought: its days written out for the store; nothing else is read whole
      expect(CountedDays.reads, `day ${day}`).toBeLessThanOrEqual(1);
      for (const windowDays of [7, 30, 90]) {
        expect(agg.bestSellers(null, windowDays)).toEqual(rankBestSellers(buyerDays.keys(), (id) => buyerDays.get(id), today + day, windowDays, 100));
      }
    }
  });

  it('count exactly what a count afresh gives, as purchases and days come in any order, on 10 seeded random histories', async () => {
    for (let seed = 1; seed <= 10; seed++) {
      const next = seededRandom(seed);
      const config = engineConfig({ bestSellerWindows: [1, 3, 7], bestSellersSize: 5 });
      const agg = await aggregator(config, catalog(12, 2));
      let now = T0;
      for (let step = 0; step < 60; step++) {
        // days mostly forward, by one or more, sometimes back; purchases of the day, a few days late or ahead
        now += Math.floor(next() * 3 - (next() < 0.1 ? 4 : 0)) * DAY + Math.floor(next() * DAY);
        const events = Array.from({ length: Math.floor(next() * 4) }, () =>
          event(`u${Math.floor(next() * 8)}`, `p${Math.floor(next() * 12)}`, 'PURCHASE', now - T0 + Math.floor(next() * 5 - 3) * DAY),
        );
        // a batch of nothing new changes nothing; refresh() is what slides the windows then
        if (events.length === 0 || next() < 0.2) await agg.refresh(now);
        else await agg.apply(events, now);
        const today = dayOf(now);
        for (const windowDays of config.bestSellerWindows) {
          for (const categoryId of [null, 'c0', 'c1']) {
            const ids =
              categoryId === null
                ? Array.from({ length: 12 }, (_, i) => `p${i}`)
                : Array.from({ length: 6 }, (_, i) => `p${2 * i + (categoryId === 'c0' ? 0 : 1)}`);
            expect(agg.bestSellers(categoryId, windowDays), `seed ${seed} step ${step}`).toEqual(
              rankBestSellers(ids, (id) => agg.buyerDaysOf(id), today, windowDays, 5),
            );
          }
        }
      }
    }
  });
});

describe('Aggregator best sellers within a day', () => {
  it('re-rank only the products a batch changed, exactly as a ranking afresh, also when a full ranking loses ground', async () => {
    for (let seed = 1; seed <= 10; seed++) {
      const next = seededRandom(100 + seed);
      // each user keeps their 3 latest products: a fourth evicts one, a buyer fewer for it (a ranking losing ground)
      const config = engineConfig({ bestSellerWindows: [1, 7], bestSellersSize: 4, lastPurchaseCap: 3 });
      const agg = await aggregator(config, catalog(20, 3));
      let now = T0 + 10 * DAY;
      for (let step = 0; step < 120; step++) {
        // mostly within the day (a few hours at a time), now and then into the next
        now += Math.floor(next() * 4 * 3_600_000);
        const events = Array.from({ length: 1 + Math.floor(next() * 3) }, () => {
          const at = now - T0 - Math.floor(next() * 3) * DAY;
          const user = `u${Math.floor(next() * 10)}`;
          const product = `p${Math.floor(next() * 20)}`;
          return event(user, product, 'PURCHASE', at);
        });
        await agg.apply(events, now);
        const today = dayOf(now);
        for (const windowDays of config.bestSellerWindows) {
          for (const categoryId of [null, 'c0', 'c1', 'c2']) {
            const ids = Array.from({ length: 20 }, (_, i) => `p${i}`).filter((_, i) => categoryId === null || `c${i % 3}` === categoryId);
            expect(agg.bestSellers(categoryId, windowDays), `seed ${seed} step ${step}`).toEqual(
              rankBestSellers(ids, (id) => agg.buyerDaysOf(id), today, windowDays, 4),
            );
          }
        }
      }
    }
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

describe('Aggregator ranking neighbours on read (replays)', () => {
  it('ranks no neighbours while applying, and ranks those read exactly as a ranking afresh at that moment', async () => {
    const products = catalog(30);
    const events: TrackedEvent[] = [];
    const next = seededRandom(11);
    for (let i = 0; i < 600; i++) {
      const user = `u${Math.floor(next() * 40)}`;
      events.push(event(user, `p${Math.floor(next() ** 2 * 30)}`, next() < 0.6 ? 'PURCHASE' : 'VIEW', i * MINUTE, { eventId: `r${i}` }));
    }
    const replay = new Aggregator(new MemoryStore(), products, engineConfig(), { rankOnRead: true });
    await replay.start();
    const live = await aggregator(engineConfig(), products);
    for (let i = 0; i < events.length; i += 50) {
      await replay.apply(events.slice(i, i + 50), T0 + DAY);
      await live.apply(events.slice(i, i + 50), T0 + DAY);
    }
    // every touched product waits; none was ranked
    expect(replay.pendingRanks).toBeGreaterThan(20);
    const afresh = (productId: string) =>
      topNeighbours(
        replay.coocOf('b', productId)!,
        (other) => replay.coocOf('b', other)?.users ?? 0,
        replay.universe.buyers,
        engineConfig().neighboursPerItem,
        (other) => products.product(other) !== undefined,
      );
    const before = replay.pendingRanks;
    const read = replay.neighbours('p0', 'ALSO_BOUGHT');
    expect(replay.pendingRanks).toBe(before - 1);
    expect(read).toEqual(afresh('p0'));
    // the counts are the live aggregator's, and a product changed last in the last batch ranks as live ranked it
    const lastProduct = events.at(-1)!.productId;
    const kind = events.at(-1)!.type === 'PURCHASE' ? 'ALSO_BOUGHT' : 'ALSO_VIEWED';
    expect(replay.neighbours(lastProduct, kind)).toEqual(live.neighbours(lastProduct, kind));
    for (let p = 0; p < 30; p++)
      expect(Object.fromEntries(replay.coocOf('b', `p${p}`)?.pairs ?? [])).toEqual(Object.fromEntries(live.coocOf('b', `p${p}`)?.pairs ?? []));
    // a dump ranks what still waits, each as a ranking afresh
    let dumped = 0;
    for (const entry of replay.dump()) {
      if (entry.kind !== 'cooc' || entry.key[0] !== 'b') continue;
      const productId = entry.key.slice(2);
      expect(entry.cooc.top, productId).toEqual(afresh(productId));
      dumped++;
    }
    expect(dumped).toBeGreaterThan(20);
    expect(replay.pendingRanks).toBe(0);
  });

  it('refuses a bounded cache, whose trimmed entries would keep stale neighbours', () => {
    expect(() => new Aggregator(new MemoryStore(), catalog(3), engineConfig(), { rankOnRead: true, cacheSize: 100 })).toThrow(/rankOnRead/);
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
