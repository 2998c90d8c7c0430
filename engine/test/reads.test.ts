import { describe, expect, it } from 'vitest';
import { Aggregator } from '../src/aggregator.ts';
import { MemoryCatalog } from '../src/catalog.ts';
import { engineConfig, type EngineConfig } from '../src/config.ts';
import { readsFor, ReadOutsideContract, withinReads, type ListReads, type ReadModel } from '../src/reads.ts';
import { NOTHING_HIDDEN, recommend, userSignals } from '../src/recommend.ts';
import { MemoryStore } from '../src/store.ts';
import { DAY, event, T0 } from './fixtures.ts';

const config = engineConfig({ bestSellerWindows: [30], listWindowDays: 30, anchors: 2, topCategories: 1 });
const NOW = T0 + 20 * DAY;

async function world() {
  const catalog = new MemoryCatalog([
    ['mug', { categoryId: 'kitchen', inStock: true }],
    ['teapot', { categoryId: 'kitchen', inStock: true }],
    ['candle', { categoryId: 'home', inStock: true }],
    ['lamp', { categoryId: 'home', inStock: true }],
  ]);
  const agg = new Aggregator(new MemoryStore(), catalog, config);
  await agg.start();
  await agg.apply(
    [
      ...['b1', 'b2'].flatMap((u) => [event(u, 'mug', 'PURCHASE', 10 * DAY), event(u, 'teapot', 'PURCHASE', 10 * DAY)]),
      // u bought mug and viewed teapot, then lamp: mug weighs most, then lamp (more recent than teapot)
      event('u', 'mug', 'PURCHASE', 12 * DAY),
      event('u', 'teapot', 'VIEW', 13 * DAY),
      event('u', 'lamp', 'VIEW', 19 * DAY),
    ],
    NOW,
  );
  return { catalog, agg };
}

/** Every read made through it, as "kind:args". */
function recording(read: ReadModel): { read: ReadModel; reads: Set<string> } {
  const reads = new Set<string>();
  return {
    reads,
    read: {
      neighbours: (productId, kind) => {
        reads.add(`neighbours:${kind}:${productId}`);
        return read.neighbours(productId, kind);
      },
      productBuyers: (productId) => {
        reads.add(`buyers:${productId}`);
        return read.productBuyers(productId);
      },
      bestSellers: (categoryId, windowDays) => {
        reads.add(`bestSellers:${windowDays}:${categoryId}`);
        return read.bestSellers(categoryId, windowDays);
      },
    },
  };
}

function listed(reads: ListReads): Set<string> {
  const out = new Set<string>();
  for (const [kind, products] of Object.entries(reads.neighbours)) for (const productId of products) out.add(`neighbours:${kind}:${productId}`);
  for (const productId of reads.productBuyers) out.add(`buyers:${productId}`);
  for (const [windowDays, categories] of reads.bestSellers) for (const categoryId of categories) out.add(`bestSellers:${windowDays}:${categoryId}`);
  return out;
}

describe('readsFor', () => {
  it('lists the neighbours of the anchors, the best sellers of the top categories and the catalog, and the buyers of buy-again candidates', async () => {
    const { catalog, agg } = await world();
    const signals = userSignals(agg.userState('u'), NOTHING_HIDDEN, NOW, catalog, config);
    const reads = readsFor([signals], config);
    // anchors: the 2 strongest of mug, lamp, teapot; top category: kitchen (mug and teapot)
    expect([...reads.neighbours.ALSO_BOUGHT].sort()).toEqual(['lamp', 'mug']);
    expect([...reads.neighbours.ALSO_VIEWED].sort()).toEqual(['lamp', 'mug']);
    expect(reads.productBuyers).toEqual(new Set(['mug']));
    expect(reads.bestSellers).toEqual(new Map([[30, new Set([null, 'kitchen'])]]));
  });

  it('lists no buyers when the config does not weigh buying again, and only the catalog’s best sellers for a user without history', async () => {
    const { catalog, agg } = await world();
    const plain: EngineConfig = { ...config, repurchaseBoost: 0, demandExponent: 0 };
    expect(readsFor([userSignals(agg.userState('u'), NOTHING_HIDDEN, NOW, catalog, plain)], plain).productBuyers).toEqual(new Set());
    const none = readsFor([userSignals(undefined, NOTHING_HIDDEN, NOW, catalog, config)], config);
    expect(listed(none)).toEqual(new Set(['bestSellers:30:null']));
  });

  it('is exactly what recommend() reads, for users with and without history and under either repeat setting', async () => {
    const { catalog, agg } = await world();
    for (const cfg of [config, { ...config, repurchaseBoost: 0, demandExponent: 0 }]) {
      for (const userId of ['u', 'b1', 'nobody']) {
        const state = agg.userState(userId);
        const { read, reads } = recording(agg);
        recommend({ state, hidden: NOTHING_HIDDEN, now: NOW, catalog, read, config: cfg });
        expect(reads).toEqual(listed(readsFor([userSignals(state, NOTHING_HIDDEN, NOW, catalog, cfg)], cfg)));
      }
    }
  });

  it('covers several users at once: the union of theirs', async () => {
    const { catalog, agg } = await world();
    const signals = ['u', 'b1'].map((id) => userSignals(agg.userState(id), NOTHING_HIDDEN, NOW, catalog, config));
    const union = new Set(signals.flatMap((s) => [...listed(readsFor([s], config))]));
    expect(listed(readsFor(signals, config))).toEqual(union);
  });
});

describe('withinReads', () => {
  it('answers the reads listed and throws ReadOutsideContract on any other', async () => {
    const { agg } = await world();
    const read = withinReads(agg, {
      neighbours: { ALSO_BOUGHT: new Set(['mug']), ALSO_VIEWED: new Set() },
      productBuyers: new Set(['mug']),
      bestSellers: new Map([[30, new Set([null])]]),
    });
    expect(read.neighbours('mug', 'ALSO_BOUGHT')).toEqual(agg.neighbours('mug', 'ALSO_BOUGHT'));
    expect(read.productBuyers('mug')).toEqual(agg.productBuyers('mug'));
    expect(read.bestSellers(null, 30)).toEqual(agg.bestSellers(null, 30));
    expect(() => read.neighbours('mug', 'ALSO_VIEWED')).toThrow(ReadOutsideContract);
    expect(() => read.neighbours('teapot', 'ALSO_BOUGHT')).toThrow(/ALSO_BOUGHT neighbours of "teapot"/);
    expect(() => read.productBuyers('teapot')).toThrow(ReadOutsideContract);
    expect(() => read.bestSellers('kitchen', 30)).toThrow(ReadOutsideContract);
    expect(() => read.bestSellers(null, 7)).toThrow(/7-day best sellers of the catalog/);
  });
});
