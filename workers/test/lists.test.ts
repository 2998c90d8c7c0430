import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testDatabase, testServices, uniqueName, type TestDatabase } from '@recs/devkit';
import { Aggregator, DEFAULT_ENGINE_CONFIG, NO_READS, ReadOutsideContract } from '@recs/engine';
import { COLLECTIONS, connectRedis, createLogger, fromListDoc, liveChannel, RedisNames, type ListDoc, type RedisClient } from '@recs/shared';
import { CatalogCache } from '../src/catalog.ts';
import { ListService } from '../src/lists/service.ts';
import { ListStore } from '../src/lists/store.ts';
import { MongoAggregateStore } from '../src/mongoStore.ts';
import { Publisher } from '../src/publisher.ts';
import { event, insertCatalog } from './helpers.ts';

const logger = createLogger('lists-test', process.env['TEST_LOG_LEVEL'] ?? 'silent');
const engine = DEFAULT_ENGINE_CONFIG;

let database: TestDatabase;
let redis: RedisClient;
let subscriber: RedisClient;
let names: RedisNames;
let aggregator: Aggregator;
let store: ListStore;
let service: ListService;
let aggregates: MongoAggregateStore;
let catalog: CatalogCache;
/** Every recommendations message published, in order. */
const published: { userId: string; version: number }[] = [];

beforeAll(async () => {
  database = await testDatabase('lists');
  redis = await connectRedis(testServices().redisUrl, logger, 'lists-test');
  subscriber = redis.duplicate();
  await subscriber.connect();
  names = new RedisNames(uniqueName('q'));
  await subscriber.pSubscribe(liveChannel(names, 'recommendationsChanged', { userId: '*' }), (text) => {
    const { userId, version } = JSON.parse(text) as { userId: string; version: number };
    published.push({ userId, version });
  });
  await insertCatalog(database.db, [
    { id: 'mug', categoryId: 'kitchen' },
    { id: 'teapot', categoryId: 'kitchen' },
    { id: 'cup', categoryId: 'kitchen' },
    { id: 'candle', categoryId: 'home' },
    { id: 'lamp', categoryId: 'home' },
  ]);
  catalog = new CatalogCache(database.db, logger);
  await catalog.load();
  aggregates = new MongoAggregateStore(database.db);
  aggregator = new Aggregator(aggregates, catalog, engine);
  await aggregator.start();
  await aggregator.apply(
    [
      ...['x1', 'x2', 'x3'].flatMap((u) => [event(u, 'mug', 'PURCHASE', 60), event(u, 'teapot', 'PURCHASE', 60), event(u, 'lamp', 'VIEW', 60)]),
      ...['y1', 'y2', 'y3', 'y4'].flatMap((u) => [event(u, 'candle', 'PURCHASE', 60), event(u, 'cup', 'PURCHASE', 60)]),
    ],
    Date.now(),
  );
  await aggregator.apply([event('u1', 'mug', 'PURCHASE', 5), event('u2', 'candle', 'VIEW', 5), event('u3', 'teapot', 'VIEW', 5)], Date.now());
  await aggregates.writeBehind();
  store = new ListStore(database.db);
  service = new ListService({ store, catalog, engine, publisher: new Publisher(redis, names), logger, local: () => aggregator });
});

afterAll(async () => {
  await subscriber.close();
  await redis.close();
  await database.drop();
});

/** Resolves once `count` messages have been published (each save is announced after it is stored). */
async function publishedCount(count: number): Promise<void> {
  while (published.length < count) await new Promise((resolve) => setImmediate(resolve));
}

async function storedList(userId: string) {
  const doc = await database.db.collection<ListDoc>(COLLECTIONS.lists).findOne({ _id: userId });
  return doc === null ? undefined : fromListDoc(doc);
}

