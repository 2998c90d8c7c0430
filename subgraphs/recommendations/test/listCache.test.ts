import { once } from 'node:events';
import { deferred, testServices, uniqueName } from '@recs/devkit';
import { connectRedis, createLogger, encodeChange, RedisNames, type RedisClient, type StoredList } from '@recs/shared';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ListCache, listBytes } from '../listCache.ts';

/** The cache of hot lists over a real Redis: what the workers publish is what drops entries. */
const logger = createLogger('list-cache-test', 'silent');
let redis: RedisClient;
const subscribers: RedisClient[] = [];

beforeAll(async () => {
  redis = await connectRedis(testServices().redisUrl, logger, 'list-cache-test');
});
afterAll(async () => {
  for (const subscriber of subscribers) await subscriber.close();
  await redis.close();
});

const list = (userId: string, version: number, productId = 'p1'): StoredList => ({
  userId,
  version,
  strategy: 'PERSONALIZED',
  generatedAt: 1_000 * version,
  items: [{ productId, score: 1, reasons: ['POPULAR'] }],
});

/** A cache following a channel namespace of its own, and a way to publish a list change there as the workers do. */
async function following(options: ConstructorParameters<typeof ListCache>[0] = {}) {
  const names = new RedisNames(uniqueName('lc'));
  const cache = new ListCache(options);
  const subscriber = redis.duplicate();
  await subscriber.connect();
  subscribers.push(subscriber);
  await cache.follow(subscriber, names, logger);
  // resolves once the cache has heard the change
  const publish = async (userId: string, version: number, carried?: StoredList) => {
    const heard = once(cache, 'announced');
    const { channel, text } = encodeChange(names, 'recommendationsChanged', { userId, version, ...(carried === undefined ? {} : { list: carried }) });
    await redis.publish(channel, text);
    expect(await heard).toEqual([userId, version]);
  };
  return { cache, publish };
}

const reader = (answers: (StoredList | undefined)[]) => {
  let calls = 0;
  return { read: async () => answers[Math.min(calls++, answers.length - 1)], calls: () => calls };
};

describe('ListCache', () => {
  it('answers a repeated read from memory until a newer version is announced, then reads again', async () => {
    const { cache, publish } = await following();
    const store = reader([list('u1', 1), list('u1', 2, 'p2')]);
    expect(await cache.get('u1', store.read)).toEqual(list('u1', 1));
    expect(await cache.get('u1', store.read)).toEqual(list('u1', 1));
    expect(store.calls()).toBe(1);
    // an announcement of the version it has, or an older one, changes nothing
    await publish('u1', 1);
    await cache.get('u1', store.read);
    expect(store.calls()).toBe(1);
    await publish('u1', 2);
    expect(await cache.get('u1', store.read)).toEqual(list('u1', 2, 'p2'));
    expect(store.calls()).toBe(2);
    expect(cache.stats()).toMatchObject({ entries: 1, hits: 2, misses: 2 });
  });

  it('does not keep a read that returns a version older than one announced while it ran', async () => {
    const { cache, publish } = await following();
    const slow = deferred<StoredList>();
    const reading = cache.get('u2', () => slow.promise);
    await publish('u2', 5);
    slow.resolve(list('u2', 4));
    expect((await reading)?.version).toBe(4);
    const store = reader([list('u2', 5)]);
    expect((await cache.get('u2', store.read))?.version).toBe(5);
    expect(store.calls()).toBe(1);
    // now it is current: kept
    await cache.get('u2', store.read);
    expect(store.calls()).toBe(1);
  });

  it('reads the store for a hydration whatever is cached, and keeps what it read', async () => {
    const { cache } = await following();
    const store = reader([list('u5', 1), list('u5', 2)]);
    await cache.get('u5', store.read);
    // the change message has not reached this replica yet; the gateway's hydration of it has
    expect((await cache.refresh('u5', store.read))?.version).toBe(2);
    expect((await cache.get('u5', store.read))?.version).toBe(2);
    expect(store.calls()).toBe(2);
  });

  it('takes the list a change message carries: the hydration it starts reads no store', async () => {
    const { cache, publish } = await following();
    const store = reader([list('u6', 1)]);
    await cache.get('u6', store.read);
    await publish('u6', 2, list('u6', 2, 'p2'));
    expect(await cache.refresh('u6', store.read)).toEqual(list('u6', 2, 'p2'));
    expect(await cache.get('u6', store.read)).toEqual(list('u6', 2, 'p2'));
    expect(store.calls()).toBe(1);
    // a message whose list is not the version it announces is not taken: the next read goes to the store
    await publish('u6', 3, list('u6', 4));
    const newer = reader([list('u6', 3, 'p3')]);
    expect(await cache.refresh('u6', newer.read)).toEqual(list('u6', 3, 'p3'));
    expect(newer.calls()).toBe(1);
    // a user this replica has not served yet is added by a message that carries their list (their
    // next page is served from memory); one without a list adds nothing, nor does an older version
    await publish('u7', 2, list('u7', 2));
    await publish('u8', 1);
    await publish('u7', 1, list('u7', 1));
    expect(cache.stats().entries).toBe(2);
    const unread = reader([list('u7', 0)]);
    expect(await cache.get('u7', unread.read)).toEqual(list('u7', 2));
    expect(unread.calls()).toBe(0);
  });

  it('remembers a user without a list until their first one is announced', async () => {
    const { cache, publish } = await following();
    const store = reader([undefined, list('u3', 1)]);
    expect(await cache.get('u3', store.read)).toBeUndefined();
    expect(await cache.get('u3', store.read)).toBeUndefined();
    expect(store.calls()).toBe(1);
    await publish('u3', 1);
    expect((await cache.get('u3', store.read))?.version).toBe(1);
  });

  it('keeps nothing while it hears no announcements, and stays within its byte budget', async () => {
    const deaf = new ListCache();
    const store = reader([list('u4', 1)]);
    await deaf.get('u4', store.read);
    await deaf.get('u4', store.read);
    expect(store.calls()).toBe(2);
    expect(deaf.stats().entries).toBe(0);

    const { cache } = await following({ maxBytes: 4_000 });
    for (let i = 0; i < 200; i++) await cache.get(`user-${i}`, async () => list(`user-${i}`, 1, 'x'.repeat(100)));
    expect(cache.stats().bytes).toBeLessThanOrEqual(4_000);
    expect(cache.stats().entries).toBeLessThan(200);
  });

  it("counts the model's order of a list in its bytes", () => {
    const blend = list('u9', 1, 'x'.repeat(100));
    const ranked: StoredList = { ...blend, ranked: { model: 'm-1', items: [...blend.items].reverse() } };
    expect(listBytes(ranked) - listBytes(blend)).toBeGreaterThanOrEqual(listBytes(blend) - listBytes({ ...blend, items: [] }));
  });

  it('is dropped by a list change on any user channel, whatever the user id', async () => {
    const { cache, publish } = await following();
    const id = 'user:with*odd[chars]';
    const store = reader([list(id, 1), list(id, 2)]);
    await cache.get(id, store.read);
    await publish(id, 2);
    expect((await cache.get(id, store.read))?.version).toBe(2);
  });
});
