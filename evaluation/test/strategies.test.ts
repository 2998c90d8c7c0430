import { Aggregator, DEFAULT_ENGINE_CONFIG, MemoryCatalog, MemoryStore, type TrackedEvent } from '@recs/engine';
import { describe, expect, it } from 'vitest';
import { parseDate } from '../src/data.ts';
import { createStrategies, fillTo, PurchaseHistory, type StrategyName } from '../src/strategies.ts';

const SPLIT = '2011-07-01';

/**
 * The strategies over hand-made purchases, as the evaluation walks them: every invoice
 * `[customer, date, products]` applied to the engine's aggregator and to the purchase history in
 * time order, one batch each; the best-seller windows end on the day of the last one.
 */
async function strategiesAfter(invoices: readonly (readonly [string, string, readonly string[]])[]) {
  const products = [...new Set(invoices.flatMap(([, , ids]) => ids))];
  const catalog = new MemoryCatalog(products.map((id) => [id, { inStock: true }] as const));
  const aggregator = new Aggregator(new MemoryStore(), catalog, DEFAULT_ENGINE_CONFIG);
  await aggregator.start();
  const history = new PurchaseHistory();
  let appliedAt = Number.NEGATIVE_INFINITY;
  const sorted = invoices.map(([customerId, date, ids], n) => ({ customerId, at: parseDate(date), ids, n })).sort((a, b) => a.at - b.at || a.n - b.n);
  for (const { customerId, at, ids, n } of sorted) {
    const events: TrackedEvent[] = ids.map((productId, line) => ({
      eventId: `${n}:${line}`,
      userId: customerId,
      productId,
      type: 'PURCHASE',
      occurredAt: at,
      receivedAt: at,
      quantity: 1,
    }));
    await aggregator.apply(events, at);
    appliedAt = at;
    history.add(customerId, ids, at);
  }
  const strategies = createStrategies({ aggregator, catalog, history, config: DEFAULT_ENGINE_CONFIG, split: parseDate(SPLIT), appliedAt: () => appliedAt });
  return (name: StrategyName, customerId: string, k: number) => strategies[name].recommend(customerId, parseDate('2011-07-02 09:00'), k);
}

/** `customers` each buying `products` on `date`, one invoice each. */
const bought = (customers: readonly string[], date: string, products: readonly string[]) => customers.map((customer) => [customer, date, products] as const);

/**
 * Last purchase 2011-06-30: the 30-day window is 06-01..06-30. Its best sellers: top (4 buyers),
 * e (3), f (2), then a, b, d, g, i (1 each, by id).
 */
const SHOP = [
  ['c', '2011-06-10 10:00', ['a', 'b', 'e']],
  ['c', '2011-06-20 10:00', ['a', 'b', 'e', 'd', 'i']],
  ['c', '2011-06-25 10:00', ['a']],
  ...bought(['u1', 'u2'], '2011-06-25 11:00', ['e']),
  // b's other buyers are older than 30 days: they count for no window here
  ...bought(['o1', 'o2', 'o3', 'o4'], '2011-04-01 10:00', ['b']),
  ...bought(['u3', 'u4'], '2011-06-28 10:00', ['f']),
  ['u5', '2011-06-29 10:00', ['g']],
  ...bought(['u1', 'u2', 'u3', 'u4'], '2011-06-29 12:00', ['top']),
  // z: q twice a year before the split, top half a year before, p and r in the last days
  ['z', '2010-07-01 00:00', ['q']],
  ['z', '2010-07-06 00:00', ['q']],
  ['z', '2011-01-02 00:00', ['top']],
  ['z', '2011-06-29 00:00', ['r']],
  ['z', '2011-06-30 12:00', ['p']],
] as const;

