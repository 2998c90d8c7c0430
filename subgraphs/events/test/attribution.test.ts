import type { Queue } from 'bullmq';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { postGraphQL, TEST_JWT_SECRET, testDatabase, testServices, uniqueName, type TestDatabase } from '@recs/devkit';
import { eventKey } from '@recs/engine';
import {
  closeServer,
  COLLECTIONS,
  connectRedis,
  createLogger,
  createRegistry,
  EMPTY_TALLY,
  eventsQueue,
  ExperimentTallies,
  fromRawEventDoc,
  IDENTITY_HEADER,
  signInternalIdentity,
  signRecommendationId,
  type EventsJob,
  type Identity,
  type RawEventDoc,
  type RedisClient,
  type Registry,
  type ServedList,
  listen,
} from '@recs/shared';
import { Ingestor } from '../ingest.ts';
import { IngestMetrics } from '../metrics.ts';
import { createEventsServer, type EventsServer } from '../server.ts';
import { EventStore } from '../store.ts';

const logger = createLogger('attribution-test', 'silent');
const service: Identity = { kind: 'authenticated', subject: 'storefront', role: 'service' };
const TRACK = `mutation ($input: TrackEventInput!) { trackEvent(input: $input) { eventId duplicate } }`;
const TRACK_MANY = `mutation ($inputs: [TrackEventInput!]!) { trackEvents(inputs: $inputs) { accepted duplicates rejected { index code message } } }`;

let database: TestDatabase;
let redis: RedisClient;
let queue: Queue<EventsJob>;
let server: EventsServer;
let registry: Registry;
let tallies: ExperimentTallies;
let url: string;

const served = (variant: string, experiment: string | null = 'home'): ServedList => ({
  experiment: experiment ?? undefined,
  variant,
  model: 'none',
  strategy: 'PERSONALIZED',
  listVersion: 3,
  servedAt: Date.now() - 1_000,
});
const idFor = (userId: string, list: ServedList) => signRecommendationId(userId, list, TEST_JWT_SECRET);

async function gql(query: string, variables: Record<string, unknown>, identity: Identity = service) {
  return postGraphQL(url, query, variables, { [IDENTITY_HEADER]: await signInternalIdentity(identity, TEST_JWT_SECRET, query) });
}

async function attributedMetric(labels: Record<string, string>): Promise<number> {
  const metric = await registry.getSingleMetric('recs_recommendation_attributed_events_total')!.get();
  return metric.values.filter((sample) => Object.entries(labels).every(([key, value]) => sample.labels[key] === value)).reduce((sum, s) => sum + s.value, 0);
}

beforeAll(async () => {
  database = await testDatabase('attribution');
  redis = await connectRedis(testServices().redisUrl, logger, 'attribution-test');
  queue = eventsQueue(redis, uniqueName('q'));
  registry = createRegistry('events', { defaultMetrics: false });
  const store = new EventStore(database.db);
  tallies = new ExperimentTallies(database.db);
  server = await createEventsServer({
    store,
    ingestor: new Ingestor({ store, queue, logger, metrics: new IngestMetrics(registry), jwtSecret: TEST_JWT_SECRET }),
    jwtSecret: TEST_JWT_SECRET,
    logger,
    production: true,
  });
  url = `http://127.0.0.1:${await listen(server.http, 0)}/graphql`;
});

afterAll(async () => {
  await closeServer(server.http);
  await server.apollo.stop();
  await queue.obliterate({ force: true });
  await queue.close();
  await redis.close();
  await database.drop();
});

beforeEach(async () => {
  for (const name of [COLLECTIONS.events, COLLECTIONS.inbox, COLLECTIONS.experimentTallies, COLLECTIONS.experimentUsers]) {
    await database.db.collection(name).deleteMany({});
  }
  await queue.obliterate({ force: true });
});

