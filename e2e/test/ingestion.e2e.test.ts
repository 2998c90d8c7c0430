import { once } from 'node:events';
import { connect, createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { deferred, testServices } from '@recs/devkit';
import { DEFAULT_ENGINE_CONFIG, eventKey } from '@recs/engine';
import { COLLECTIONS, createLogger, eventsQueue, listsQueue } from '@recs/shared';
import { MaintenanceService } from '@recs/workers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { nextResult, startSystem, type System } from '../src/system.ts';

/**
 * A TCP proxy in front of the MongoDB-wire server. When armed, it lets the next insert into the
 * `events` collection reach the server and be applied, then drops that connection instead of
 * passing the reply on: the one failure after which the client cannot know what was stored.
 */
class CuttingProxy {
  private readonly server: Server;
  private readonly sockets = new Set<Socket>();
  private armed: { resolve: () => void } | undefined;
  // the start of an OP_MSG body `{ insert: "events", ... }`: type 2, "insert\0", length 7, "events\0"
  private static readonly INSERT_EVENTS = Buffer.concat([
    Buffer.from('\u0002insert\u0000', 'latin1'),
    Buffer.from([7, 0, 0, 0]),
    Buffer.from('events\u0000', 'latin1'),
  ]);

  private readonly target: { host: string; port: number };

  constructor(target: { host: string; port: number }) {
    this.target = target;
    this.server = createServer((client) => this.relay(client));
  }

  async listen(): Promise<string> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    return `mongodb://127.0.0.1:${(this.server.address() as AddressInfo).port}/`;
  }

  /** Resolves once the next insert into `events` was applied and its reply dropped. */
  cutNextEventsInsert(): Promise<void> {
    const cut = deferred();
    this.armed = cut;
    return cut.promise;
  }

  private relay(client: Socket): void {
    const upstream = connect(this.target.port, this.target.host);
    this.sockets.add(client).add(upstream);
    let dropReply: { resolve: () => void } | undefined;
    client.on('data', (chunk) => {
      if (this.armed !== undefined && chunk.includes(CuttingProxy.INSERT_EVENTS)) {
        dropReply = this.armed;
        this.armed = undefined;
      }
      upstream.write(chunk);
    });
    upstream.on('data', (chunk) => {
      if (dropReply === undefined) {
        client.write(chunk);
        return;
      }
      client.destroy();
      upstream.destroy();
      dropReply.resolve();
    });
    for (const [socket, other] of [
      [client, upstream],
      [upstream, client],
    ] as const) {
      socket.on('error', () => other.destroy());
      socket.on('close', () => {
        this.sockets.delete(socket);
        other.destroy();
      });
    }
  }

  async close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

const CATALOG = [
  ...['mug', 'teapot', 'lantern', 'candle'].map((id) => ({ id, name: id, categoryId: 'home', categoryName: 'Home', price: 5 })),
  ...Array.from({ length: 8 }, (_, i) => ({ id: `v${i}`, name: `Viewed ${i}`, categoryId: 'home', categoryName: 'Home', price: 1 })),
];
const TRACK = `mutation ($input: TrackEventInput!) { trackEvent(input: $input) { eventId duplicate } }`;
const TRACK_MANY = `mutation ($inputs: [TrackEventInput!]!) { trackEvents(inputs: $inputs) { accepted duplicates rejected { index code message } } }`;
const BEST_SELLERS_CHANGED = `subscription { bestSellersChanged(limit: 20) { items { product { id } score } } }`;
type BestSellers = { bestSellersChanged: { items: { product: { id: string }; score: number }[] } };

let proxy: CuttingProxy;
let system: System;
let storefront: string;

/** Resolves once the overall best sellers give `productId` `buyers` distinct buyers (after the aggregator committed). */
async function bestSellerWith(productId: string, buyers: number): Promise<{ arrived: Promise<unknown> }> {
  const client = system.wsClient();
  const subscribed = once(system.gateways[0]!.server.hub, 'subscribed');
  const pushed = nextResult<BestSellers>(client, BEST_SELLERS_CHANGED, {}, (data) =>
    data.bestSellersChanged.items.some((item) => item.product.id === productId && item.score === buyers),
  );
  await subscribed;
  return { arrived: pushed.result };
}

beforeAll(async () => {
  const target = new URL(testServices().mongoUrl);
  proxy = new CuttingProxy({ host: target.hostname, port: Number(target.port) });
  // the whole system reaches MongoDB through the proxy, so a test can cut the events subgraph's insert
  system = await startSystem({ label: 'ingestion', mongoUrl: await proxy.listen() });
  storefront = await system.token('storefront', 'service');
  const admin = await system.token('ops', 'admin');
  const upsert = await system.query(`mutation ($p: [ProductInput!]!) { upsertProducts(products: $p) { created } }`, { p: CATALOG }, admin);
  expect(upsert.errors).toBeUndefined();
  expect(upsert.data).toEqual({ upsertProducts: { created: CATALOG.length } });
  await system.catalog.load();
});

afterAll(async () => {
  await system?.stop();
  await proxy?.close();
});

describe('ingestion through the gateway', () => {
  it('keeps event ids per user: the same client id from two users is two events, applied both', async () => {
    const alice = await system.token('alice', 'user');
    const both = await bestSellerWith('mug', 2);
    const order = { eventId: 'order-2026-0001', productId: 'mug', type: 'PURCHASE' };
    expect((await system.query(TRACK, { input: { ...order, userId: 'alice' } }, alice)).data).toEqual({
      trackEvent: { eventId: 'order-2026-0001', duplicate: false },
    });
    // a service sends bob's purchase under the same client id: it is bob's own event
    expect((await system.query(TRACK, { input: { ...order, userId: 'bob' } }, storefront)).data).toEqual({
      trackEvent: { eventId: 'order-2026-0001', duplicate: false },
    });
    await both.arrived;

    // the same (user, eventId) again is one event, for either user
    expect((await system.query(TRACK, { input: { ...order, userId: 'bob' } }, storefront)).data).toEqual({
      trackEvent: { eventId: 'order-2026-0001', duplicate: true },
    });
    expect((await system.query(TRACK, { input: { ...order, userId: 'alice' } }, alice)).data).toEqual({
      trackEvent: { eventId: 'order-2026-0001', duplicate: true },
    });
    expect(await system.db.db.collection(COLLECTIONS.events).countDocuments({ productId: 'mug' })).toBe(2);
    const ranked = await system.query(`{ bestSellers(limit: 20) { product { id } score } }`);
    expect(ranked.data?.['bestSellers']).toContainEqual({ product: { id: 'mug' }, score: 2 });
  });

  it('lists a batch of views sent without occurredAt newest (last sent) first', async () => {
    const browser = await system.token('browser', 'user');
    const applied = await bestSellerWith('teapot', 1);
    const views = Array.from({ length: 8 }, (_, i) => ({ eventId: `view-${i}`, userId: 'browser', productId: `v${i}`, type: 'VIEW' }));
    // a purchase in the same batch (same job, same flush) tells when the views are applied
    const marker = { eventId: 'marker-1', userId: 'marker', productId: 'teapot', type: 'PURCHASE' };
    const result = await system.query(TRACK_MANY, { inputs: [...views, marker] }, storefront);
    expect(result.data).toEqual({ trackEvents: { accepted: 9, duplicates: 0, rejected: [] } });
    await applied.arrived;

    const history = await system.query(`query ($id: ID!) { user(id: $id) { browsingHistory(limit: 10) { product { id } } } }`, { id: 'browser' }, browser);
    expect(history.errors).toBeUndefined();
    expect(history.data?.['user'].browsingHistory.map((entry: { product: { id: string } }) => entry.product.id)).toEqual(
      views.map((v) => v.productId).reverse(),
    );
  });

  it('refuses each metadata key or shape that cannot be stored, with its index, and stores and applies the rest', async () => {
    const applied = await bestSellerWith('candle', 2);
    const good = (i: number, metadata: unknown = { page: '/candle' }) => ({
      eventId: `meta-${i}`,
      userId: `meta-user-${i}`,
      productId: 'candle',
      type: 'PURCHASE',
      metadata,
    });
    const inputs = [
      good(0),
      good(1, { 'a.b': 1 }),
      good(2, { $where: 'x' }),
      good(3, { ['nul\u0000key']: 1 }),
      good(4, { a: [[1]] }),
      good(5, { tags: ['a', { b: [1] }] }),
    ];
    const result = await system.query(TRACK_MANY, { inputs }, storefront);
    expect(result.errors).toBeUndefined();
    expect(result.data?.['trackEvents']).toMatchObject({ accepted: 2, duplicates: 0 });
    const rejected = result.data?.['trackEvents'].rejected as { index: number; code: string; message: string }[];
    expect(rejected.map((r) => [r.index, r.code])).toEqual([1, 2, 3, 4].map((index) => [index, 'INVALID_METADATA']));
    expect(rejected[0]!.message).toMatch(/"a\.b"/);
    await applied.arrived;
    const stored = await system.db.db.collection(COLLECTIONS.events).find({ productId: 'candle' }).toArray();
    expect(stored.map((doc) => doc['userId']).sort()).toEqual(['meta-user-0', 'meta-user-5']);
  });

  it('answers a store that failed after the insert reached MongoDB with SERVICE_UNAVAILABLE; the retry finds the events stored, and they count once', async () => {
    const inputs = ['u1', 'u2'].map((userId) => ({ eventId: `cut-${userId}`, userId, productId: 'lantern', type: 'PURCHASE' }));
    const cut = proxy.cutNextEventsInsert();
    const failed = await system.query(TRACK_MANY, { inputs }, storefront);
    await cut;
    expect(failed.errors?.[0]?.extensions).toMatchObject({ code: 'SERVICE_UNAVAILABLE', retryable: true });
    // they are stored, listed in the batch's inbox entry (what the sweeper applies), and not queued
    const events = system.db.db.collection(COLLECTIONS.events);
    expect(await events.countDocuments({ productId: 'lantern' })).toBe(2);
    const queue = eventsQueue(system.redis, system.prefix);
    expect(await queue.count()).toBe(0);

    // the client retries with the same ids: both are already recorded, nothing new is queued
    const retried = await system.query(TRACK_MANY, { inputs }, storefront);
    expect(retried.data).toEqual({ trackEvents: { accepted: 0, duplicates: 2, rejected: [] } });
    expect(await queue.count()).toBe(0);
    expect(await system.db.db.collection(COLLECTIONS.inbox).countDocuments({ ids: eventKey('u1', 'cut-u1') })).toBe(1);

    // the inbox sweeper queues the stored batch, and the aggregator applies both events, once
    const applied = await bestSellerWith('lantern', 2);
    const lists = listsQueue(system.redis, system.prefix);
    const maintenance = new MaintenanceService({
      db: system.db.db,
      redis: system.redis,
      prefix: system.prefix,
      events: queue,
      lists,
      engine: DEFAULT_ENGINE_CONFIG,
      logger: createLogger('ingestion-test', 'silent'),
      inboxGraceMs: 0,
    });
    // (with the entries of earlier tests' batches not retired yet: verified, they change nothing)
    expect(await maintenance.sweepInbox(Date.now())).toBeGreaterThanOrEqual(1);
    await applied.arrived;
    await queue.close();
    await lists.close();
  });
});
