import { once } from 'node:events';
import { QueueEvents, type Queue } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testDatabase, testServices, uniqueName, type TestDatabase } from '@recs/devkit';
import { DEFAULT_ENGINE_CONFIG, eventKey } from '@recs/engine';
import {
  COLLECTIONS,
  connectRedis,
  createLogger,
  eventsQueue,
  fromBestSellersDoc,
  fromListDoc,
  listsQueue,
  liveChannel,
  RedisNames,
  type BestSellersDoc,
  type EventsJob,
  type ListDoc,
  type ListsJob,
  type RedisClient,
} from '@recs/shared';
import { AggregatorService } from '../src/aggregate/service.ts';
import { CatalogCache } from '../src/catalog.ts';
import { ListService } from '../src/lists/service.ts';
import { ListStore } from '../src/lists/store.ts';
import { Publisher } from '../src/publisher.ts';
import { compareAggregates, dumpAggregator, readStoredAggregates, recomputeAggregates } from '../src/verify.ts';
import { event, ingest, insertCatalog, nextMessage } from './helpers.ts';

const logger = createLogger('workers-test', process.env['TEST_LOG_LEVEL'] ?? 'silent');
const engine = DEFAULT_ENGINE_CONFIG;

let database: TestDatabase;
let redis: RedisClient;
let subscriber: RedisClient;
let names: RedisNames;
let prefix: string;
let events: Queue<EventsJob>;
let lists: Queue<ListsJob>;
let queueEvents: QueueEvents;
let catalog: CatalogCache;
let aggregation: AggregatorService;
let listService: ListService;

function service(): AggregatorService {
  return new AggregatorService({
    db: database.db,
    redis,
    prefix,
    catalog,
    engine,
    lists,
    publisher: new Publisher(redis, names),
    logger,
    concurrency: 50,
    maxBatchEvents: 1_000,
    cacheSize: 10_000,
    // tiny, so every flush also goes through the wait for write-behind to catch up
    maxBacklog: 4,
    leaseMs: 1_500,
  });
}

beforeAll(async () => {
  database = await testDatabase('workers');
  redis = await connectRedis(testServices().redisUrl, logger, 'workers-test');
  subscriber = redis.duplicate();
  await subscriber.connect();
  prefix = uniqueName('q');
  names = new RedisNames(prefix);
  events = eventsQueue(redis, prefix);
  lists = listsQueue(redis, prefix);
  queueEvents = new QueueEvents(RedisNames.queues.events, { connection: redis.duplicate() as never, prefix });
  await queueEvents.waitUntilReady();
  await insertCatalog(database.db, [
    { id: 'mug', categoryId: 'kitchen' },
    { id: 'teapot', categoryId: 'kitchen' },
    { id: 'cup', categoryId: 'kitchen' },
    { id: 'candle', categoryId: 'home' },
    { id: 'lamp', categoryId: 'home' },
    { id: 'vase', categoryId: 'home', inStock: false },
  ]);
  catalog = new CatalogCache(database.db, logger);
  await catalog.load();
  aggregation = service();
  const leading = once(aggregation, 'leading');
  await aggregation.start();
  await leading;
  listService = new ListService({
    store: new ListStore(database.db),
    catalog,
    engine,
    publisher: new Publisher(redis, names),
    logger,
    local: () => aggregation.aggregator,
  });
  listService.start(redis, prefix, 4);
});

afterAll(async () => {
  await listService.stop();
  await aggregation.stop();
  await queueEvents.close();
  await events.obliterate({ force: true });
  await lists.obliterate({ force: true });
  await events.close();
  await lists.close();
  await subscriber.close();
  await redis.close();
  await database.drop();
});