describe('recommendationId on trackEvent(s)', () => {
  it('stores it on the raw event and leaves it out of what the aggregates read', async () => {
    const recommendationId = idFor('alice', served('diverse'));
    const click = { eventId: 'c1', userId: 'alice', productId: 'p1', type: 'CLICK' };
    expect((await gql(TRACK, { input: { ...click, recommendationId } })).data).toEqual({ trackEvent: { eventId: 'c1', duplicate: false } });
    expect((await gql(TRACK, { input: { ...click, eventId: 'c2' } })).data).toEqual({ trackEvent: { eventId: 'c2', duplicate: false } });

    const raw = await database.db.collection<RawEventDoc>(COLLECTIONS.events).findOne({ _id: eventKey('alice', 'c1') });
    expect(raw?.recommendationId).toBe(recommendationId);
    const plain = await database.db.collection<RawEventDoc>(COLLECTIONS.events).findOne({ _id: eventKey('alice', 'c2') });
    expect(plain?.recommendationId).toBeUndefined();
    // the same event to the aggregates, with or without it: what is queued and what a rebuild reads
    const queued = (await queue.getJobs(['waiting'])).flatMap((job) => job.data.events);
    const [withId, without] = ['c1', 'c2'].map((id) => queued.find((event) => event.eventId === id)!);
    expect({ ...withId, eventId: 'x', occurredAt: 0, receivedAt: 0 }).toEqual({ ...without, eventId: 'x', occurredAt: 0, receivedAt: 0 });
    expect(withId).not.toHaveProperty('recommendationId');
    expect(fromRawEventDoc(raw!)).not.toHaveProperty('recommendationId');
  });

  it('refuses, with INVALID_RECOMMENDATION_ID and nothing stored, one on another type, a forged one, and another user’s', async () => {
    const aliceId = idFor('alice', served('blend'));
    const forged = aliceId.replace('~blend~', '~diverse~');
    const inputs = [
      { eventId: 'v1', userId: 'alice', productId: 'p1', type: 'VIEW', recommendationId: aliceId },
      { eventId: 'r1', userId: 'alice', productId: 'p1', type: 'REMOVE_FROM_CART', recommendationId: aliceId },
      { eventId: 'f1', userId: 'alice', productId: 'p1', type: 'CLICK', recommendationId: forged },
      { eventId: 'b1', userId: 'bob', productId: 'p1', type: 'PURCHASE', recommendationId: aliceId },
      { eventId: 'g1', userId: 'alice', productId: 'p1', type: 'CLICK', recommendationId: 'made-up' },
      { eventId: 'ok', userId: 'alice', productId: 'p1', type: 'ADD_TO_CART', recommendationId: aliceId },
    ];
    const result = (await gql(TRACK_MANY, { inputs })).data?.['trackEvents'];
    expect(result).toMatchObject({ accepted: 1, duplicates: 0 });
    expect(result.rejected.map((r: { index: number; code: string }) => [r.index, r.code])).toEqual(
      [0, 1, 2, 3, 4].map((i) => [i, 'INVALID_RECOMMENDATION_ID']),
    );
    expect(result.rejected[0].message).toBe('recommendationId is accepted on CLICK, ADD_TO_CART and PURCHASE events only');
    expect(result.rejected[3].message).toBe('recommendationId was not issued for user bob, or was altered');
    expect(await database.db.collection(COLLECTIONS.events).countDocuments()).toBe(1);

    const single = await gql(TRACK, { input: { eventId: 'f2', userId: 'alice', productId: 'p1', type: 'CLICK', recommendationId: forged } });
    expect(single.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', reason: 'INVALID_RECOMMENDATION_ID' });
    expect(await database.db.collection(COLLECTIONS.events).countDocuments()).toBe(1);
  });

  it('refuses every recommendationId when the ingestor has no key to check them with', async () => {
    const store = new EventStore(database.db);
    const keyless = new Ingestor({ store, queue, logger });
    const result = await keyless.track([{ userId: 'alice', productId: 'p1', type: 'CLICK', recommendationId: idFor('alice', served('blend')) }], service);
    expect(result.rejected.map((r) => r.code)).toEqual(['INVALID_RECOMMENDATION_ID']);
  });
});

describe('attribution', () => {
  it('counts events newly stored, never duplicates, per variant and user, in the tallies and the metric', async () => {
    const labels = { strategy: 'PERSONALIZED', variant: 'diverse', model: 'none' };
    const before = { click: await attributedMetric({ ...labels, type: 'CLICK' }), purchase: await attributedMetric({ ...labels, type: 'PURCHASE' }) };
    const alice = idFor('alice', served('diverse'));
    const bob = idFor('bob', served('diverse'));
    const carol = idFor('carol', served('blend'));
    const event = (eventId: string, userId: string, type: string, recommendationId: string) => ({ eventId, userId, productId: 'p1', type, recommendationId });
    const batch = [
      event('a1', 'alice', 'CLICK', alice),
      event('a2', 'alice', 'CLICK', alice),
      event('a3', 'alice', 'PURCHASE', alice),
      event('b1', 'bob', 'CLICK', bob),
      event('b2', 'bob', 'ADD_TO_CART', bob),
      event('c1', 'carol', 'PURCHASE', carol),
      // outside an experiment: in the metric only
      event('d1', 'dave', 'CLICK', idFor('dave', served('blend', null))),
    ];
    expect((await gql(TRACK_MANY, { inputs: batch })).data?.['trackEvents']).toEqual({ accepted: 7, duplicates: 0, rejected: [] });
    // the same batch again (a client's retry), and a repeat inside a batch: duplicates, not counted
    expect((await gql(TRACK_MANY, { inputs: batch })).data?.['trackEvents']).toEqual({ accepted: 0, duplicates: 7, rejected: [] });
    expect((await gql(TRACK_MANY, { inputs: [event('a4', 'alice', 'CLICK', alice), event('a4', 'alice', 'CLICK', alice)] })).data?.['trackEvents']).toEqual({
      accepted: 1,
      duplicates: 1,
      rejected: [],
    });
    // a batch of a stored event and a new one: only the new one
    expect((await gql(TRACK_MANY, { inputs: [batch[0], event('a5', 'alice', 'CLICK', alice)] })).data?.['trackEvents']).toEqual({
      accepted: 1,
      duplicates: 1,
      rejected: [],
    });

    expect(await tallies.read('home')).toEqual([
      { variant: 'blend', counts: { ...EMPTY_TALLY, purchases: 1, purchasingUsers: 1 } },
      { variant: 'diverse', counts: { ...EMPTY_TALLY, clicks: 5, addToCarts: 1, purchases: 1, clickingUsers: 2, addingUsers: 1, purchasingUsers: 1 } },
    ]);
    expect((await attributedMetric({ ...labels, type: 'CLICK' })) - before.click).toBe(5);
    expect((await attributedMetric({ ...labels, type: 'PURCHASE' })) - before.purchase).toBe(1);
    expect(await attributedMetric({ type: 'CLICK', variant: 'blend' })).toBe(1);
    // events without a recommendationId are not attributed
    await gql(TRACK, { input: { userId: 'alice', productId: 'p1', type: 'PURCHASE' } });
    expect((await attributedMetric({ ...labels, type: 'PURCHASE' })) - before.purchase).toBe(1);
  });
});
