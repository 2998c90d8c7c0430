import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dayOf, rankBestSellers } from '@recs/engine';
import { COLLECTIONS, encodeRows } from '@recs/shared';
import { nextResult, startSystem, type System } from '../src/system.ts';

/**
 * Whole-graph reproductions of the limits an outside tester found missing: ids an attacker makes
 * as long as they like, and best sellers asked for many windows at once.
 */
let system: System;
const today = dayOf(Date.now());
const PRODUCTS = 4_000;
const CATEGORIES = 40;
const productId = (i: number) => `p${String(i).padStart(5, '0')}`;
/** Per product, distinct buyers on a spread of days over the last year (deterministic). */
const buyerDays = new Map<string, Map<number, number>>();

beforeAll(async () => {
  system = await startSystem({ label: 'limits' });
  // a catalog the size of the demo one, with a year of purchases, written where the aggregator would
  const products = [];
  const days = [];
  for (let i = 0; i < PRODUCTS; i++) {
    const id = productId(i);
    products.push({ _id: id, name: `Product ${i}`, categoryId: `c${i % CATEGORIES}`, currency: 'GBP', inStock: true, updatedAt: new Date() });
    const histogram = new Map<number, number>();
    for (let k = 0; k < 40; k++) histogram.set(today - ((i * 7 + k * 13) % 365), 1 + ((i + k) % 5));
    buyerDays.set(id, histogram);
    days.push({ _id: id, d: encodeRows([...histogram]) });
  }
  await system.db.db.collection(COLLECTIONS.products).insertMany(products as never[]);
  await system.db.db
    .collection(COLLECTIONS.categories)
    .insertMany(Array.from({ length: CATEGORIES }, (_, c) => ({ _id: `c${c}`, name: `Category ${c}` })) as never[]);
  await system.db.db.collection(COLLECTIONS.buyerDays).insertMany(days as never[]);
});

afterAll(async () => {
  await system?.stop();
});

const codeOf = (result: { errors?: readonly { extensions?: Record<string, unknown> }[] }) => result.errors?.[0]?.extensions?.['code'];

describe('bounded work per request', () => {
  it('answers 30 aliased best-seller windows exactly, without stalling other queries', async () => {
    const windows = Array.from({ length: 30 }, (_, i) => i + 2);
    const query = `{ ${windows.map((w) => `w${w}: bestSellers(windowDays: ${w}, limit: 100) { product { id } score }`).join(' ')} }`;
    const started = performance.now();
    let done = false;
    const request = system.query(query).finally(() => (done = true));
    // meanwhile, unrelated queries one after another: the slowest says how much the windows stall them
    let slowestCategoriesMs = 0;
    let categoriesRuns = 0;
    while (!done) {
      const at = performance.now();
      const categories = await system.query(`{ categories { id } }`);
      slowestCategoriesMs = Math.max(slowestCategoriesMs, performance.now() - at);
      categoriesRuns++;
      expect(categories.data?.['categories']).toHaveLength(CATEGORIES);
    }
    const result = await request;
    const coldMs = performance.now() - started;
    const again = performance.now();
    const cached = await system.query(query);
    const cachedMs = performance.now() - again;
    // measurements for the report, not assertions (the machine is shared)
    console.info(
      `30 aliased bestSellers windows: cold ${coldMs.toFixed(0)} ms, cached ${cachedMs.toFixed(0)} ms; ` +
        `${categoriesRuns} categories queries meanwhile, the slowest ${slowestCategoriesMs.toFixed(0)} ms`,
    );

    expect(result.errors).toBeUndefined();
    expect(cached.data).toEqual(result.data);
    // 7 and 30 are materialized by the workers (none ran here); the others are computed on request
    for (const w of [2, 15, 31]) {
      const expected = rankBestSellers(buyerDays.keys(), (id) => buyerDays.get(id), today, w, 100).map(([id, score]) => ({ product: { id }, score }));
      expect(result.data?.[`w${w}`]).toEqual(expected);
    }
  });
});

describe('id arguments through the gateway', () => {
  const invalid = ['x'.repeat(900_000), 'x'.repeat(129), 'a\u0000b', 'line\nbreak', ''];

  it('refuses an over-long or control-character id in every argument with BAD_USER_INPUT', async () => {
    const admin = await system.token('ops', 'admin');
    for (const id of invalid) {
      expect(codeOf(await system.query(`query ($id: ID!) { product(id: $id) { id } }`, { id }))).toBe('BAD_USER_INPUT');
      expect(codeOf(await system.query(`query ($id: [ID!]) { products(ids: $id) { totalCount } }`, { id: [id] }))).toBe('BAD_USER_INPUT');
      expect(codeOf(await system.query(`query ($id: ID) { products(categoryId: $id) { totalCount } }`, { id }))).toBe('BAD_USER_INPUT');
      expect(codeOf(await system.query(`query ($id: ID!) { user(id: $id) { id } }`, { id }, admin))).toBe('BAD_USER_INPUT');
      expect(codeOf(await system.query(`query ($id: ID!) { recommendations(userId: $id) { userId } }`, { id }, admin))).toBe('BAD_USER_INPUT');
      expect(codeOf(await system.query(`query ($id: ID) { bestSellers(categoryId: $id) { rank } }`, { id }))).toBe('BAD_USER_INPUT');
      expect(codeOf(await system.query(`query ($id: ID) { bestSellersSnapshot(categoryId: $id) { changedAt } }`, { id }))).toBe('BAD_USER_INPUT');
      expect(codeOf(await system.query(`query ($id: ID!) { similarProducts(productId: $id) { rank } }`, { id }))).toBe('BAD_USER_INPUT');
      expect(codeOf(await system.query(`mutation ($id: ID!) { removeFromHistory(userId: $id, productId: "p00001") { id } }`, { id }, admin))).toBe(
        'BAD_USER_INPUT',
      );
      expect(codeOf(await system.query(`mutation ($id: ID!) { removeFromHistory(userId: "someone", productId: $id) { id } }`, { id }, admin))).toBe(
        'BAD_USER_INPUT',
      );
      expect(codeOf(await system.query(`mutation ($id: ID!) { clearHistory(userId: $id) { id } }`, { id }, admin))).toBe('BAD_USER_INPUT');
    }
    const many = Array.from({ length: 101 }, (_, i) => productId(i));
    expect(codeOf(await system.query(`query ($ids: [ID!]) { products(ids: $ids) { totalCount } }`, { ids: many }))).toBe('BAD_USER_INPUT');
    // nothing was recorded for the refused mutations
    expect(await system.db.db.collection(COLLECTIONS.events).countDocuments()).toBe(0);
  });

  it('refuses a subscription to an invalid id with BAD_USER_INPUT', async () => {
    const admin = await system.token('ops', 'admin');
    const client = system.wsClient(admin);
    let subscribed = 0;
    const count = () => subscribed++;
    system.gateways[0]!.server.hub.on('subscribed', count);
    for (const id of ['x'.repeat(10_000), 'a\u0000b']) {
      const best = nextResult(client, `subscription ($id: ID) { bestSellersChanged(categoryId: $id) { changedAt } }`, { id });
      expect(codeOf(await best.result)).toBe('BAD_USER_INPUT');
      best.dispose();
      const list = nextResult(client, `subscription ($id: ID!) { recommendationsChanged(userId: $id) { userId } }`, { id });
      expect(codeOf(await list.result)).toBe('BAD_USER_INPUT');
      list.dispose();
    }
    system.gateways[0]!.server.hub.off('subscribed', count);
    // no channel was subscribed to for them
    expect(subscribed).toBe(0);
  });
});
