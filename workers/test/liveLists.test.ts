import { once } from 'node:events';
import { QueueEvents, type Queue } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deferred, testDatabase, testServices, uniqueName, type TestDatabase } from '@recs/devkit';
import { Aggregator, DEFAULT_ENGINE_CONFIG, MemoryCatalog } from '@recs/engine';
import {
  COLLECTIONS,
  connectRedis,
  createLogger,
  eventsQueue,
  fromListDoc,
  listsQueue,
  liveChannel,
  RedisNames,
  type EventsJob,
  type ListDoc,
  type ListsJob,
  type RedisClient,
} from '@recs/shared';
import { AggregatorService } from '../src/aggregate/service.ts';
import { CatalogCache } from '../src/catalog.ts';
import { ListService } from '../src/lists/service.ts';
import { ListStore } from '../src/lists/store.ts';
import { MongoAggregateStore, type MongoAggregateStoreOptions } from '../src/mongoStore.ts';
import { Publisher } from '../src/publisher.ts';
import { CapturingStore, event, ingest, insertCatalog, nextMessage } from './helpers.ts';

/*
 * The live path: the aggregation leader recomputes its flushes' lists itself, from the state it
 * holds, with no list job; and a crash before they were recomputed leaves them to recovery.
 */

const logger = createLogger('live-lists-test', process.env['TEST_LOG_LEVEL'] ?? 'silent');
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
const running: AggregatorService[] = [];

/** A leader whose lists are recomputed by `listService` (started on no queue: only the live path feeds it). */
async function leader(afterPlan?: MongoAggregateStoreOptions['afterPlan']): Promise<{ aggregation: AggregatorService; listService: ListService }> {
  let aggregation: AggregatorService | undefined;
  const listService = new ListService({
    store: new ListStore(database.db),
    catalog,
    engine,
    publisher: new Publisher(redis, names),
    logger,
    local: () => aggregation?.aggregator,
  });
  aggregation = new AggregatorService({
    db: database.db,
    redis,
    prefix,
    catalog,
    engine,
    lists,
    liveLists: listService,
    publisher: new Publisher(redis, names),
    logger,
    leaseMs: 1_500,
    ...(afterPlan === undefined ? {} : { afterPlan }),
  });
  running.push(aggregation);
  const leading = once(aggregation, 'leading');
  await aggregation.start();
  await leading;
  return { aggregation, listService };
}

beforeAll(async () => {
  database = await testDatabase('live_lists');
  redis = await connectRedis(testServices().redisUrl, logger, 'live-lists-test');
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
    { id: 'lamp', categoryId: 'home' },
  ]);
  catalog = new CatalogCache(database.db, logger);
  await catalog.load();
});

afterAll(async () => {
  for (const aggregation of running) await aggregation.stop();
  await queueEvents.close();
  await events.obliterate({ force: true });
  await lists.obliterate({ force: true });
  await events.close();
  await lists.close();
  await subscriber.close();
  await redis.close();
  await database.drop();
});

describe('live lists', () => {
  it('the leader recomputes, saves and announces a flush’s lists itself, queuing no list job', async () => {
    const { aggregation } = await leader();
    await (
      await ingest(database.db, events, [
        ...['x1', 'x2', 'x3'].flatMap((u) => [event(u, 'mug', 'PURCHASE', 60), event(u, 'teapot', 'PURCHASE', 60)]),
        ...['y1', 'y2', 'y3'].flatMap((u) => [event(u, 'cup', 'PURCHASE', 60), event(u, 'lamp', 'PURCHASE', 60)]),
      ])
    ).waitUntilFinished(queueEvents);
    const announced = nextMessage(subscriber, liveChannel(names, 'recommendationsChanged', { userId: 'shopper' }));
    const purchase = event('shopper', 'mug', 'PURCHASE', 1);
    await ingest(database.db, events, [purchase]);
    const message = await announced;
    expect(message).toEqual({
      userId: 'shopper',
      version: 1,
      at: expect.any(Number),
      acceptedAt: purchase.receivedAt,
      // the saved list itself, so the subgraph's replicas need not read it
      list: expect.objectContaining({ userId: 'shopper', version: 1 }),
    });
    const list = fromListDoc((await database.db.collection<ListDoc>(COLLECTIONS.lists).findOne({ _id: 'shopper' }))!);
    expect(list.items.find((i) => i.productId === 'teapot')?.reasons).toContain('ALSO_BOUGHT:mug');
    // the message carried exactly what was saved
    expect(message['list']).toEqual(list);
    // nothing went through the lists queue (no worker consumes it here: a job would wait forever)
    const counts = await lists.getJobCounts();
    expect(Object.values(counts).reduce((a, b) => a + b, 0)).toBe(0);
    // and once settled, the batches are retired (the holds were released)
    await aggregation.settled();
    await aggregation.stop();
    expect(await database.db.collection(COLLECTIONS.inbox).countDocuments()).toBe(0);
  });

  it('announces a flush’s lists without waiting for its commit to write the aggregates', async () => {
    // the commit of the flush holding `early`'s event stops after its plan, before its documents
    const writesMayGo = deferred<void>();
    const planned = deferred<void>();
    const { aggregation } = await leader(async ({ immediate }) => {
      if (!immediate.some((op) => op.c === COLLECTIONS.users && op.id === 'early')) return;
      planned.resolve();
      await writesMayGo.promise;
    });
    const announced = nextMessage(subscriber, liveChannel(names, 'recommendationsChanged', { userId: 'early' }));
    const job = await ingest(database.db, events, [event('early', 'lamp', 'VIEW', 1)]);
    const message = await announced;
    await planned.promise;
    expect(message).toMatchObject({ userId: 'early', version: 1, list: expect.objectContaining({ userId: 'early' }) });
    // the list was saved and announced while the user's state was not written yet
    expect(await database.db.collection<{ _id: string }>(COLLECTIONS.users).findOne({ _id: 'early' })).toBeNull();
    writesMayGo.resolve();
    await job.waitUntilFinished(queueEvents);
    expect(await database.db.collection<{ _id: string }>(COLLECTIONS.users).findOne({ _id: 'early' })).not.toBeNull();
    await aggregation.settled();
    await aggregation.stop();
    expect(await database.db.collection(COLLECTIONS.inbox).countDocuments()).toBe(0);
  });

  it('a new leader queues the lists of the users whose commit a crash left unfinished', async () => {
    // a commit held by lists that never finished (the process died)
    const capture = new CapturingStore();
    const memory = new Aggregator(capture, new MemoryCatalog([['mug', { categoryId: 'kitchen', inStock: true }]]), engine);
    await memory.start();
    await memory.apply([event('lost', 'mug', 'VIEW', 1)], Date.now());
    const crashed = new MongoAggregateStore(database.db, { holdCommits: true, writeBehindMs: 60_000 });
    await crashed.commit(capture.last!);
    await crashed.writeBehind();
    await crashed.close({ flush: false });

    await leader();
    const jobs = await lists.getJobs(['waiting', 'prioritized', 'delayed']);
    expect(jobs.map((job) => job.data.userId)).toContain('lost');
  });
});