describe('list batches', () => {
  it('computes, saves and announces several users’ lists together, and only the changed ones', async () => {
    const first = await service.computeMany(['u1', 'u2', 'u3', 'u1']);
    expect([...first.keys()].sort()).toEqual(['u1', 'u2', 'u3']);
    for (const outcome of first.values()) expect(outcome.changed).toBe(true);
    await publishedCount(3);
    expect(published.map((m) => m.userId).sort()).toEqual(['u1', 'u2', 'u3']);
    expect(published.every((m) => m.version === 1)).toBe(true);
    const u1 = await storedList('u1');
    expect(u1?.strategy).toBe('PERSONALIZED');
    expect(u1?.items.find((i) => i.productId === 'teapot')?.reasons).toContain('ALSO_BOUGHT:mug');

    // nothing changed: nothing saved, nothing announced
    const again = await service.computeMany(['u1', 'u2', 'u3']);
    for (const outcome of again.values()) expect(outcome.changed).toBe(false);
    expect((await storedList('u1'))?.version).toBe(1);
  });

  it('starts again from a version another process saved meanwhile, and saves the one after it', async () => {
    await aggregator.apply([event('u2', 'lamp', 'VIEW', 1)], Date.now());
    // another worker saved version 2 of u2's list in the meantime
    await database.db.collection<ListDoc>(COLLECTIONS.lists).updateOne({ _id: 'u2' }, { $set: { version: 2, items: '[]' } });
    const before = published.length;
    const outcome = await service.computeMany(['u2', 'u3']);
    expect(outcome.get('u3')).toEqual({ changed: false });
    const u2 = outcome.get('u2');
    expect(u2?.changed).toBe(true);
    const stored = await storedList('u2');
    expect(stored?.version).toBe(3);
    expect(stored?.items.length).toBeGreaterThan(0);
    await publishedCount(before + 1);
    expect(published.slice(before)).toEqual([{ userId: 'u2', version: 3 }]);
  });

  it('computes the same list from MongoDB as from the aggregating leader’s memory', async () => {
    const DAY_MINUTES = 24 * 60;
    // u7 bought mug on two days and candle once; mug's and candle's buyers weigh those purchases
    await aggregator.apply(
      [
        event('u7', 'mug', 'PURCHASE', 3 * DAY_MINUTES),
        event('u7', 'mug', 'PURCHASE', 1 * DAY_MINUTES),
        event('u7', 'candle', 'PURCHASE', 2 * DAY_MINUTES),
        event('x1', 'mug', 'PURCHASE', 40 * DAY_MINUTES),
      ],
      Date.now(),
    );
    await aggregates.writeBehind();
    const loaded = await new ListStore(database.db).load({ ...NO_READS, productBuyers: new Set(['mug', 'candle', 'unknown']) });
    for (const productId of ['mug', 'candle', 'unknown']) expect(loaded.productBuyers(productId)).toEqual(aggregator.productBuyers(productId));
    expect(loaded.productBuyers('mug')).toMatchObject({ total: 5, repeat: 2 });

    const fromMemory = await service.computeMany(['u7']);
    expect(fromMemory.get('u7')?.changed).toBe(true);
    // a list worker that is not the leader reads everything from MongoDB: the same list, so nothing to save
    const fromMongo = new ListService({ store: new ListStore(database.db), catalog, engine, publisher: new Publisher(redis, names), logger });
    expect((await fromMongo.computeMany(['u7'])).get('u7')).toEqual({ changed: false });
  });

  it('throws on a read it was not asked to load, instead of answering nothing', async () => {
    const loaded = await new ListStore(database.db).load({
      neighbours: { ALSO_BOUGHT: new Set(['mug']), ALSO_VIEWED: new Set() },
      productBuyers: new Set(['mug']),
      bestSellers: new Map([[engine.listWindowDays, new Set(['kitchen'])]]),
    });
    expect(loaded.neighbours('mug', 'ALSO_BOUGHT').map(([id]) => id)).toContain('teapot');
    expect(loaded.bestSellers('kitchen', engine.listWindowDays).length).toBeGreaterThan(0);
    expect(() => loaded.neighbours('mug', 'ALSO_VIEWED')).toThrow(ReadOutsideContract);
    expect(() => loaded.neighbours('teapot', 'ALSO_BOUGHT')).toThrow(ReadOutsideContract);
    expect(() => loaded.productBuyers('candle')).toThrow(ReadOutsideContract);
    expect(() => loaded.bestSellers(null, engine.listWindowDays)).toThrow(ReadOutsideContract);
    expect(() => loaded.bestSellers('kitchen', 30)).toThrow(ReadOutsideContract);
  });

  it('reports which saves lost the race', async () => {
    const lists = await store.lists(['u1', 'u3']);
    const u1 = lists.get('u1')!;
    const u3 = lists.get('u3')!;
    const empty = { items: [], strategy: 'BEST_SELLERS' as const, generatedAt: Date.now(), version: 1 };
    expect(await store.saveMany([{ ...empty, userId: 'u5' }])).toEqual(new Set());
    const lost = await store.saveMany([
      { ...u1, version: u1.version + 1, generatedAt: Date.now() },
      // stale: this version of u3's list exists already
      { ...u3, generatedAt: Date.now() },
      { ...empty, userId: 'u4' },
      // u5's first version exists already
      { ...empty, userId: 'u5', generatedAt: Date.now() + 1 },
    ]);
    expect([...lost].sort()).toEqual(['u3', 'u5']);
    expect((await storedList('u1'))?.version).toBe(u1.version + 1);
    expect(await storedList('u3')).toEqual(u3);
    expect((await storedList('u4'))?.version).toBe(1);
  });
});