describe('aggregation worker', () => {
  it('applies queued batches so the stored aggregates equal a recomputation from the raw events', async () => {
    const jobs = await Promise.all([
      ingest(database.db, events, [event('a', 'mug', 'VIEW', 30), event('a', 'teapot', 'VIEW', 29), event('a', 'mug', 'PURCHASE', 28)]),
      ingest(database.db, events, [event('b', 'mug', 'PURCHASE', 20), event('b', 'teapot', 'PURCHASE', 20), event('c', 'candle', 'VIEW', 19)]),
      ingest(database.db, events, [event('c', 'lamp', 'VIEW', 10), event('c', 'candle', 'ADD_TO_CART', 9, { price: 4, quantity: 2 })]),
    ]);
    await Promise.all(jobs.map((job) => job.waitUntilFinished(queueEvents)));
    await aggregation.settled();

    const expected = dumpAggregator(await recomputeAggregates(database.db, catalog, engine));
    expect(Object.keys(expected.users)).toEqual(['a', 'b', 'c']);
    expect(compareAggregates(await readStoredAggregates(database.db), expected)).toEqual([]);
    // applied batches leave the inbox
    expect(await database.db.collection(COLLECTIONS.inbox).countDocuments()).toBe(0);
  });

  it('does not count a redelivered batch twice', async () => {
    const purchase = [event('d', 'cup', 'PURCHASE', 5)];
    await (await ingest(database.db, events, purchase)).waitUntilFinished(queueEvents);
    await aggregation.settled();
    const before = await readStoredAggregates(database.db);
    const again = await events.add('batch', { batchId: 'redelivered', events: purchase, verify: true });
    await again.waitUntilFinished(queueEvents);
    await aggregation.settled();
    expect(compareAggregates(await readStoredAggregates(database.db), before)).toEqual([]);
  });

  it('applies the same client eventId of two users as two events, each once, and a recomputation agrees', async () => {
    const first = [event('g1', 'cup', 'PURCHASE', 4, { eventId: 'order-0001' })];
    const second = [event('g2', 'cup', 'PURCHASE', 3, { eventId: 'order-0001' })];
    await (await ingest(database.db, events, first)).waitUntilFinished(queueEvents);
    await (await ingest(database.db, events, second)).waitUntilFinished(queueEvents);
    await aggregation.settled();
    const stored = await readStoredAggregates(database.db);
    expect(Object.keys(stored.users)).toEqual(expect.arrayContaining(['g1', 'g2']));
    // each user's purchase is applied: both hold it, and cup has three distinct buyers (with d of the test before)
    expect(stored.users['g1']?.purchaseDays).toHaveProperty('cup');
    expect(stored.users['g2']?.purchaseDays).toHaveProperty('cup');
    expect(Object.values(stored.buyerDays['cup'] ?? {}).reduce((sum, n) => sum + n, 0)).toBe(3);
    const keys = [eventKey('g1', 'order-0001'), eventKey('g2', 'order-0001')];
    expect(await database.db.collection<{ _id: string }>(COLLECTIONS.applied).countDocuments({ _id: { $in: keys } })).toBe(2);

    // a redelivered copy of either is recognised by its (user, eventId), and changes nothing
    const again = await events.add('batch', { batchId: 'redelivered-2', events: [...first, ...second], verify: true });
    await again.waitUntilFinished(queueEvents);
    await aggregation.settled();
    const after = await readStoredAggregates(database.db);
    expect(compareAggregates(after, stored)).toEqual([]);
    expect(compareAggregates(after, dumpAggregator(await recomputeAggregates(database.db, catalog, engine)))).toEqual([]);
  });

  it('recomputes, stores and announces a user’s list when their events change it', async () => {
    // others buy mug and teapot together
    await (
      await ingest(
        database.db,
        events,
        ['x1', 'x2', 'x3'].flatMap((u) => [event(u, 'mug', 'PURCHASE', 60), event(u, 'teapot', 'PURCHASE', 60)]),
      )
    ).waitUntilFinished(queueEvents);
    const announced = nextMessage(subscriber, liveChannel(names, 'recommendationsChanged', { userId: 'shopper' }));
    const purchase = event('shopper', 'mug', 'PURCHASE', 1);
    await ingest(database.db, events, [purchase]);
    const message = await announced;
    // acceptedAt: when the event behind the change was accepted, carried from the flush through the list job
    expect(message).toEqual({
      userId: 'shopper',
      version: 1,
      at: expect.any(Number),
      acceptedAt: purchase.receivedAt,
      // the saved list itself, so the subgraph's replicas need not read it
      list: expect.objectContaining({ userId: 'shopper', version: 1 }),
    });
    const list = fromListDoc((await database.db.collection<ListDoc>(COLLECTIONS.lists).findOne({ _id: 'shopper' }))!);
    expect(list.strategy).toBe('PERSONALIZED');
    expect(list.items.find((i) => i.productId === 'teapot')?.reasons).toContain('ALSO_BOUGHT:mug');
    expect(list.items.map((i) => i.productId)).not.toContain('vase');
  });

  it('announces best-seller changes, overall and per category, counting distinct buyers', async () => {
    const overall = nextMessage(subscriber, liveChannel(names, 'bestSellersChanged', { categoryId: null }));
    const home = nextMessage(subscriber, liveChannel(names, 'bestSellersChanged', { categoryId: 'home' }));
    await ingest(database.db, events, [event('e1', 'lamp', 'PURCHASE', 2), event('e2', 'lamp', 'PURCHASE', 2), event('e2', 'lamp', 'PURCHASE', 1)]);
    expect((await overall)['categoryId']).toBeNull();
    expect((await home)['categoryId']).toBe('home');
    const ranking = fromBestSellersDoc((await database.db.collection<BestSellersDoc>(COLLECTIONS.bestSellers).findOne({ _id: 'home:30' }))!);
    expect(ranking.items).toEqual([['lamp', 2]]);
  });

  it('hands aggregation over to a standby when the leader stops', async () => {
    const standby = service();
    await standby.start();
    expect(standby.leading).toBe(false);
    const takeover = once(standby, 'leading');
    await aggregation.stop();
    await takeover;
    try {
      const job = await ingest(database.db, events, [event('f', 'candle', 'VIEW', 1)]);
      await job.waitUntilFinished(queueEvents);
      await standby.settled();
      const expected = dumpAggregator(await recomputeAggregates(database.db, catalog, engine));
      expect(compareAggregates(await readStoredAggregates(database.db), expected)).toEqual([]);
    } finally {
      aggregation = standby;
    }
  });
});
