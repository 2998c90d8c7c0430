import { once } from 'node:events';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deferred } from '@recs/devkit';
import { nextResult, startSystem, type System } from '../src/system.ts';

let system: System;
let admin: string;
let storefront: string;

const CATALOG = [
  { id: 'mug', name: 'Enamel mug', categoryId: 'kitchen', categoryName: 'Kitchen & Dining', price: 4.95 },
  { id: 'teapot', name: 'Blue teapot', categoryId: 'kitchen', categoryName: 'Kitchen & Dining', price: 12.5 },
  { id: 'candle', name: 'Beeswax candle', categoryId: 'lights', categoryName: 'Candles & Lights', price: 3.2 },
  { id: 'lantern', name: 'Tin lantern', categoryId: 'lights', categoryName: 'Candles & Lights', price: 8 },
];

const LIVE_LIST = `subscription Live($user: ID!) {
  recommendationsChanged(userId: $user) {
    userId version strategy
    items { reasons product { id name category { name } } }
  }
}`;

interface LiveList {
  recommendationsChanged: {
    userId: string;
    version: number;
    strategy: string;
    items: { reasons: string[]; product: { id: string; name: string; category: { name: string } | null } }[];
  };
}

function purchases(user: string, productIds: string[], minutesAgo: number) {
  const at = new Date(Date.now() - minutesAgo * 60_000).toISOString();
  return productIds.map((productId, i) => ({ eventId: `${user}-${productId}-${minutesAgo}-${i}`, userId: user, productId, type: 'PURCHASE', occurredAt: at }));
}

beforeAll(async () => {
  system = await startSystem({ label: 'live' });
  admin = await system.token('ops', 'admin');
  storefront = await system.token('storefront', 'service');
  const upsert = await system.query(`mutation ($p: [ProductInput!]!) { upsertProducts(products: $p) { created } }`, { p: CATALOG }, admin);
  expect(upsert.data).toEqual({ upsertProducts: { created: 4 } });
  await system.catalog.load();
});

afterAll(async () => {
  await system?.stop();
});

describe('live recommendations through the gateway', () => {
  it('pushes a shopper’s new list, with its products’ catalog fields, after their events', async () => {
    // three shoppers buy mug and teapot together, two others buy lights
    const others = await system.query(
      `mutation ($e: [TrackEventInput!]!) { trackEvents(inputs: $e) { accepted rejected { index code } } }`,
      { e: [...['a', 'b', 'c'].flatMap((u) => purchases(u, ['mug', 'teapot'], 120)), ...['x', 'y'].flatMap((u) => purchases(u, ['candle', 'lantern'], 90))] },
      storefront,
    );
    expect(others.data).toEqual({ trackEvents: { accepted: 10, rejected: [] } });

    const shopper = await system.token('shopper', 'user');
    const client = system.wsClient(shopper);
    const subscribed = once(system.gateways[0]!.server.hub, 'subscribed');
    const pushed = nextResult<LiveList>(client, LIVE_LIST, { user: 'shopper' }, (data) =>
      data.recommendationsChanged.items.some((item) => item.product.id === 'teapot'),
    );
    await subscribed;

    const tracked = await system.query(
      `mutation ($e: [TrackEventInput!]!) { trackEvents(inputs: $e) { accepted } }`,
      { e: [...purchases('shopper', ['mug'], 1), { userId: 'shopper', productId: 'candle', type: 'VIEW' }] },
      shopper,
    );
    expect(tracked.data).toEqual({ trackEvents: { accepted: 2 } });

    const { data, errors } = await pushed.result;
    expect(errors).toBeUndefined();
    const list = data!.recommendationsChanged;
    expect(list.userId).toBe('shopper');
    expect(list.strategy).toBe('PERSONALIZED');
    expect(list.version).toBeGreaterThanOrEqual(1);
    expect(list.items.find((item) => item.product.id === 'teapot')).toEqual({
      reasons: expect.arrayContaining(['ALSO_BOUGHT:mug']),
      product: { id: 'teapot', name: 'Blue teapot', category: { name: 'Kitchen & Dining' } },
    });

    // the same list is what a query returns, and the history shows the view
    const read = await system.query(
      `query { recommendations(userId: "shopper") { version items { product { id } } } user(id: "shopper") { browsingHistory { product { id name } views } } }`,
      {},
      shopper,
    );
    expect(read.data?.['recommendations'].version).toBe(list.version);
    expect(read.data?.['user']).toEqual({ browsingHistory: [{ product: { id: 'candle', name: 'Beeswax candle' }, views: 1 }] });
  });

  it('takes a product removed from the history out of the pushed list', async () => {
    const shopper = await system.token('shopper', 'user');
    const client = system.wsClient(shopper);
    const subscribed = once(system.gateways[0]!.server.hub, 'subscribed');
    const pushed = nextResult<LiveList>(client, LIVE_LIST, { user: 'shopper' }, (data) =>
      data.recommendationsChanged.items.every((item) => item.product.id !== 'teapot'),
    );
    await subscribed;
    const removed = await system.query(`mutation { removeFromHistory(userId: "shopper", productId: "teapot") { id } }`, {}, shopper);
    expect(removed.errors).toBeUndefined();
    const { data } = await pushed.result;
    expect(data!.recommendationsChanged.items.map((item) => item.product.id)).not.toContain('teapot');
  });

  it('closes the socket with 4403 Forbidden when the token is invalid', async () => {
    const closed = deferred<number>();
    const client = system.wsClient('not-a-token');
    client.on('closed', (event) => closed.resolve((event as { code: number }).code));
    expect(await closed.promise).toBe(4403);
  });

  it('refuses a subscription to another user’s list with FORBIDDEN, and an anonymous one with UNAUTHENTICATED', async () => {
    const eve = system.wsClient(await system.token('eve', 'user'));
    const forbidden = await nextResult(eve, LIVE_LIST, { user: 'shopper' }).result;
    expect(forbidden.errors?.[0]?.extensions?.['code']).toBe('FORBIDDEN');
    const anonymous = system.wsClient();
    const refused = await nextResult(anonymous, LIVE_LIST, { user: 'shopper' }).result;
    expect(refused.errors?.[0]?.extensions?.['code']).toBe('UNAUTHENTICATED');
  });

  it('pushes best-seller changes to anonymous widgets', async () => {
    const client = system.wsClient();
    const subscribed = once(system.gateways[0]!.server.hub, 'subscribed');
    const pushed = nextResult<{ bestSellersChanged: { categoryId: string | null; items: { rank: number; product: { name: string } }[] } }>(
      client,
      `subscription { bestSellersChanged(categoryId: "lights") { categoryId items { rank product { name } } } }`,
      {},
      (data) => data.bestSellersChanged.items.some((item) => item.product.name === 'Tin lantern'),
    );
    await subscribed;
    await system.query(`mutation ($e: [TrackEventInput!]!) { trackEvents(inputs: $e) { accepted } }`, { e: purchases('d', ['lantern'], 3) }, storefront);
    const { data } = await pushed.result;
    expect(data?.bestSellersChanged.categoryId).toBe('lights');
    expect(data?.bestSellersChanged.items[0]).toEqual({ rank: 1, product: { name: 'Tin lantern' } });
  });
});
