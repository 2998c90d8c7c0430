import { once } from 'node:events';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { nextResult, startSystem, type System } from '../src/system.ts';

let system: System;
let storefront: string;

const PRODUCTS = [
  { id: 'a1', name: 'Apron', categoryId: 'kitchen' },
  { id: 'a2', name: 'Oven glove', categoryId: 'kitchen' },
  { id: 'b1', name: 'Bird feeder', categoryId: 'garden' },
];

async function purchase(userId: string, productId: string, eventId: string): Promise<void> {
  const result = await system.query(
    `mutation ($e: [TrackEventInput!]!) { trackEvents(inputs: $e) { accepted } }`,
    { e: [{ eventId, userId, productId, type: 'PURCHASE' }] },
    storefront,
  );
  expect(result.data).toEqual({ trackEvents: { accepted: 1 } });
}

beforeAll(async () => {
  system = await startSystem({ label: 'replicas', gateways: 2 });
  storefront = await system.token('storefront', 'service');
  const admin = await system.token('ops', 'admin');
  await system.query(`mutation ($p: [ProductInput!]!) { upsertProducts(products: $p) { created } }`, { p: PRODUCTS }, admin);
  await system.catalog.load();
});

afterAll(async () => {
  await system?.stop();
});

const BEST = `subscription Live($cat: ID) {
  live: bestSellersChanged(categoryId: $cat) { categoryId ...Ranking }
}
fragment Ranking on BestSellersUpdate { items { position: rank product { title: name } } }`;

interface Best {
  live: { categoryId: string; items: { position: number; product: { title: string } }[] };
}

describe('subscriptions across gateway replicas', () => {
  it('delivers a change to the subscribers of every replica, hydrating once per distinct selection', async () => {
    const hubs = system.gateways.map((g) => g.server.hub);
    const before = hubs.map((hub) => hub.stats().hydrations);
    // two subscribers with the same selection on replica 0, one on replica 1
    const subscribed = hubs.map((hub, i) => (i === 0 ? Promise.all([once(hub, 'subscribed'), once(hub, 'subscribed')]) : once(hub, 'subscribed')));
    const hasApron = (data: Best) => data.live.items.some((item) => item.product.title === 'Apron');
    const results = [
      nextResult<Best>(system.wsClient(undefined, 0), BEST, { cat: 'kitchen' }, hasApron),
      nextResult<Best>(system.wsClient(undefined, 0), BEST, { cat: 'kitchen' }, hasApron),
      nextResult<Best>(system.wsClient(undefined, 1), BEST, { cat: 'kitchen' }, hasApron),
    ];
    await Promise.all(subscribed);
    await purchase('r1', 'a1', 'rep-1');
    const received = await Promise.all(results.map((r) => r.result));
    for (const { data, errors } of received) {
      expect(errors).toBeUndefined();
      expect(data?.live).toEqual({ categoryId: 'kitchen', items: [{ position: 1, product: { title: 'Apron' } }] });
    }
    expect(hubs[0]!.stats().hydrations - before[0]!).toBe(1);
    expect(hubs[1]!.stats().hydrations - before[1]!).toBe(1);
  });

  it('counts events for products not in the catalog, and recommends those products once the catalog has them', async () => {
    const shopper = await system.token('early', 'user');
    // others buy a product the catalog does not have yet, together with the apron
    for (const user of ['n1', 'n2', 'n3']) {
      await purchase(user, 'a1', `new-a1-${user}`);
      await purchase(user, 'not-yet', `new-ny-${user}`);
    }
    await purchase('n4', 'b1', 'new-b1-n4');
    const client = system.wsClient(shopper, 1);
    const subscribed = once(system.gateways[1]!.server.hub, 'subscribed');
    const first = nextResult<{ recommendationsChanged: { items: { product: { id: string } }[] } }>(
      client,
      `subscription { recommendationsChanged(userId: "early") { items { product { id } } } }`,
      {},
    );
    await subscribed;
    await purchase('early', 'a1', 'early-a1');
    const before = await first.result;
    expect(before.data?.recommendationsChanged.items.map((i) => i.product.id)).not.toContain('not-yet');
    const raw = await system.db.db.collection('events').countDocuments({ productId: 'not-yet' });
    expect(raw).toBe(3);

    const admin = await system.token('ops', 'admin');
    await system.query(`mutation { upsertProducts(products: [{ id: "not-yet", name: "Late arrival", categoryId: "kitchen" }]) { created } }`, {}, admin);
    await system.catalog.load();
    const after = nextResult<{ recommendationsChanged: { items: { product: { id: string; name: string } }[] } }>(
      client,
      `subscription { recommendationsChanged(userId: "early") { items { product { id name } } } }`,
      {},
      (data) => data.recommendationsChanged.items.some((i) => i.product.id === 'not-yet'),
    );
    await once(system.gateways[1]!.server.hub, 'subscribed');
    await purchase('early', 'a2', 'early-a2');
    const { data } = await after.result;
    expect(data?.recommendationsChanged.items.find((i) => i.product.id === 'not-yet')?.product.name).toBe('Late arrival');
  });
});
