import { once } from 'node:events';
import { deferred, testServices, uniqueName } from '@recs/devkit';
import type { BestSellersList } from '@recs/engine';
import { connectRedis, createLogger, encodeChange, RedisNames, type RedisClient } from '@recs/shared';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BestSellersCache, type BestSellersCacheOptions } from '../bestSellersCache.ts';

/** The cache of best-seller rankings over a real Redis: what the workers publish is what drops entries. */
const logger = createLogger('best-sellers-cache-test', 'silent');
const WINDOW = 30;
let redis: RedisClient;
const subscribers: RedisClient[] = [];

beforeAll(async () => {
  redis = await connectRedis(testServices().redisUrl, logger, 'best-sellers-cache-test');
});
afterAll(async () => {
  for (const subscriber of subscribers) await subscriber.close();
  await redis.close();
});

const ranking = (categoryId: string | null, changedAt: number, top = 'p1', windowDays = WINDOW): BestSellersList => ({
  categoryId,
  windowDays,
  changedAt,
  items: [[top, 3]],
});

/** A cache following a channel namespace of its own, and a way to publish a ranking's change there as the workers do. */
async function following(options: Partial<BestSellersCacheOptions> = {}) {
  const names = new RedisNames(uniqueName('bsc'));
  const cache = new BestSellersCache({ announcedWindowDays: WINDOW, ...options });
  const subscriber = redis.duplicate();
  await subscriber.connect();
  subscribers.push(subscriber);
  await cache.follow(subscriber, names, logger);
  // resolves once the cache has heard the change
  const publish = async (categoryId: string | null, changedAt: number) => {
    const heard = once(cache, 'announced');
    const { channel, text } = encodeChange(names, 'bestSellersChanged', { categoryId, changedAt });
    await redis.publish(channel, text);
    expect(await heard).toEqual([categoryId, changedAt]);
  };
  return { cache, publish };
}

const reader = (answers: BestSellersList[]) => {
  let calls = 0;
  return { read: async () => answers[Math.min(calls++, answers.length - 1)]!, calls: () => calls };
};

describe('BestSellersCache', () => {
  it('answers from memory until a newer change of that ranking is announced, then reads again', async () => {
    const { cache, publish } = await following();
    const store = reader([ranking(null, 100), ranking(null, 200, 'p2')]);
    const other = reader([ranking('c1', 100)]);
    expect(await cache.get(null, WINDOW, store.read)).toEqual(ranking(null, 100));
    expect(await cache.get(null, WINDOW, store.read)).toEqual(ranking(null, 100));
    await cache.get('c1', WINDOW, other.read);
    expect(store.calls()).toBe(1);
    // a change it has already, or another category's, changes nothing
    await publish(null, 100);
    await publish('c1', 300);
    await cache.get(null, WINDOW, store.read);
    expect(store.calls()).toBe(1);
    await publish(null, 200);
    expect(await cache.get(null, WINDOW, store.read)).toEqual(ranking(null, 200, 'p2'));
    expect(store.calls()).toBe(2);
    expect(cache.stats()).toMatchObject({ hits: 2, misses: 3 });
  });

  it('shares one read among the requests that find nothing cached', async () => {
    const { cache } = await following();
    const slow = deferred<BestSellersList>();
    let calls = 0;
    const read = () => {
      calls++;
      return slow.promise;
    };
    const pages = Promise.all(Array.from({ length: 20 }, () => cache.get('c2', WINDOW, read)));
    slow.resolve(ranking('c2', 50));
    expect(new Set((await pages).map((list) => list.changedAt))).toEqual(new Set([50]));
    expect(calls).toBe(1);
  });

  it('does not keep a read that returns a ranking older than a change announced while it ran', async () => {
    const { cache, publish } = await following();
    const slow = deferred<BestSellersList>();
    const reading = cache.get('c3', WINDOW, () => slow.promise);
    await publish('c3', 500);
    slow.resolve(ranking('c3', 400));
    expect((await reading).changedAt).toBe(400);
    const store = reader([ranking('c3', 500)]);
    expect((await cache.get('c3', WINDOW, store.read)).changedAt).toBe(500);
    await cache.get('c3', WINDOW, store.read);
    expect(store.calls()).toBe(1);
  });

  it('reads the store for a hydration unless it holds the newest change heard of', async () => {
    const { cache, publish } = await following();
    const store = reader([ranking(null, 10), ranking(null, 20), ranking(null, 30)]);
    await cache.get(null, WINDOW, store.read);
    // no change heard yet: the hydration's message has not reached this replica, so it reads
    expect((await cache.get(null, WINDOW, store.read, true)).changedAt).toBe(20);
    await publish(null, 20);
    // what it holds is the newest heard of: from memory
    expect((await cache.get(null, WINDOW, store.read, true)).changedAt).toBe(20);
    expect(store.calls()).toBe(2);
    await publish(null, 30);
    expect((await cache.get(null, WINDOW, store.read, true)).changedAt).toBe(30);
    expect(store.calls()).toBe(3);
  });

  it('keeps a window nobody announces only briefly, and the announced one not at all while it hears nothing', async () => {
    const { cache } = await following({ unannouncedTtlMs: 1_000 });
    const week = reader([ranking(null, 1, 'p1', 7), ranking(null, 2, 'p2', 7)]);
    const now = Date.now();
    await cache.get(null, 7, week.read, false, now);
    expect((await cache.get(null, 7, week.read, false, now + 999)).changedAt).toBe(1);
    expect((await cache.get(null, 7, week.read, false, now + 1_000)).changedAt).toBe(2);
    expect(week.calls()).toBe(2);

    const deaf = new BestSellersCache({ announcedWindowDays: WINDOW });
    const store = reader([ranking(null, 1)]);
    await deaf.get(null, WINDOW, store.read);
    await deaf.get(null, WINDOW, store.read);
    expect(store.calls()).toBe(2);
    expect(deaf.stats().entries).toBe(0);
  });

  it('stays within its byte budget whatever categories are asked for', async () => {
    const { cache } = await following({ maxBytes: 4_000 });
    for (let i = 0; i < 200; i++) await cache.get(`cat-${i}`, WINDOW, async () => ranking(`cat-${i}`, 1, 'x'.repeat(100)));
    expect(cache.stats().bytes).toBeLessThanOrEqual(4_000);
    expect(cache.stats().entries).toBeLessThan(200);
  });
});
