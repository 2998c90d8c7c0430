import { postGraphQL, TEST_JWT_SECRET, testDatabase, testServices, uniqueName, type TestDatabase } from '@recs/devkit';
import { DEFAULT_ENGINE_CONFIG } from '@recs/engine';
import {
  closeServer,
  COLLECTIONS,
  connectRedis,
  createLogger,
  IDENTITY_HEADER,
  READ_FRESH_HEADER,
  RedisNames,
  signInternalIdentity,
  toListDoc,
  type Identity,
  type RedisClient,
  type StoredList,
  listen,
} from '@recs/shared';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ListCache } from '../listCache.ts';
import { createRecommendationsServer, type RecommendationsServer } from '../server.ts';
import { RecommendationStore } from '../store.ts';

/**
 * The subgraph with its list cache, over real MongoDB-wire and Redis: page queries are served
 * from memory, a subscription's hydration (the gateway's READ_FRESH_HEADER) from MongoDB.
 */
const logger = createLogger('fresh-reads-test', 'silent');
const service: Identity = { kind: 'authenticated', subject: 'gateway-subscriptions', role: 'service' };
let database: TestDatabase;
let redis: RedisClient;
let subscriber: RedisClient;
let server: RecommendationsServer;
let url: string;

const list = (version: number, productId: string): StoredList => ({
  userId: 'carol',
  strategy: 'PERSONALIZED',
  generatedAt: Date.parse('2026-01-01T00:00:00Z') + version,
  version,
  items: [{ productId, score: 1, reasons: ['POPULAR'] }],
});
const LIST = `query ($id: ID!) { recommendations(userId: $id) { version items { product { id } } } }`;

async function read(fresh: boolean) {
  const headers: Record<string, string> = { [IDENTITY_HEADER]: await signInternalIdentity(service, TEST_JWT_SECRET, LIST) };
  if (fresh) headers[READ_FRESH_HEADER] = '1';
  const { data } = await postGraphQL<{ recommendations: { version: number } }>(url, LIST, { id: 'carol' }, headers);
  return data?.recommendations.version;
}

beforeAll(async () => {
  database = await testDatabase('fresh-reads');
  redis = await connectRedis(testServices().redisUrl, logger, 'fresh-reads-test');
  subscriber = redis.duplicate();
  await subscriber.connect();
  const lists = new ListCache();
  await lists.follow(subscriber, new RedisNames(uniqueName('fr')), logger);
  await database.db.collection(COLLECTIONS.lists).insertOne(toListDoc(list(1, 'mug')) as never);
  server = await createRecommendationsServer({
    store: new RecommendationStore(database.db, [30], undefined, { lists }),
    engine: DEFAULT_ENGINE_CONFIG,
    jwtSecret: TEST_JWT_SECRET,
    logger,
    production: true,
  });
  url = `http://127.0.0.1:${await listen(server.http, 0)}/graphql`;
});

afterAll(async () => {
  await closeServer(server.http);
  await server.apollo.stop();
  await subscriber.close();
  await redis.close();
  await database.drop();
});

describe('fresh reads', () => {
  it('answers a hydration from MongoDB while page queries still get the cached list, then the one it read', async () => {
    expect(await read(false)).toBe(1);
    // saved by the workers; its announcement has not reached this replica
    await database.db.collection(COLLECTIONS.lists).replaceOne({ _id: 'carol' } as never, toListDoc(list(2, 'teapot')) as never);
    expect(await read(false)).toBe(1);
    expect(await read(true)).toBe(2);
    // the hydration's read is kept: pages see it too
    expect(await read(false)).toBe(2);
  });
});