describe('buy-again', () => {
  it('ranks the customer’s products by the invoices they are in, ties by 30-day buyers, then by id', async () => {
    const recommend = await strategiesAfter(SHOP);
    // a: 3 invoices; b and e: 2, e first with 3 recent buyers against b's 1 (b's 4 older buyers do
    // not count); d and i: 1 invoice and 1 buyer each, by id
    expect(recommend('buy-again', 'c', 5)).toEqual(['a', 'e', 'b', 'd', 'i']);
    // q: 2 invoices; top, p, r: 1 each, top with 4 recent buyers (z's own purchase is too old), p and r 1 each
    expect(recommend('buy-again', 'z', 4)).toEqual(['q', 'top', 'p', 'r']);
  });

  it('fills the list to k with the 30-day best sellers it does not hold yet, and cuts it at k', async () => {
    const recommend = await strategiesAfter(SHOP);
    // after c's five: top, then e (already in it) skipped, then f
    expect(recommend('buy-again', 'c', 7)).toEqual(['a', 'e', 'b', 'd', 'i', 'top', 'f']);
    expect(recommend('buy-again', 'c', 2)).toEqual(['a', 'e']);
    expect(recommend('buy-again', 'u5', 3)).toEqual(['g', 'top', 'e']);
    // a customer with no purchases gets the best sellers
    expect(recommend('buy-again', 'nobody', 4)).toEqual(['top', 'e', 'f', 'a']);
    expect(recommend('buy-again', 'nobody', 4)).toEqual(recommend('best-sellers', 'nobody', 4));
  });
});

describe('buy-again-decayed', () => {
  it('ranks by Σ 0.5^(age / 180 d) per invoice, age at the split, plus 2 × 30-day buyers ÷ the top best seller’s', async () => {
    const recommend = await strategiesAfter(SHOP);
    // the top best seller has 4 buyers, so each recent buyer adds 0.5:
    // top 0.5^(180/180) + 2 × 4/4 = 2.5; p 0.5^(0.5/180) + 0.5 = 1.498; r 0.5^(2/180) + 0.5 = 1.492;
    // q 0.5^(365/180) + 0.5^(360/180) + 0 = 0.495 (plain buy-again puts q first, for its 2 invoices)
    expect(recommend('buy-again-decayed', 'z', 4)).toEqual(['top', 'p', 'r', 'q']);
    // c: e 0.5^(21/180) + 0.5^(11/180) + 2 × 3/4 = 3.381 overtakes a's three invoices,
    // 0.5^(21/180) + 0.5^(11/180) + 0.5^(6/180) + 0.5 = 3.358; then b 2.381, and d, i 1.459 each, by id
    expect(recommend('buy-again-decayed', 'c', 5)).toEqual(['e', 'a', 'b', 'd', 'i']);
  });

  it('fills the list to k with the 30-day best sellers it does not hold yet', async () => {
    const recommend = await strategiesAfter(SHOP);
    expect(recommend('buy-again-decayed', 'z', 6)).toEqual(['top', 'p', 'r', 'q', 'e', 'f']);
    expect(recommend('buy-again-decayed', 'nobody', 3)).toEqual(['top', 'e', 'f']);
  });

  it('counts a purchase from the split on as new, not as more than new', async () => {
    // last purchase 2011-08-30: the window is 08-01..08-30 and top has 10 buyers, so a buyer adds 0.2.
    // x, bought once on 08-30 (60 days after the split), counts 1 + 0.2 (w) = 1.2; were its age
    // negative it would count 0.5^(-60/180) + 0.2 = 1.46. y, bought by w the day before the split
    // (0.996) and by o1 and o2 in the window: 0.996 + 0.4 = 1.396, between the two.
    const recommend = await strategiesAfter([
      ...bought(
        Array.from({ length: 10 }, (_, i) => `t${i}`),
        '2011-08-25 10:00',
        ['top'],
      ),
      ['w', '2011-06-30 00:00', ['y']],
      ...bought(['o1', 'o2'], '2011-08-20 10:00', ['y']),
      ['w', '2011-08-30 00:00', ['x']],
    ]);
    expect(recommend('buy-again-decayed', 'w', 3)).toEqual(['y', 'x', 'top']);
    // plain buy-again: one invoice each, y first for its 2 buyers in the window
    expect(recommend('buy-again', 'w', 3)).toEqual(['y', 'x', 'top']);
  });
});

describe('fillTo', () => {
  it('appends the filler’s new ids in order up to k', () => {
    expect(fillTo(['a', 'b'], ['b', 'c', 'a', 'd', 'e'], 4)).toEqual(['a', 'b', 'c', 'd']);
    expect(fillTo(['a', 'b', 'c'], ['d'], 2)).toEqual(['a', 'b']);
    expect(fillTo([], ['d', 'd'], 3)).toEqual(['d']);
  });
});
