import { createServer, type AddressInfo, type Socket } from 'node:net';
import { Queue } from 'bullmq';
import { MongoClient } from 'mongodb';
import { createClient } from 'redis';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { freePort, postGraphQL, TEST_JWT_SECRET, testDatabase, testServices, uniqueName, type TestDatabase } from '@recs/devkit';
import { DEFAULT_ENGINE_CONFIG, emptyUserState, eventKey, mergeEvents, type TrackedEvent } from '@recs/engine';
import {
  closeServer,
  connectRedis,
  createLogger,
  eventsQueue,
  IDENTITY_HEADER,
  signInternalIdentity,
  toUserStateDoc,
  type EventsJob,
  type Identity,
  type RedisClient,
  listen,
} from '@recs/shared';
import { Ingestor } from '../ingest.ts';
import { createEventsServer, type EventsServer } from '../server.ts';
import { EventStore } from '../store.ts';

const logger = createLogger('events-test', 'silent');
const service: Identity = { kind: 'authenticated', subject: 'storefront', role: 'service' };
const alice: Identity = { kind: 'authenticated', subject: 'alice', role: 'user' };

let database: TestDatabase;
let redis: RedisClient;
let queue: Queue<EventsJob>;
let server: EventsServer;
let url: string;

async function gql(query: string, variables: Record<string, unknown> = {}, identity?: Identity) {
  const headers = identity === undefined ? {} : { [IDENTITY_HEADER]: await signInternalIdentity(identity, TEST_JWT_SECRET, query) };
  return postGraphQL(url, query, variables, headers);
}

async function startServer(
  store: EventStore,
  ingestQueue: Queue<EventsJob>,
  timeoutMs = 1_000,
  storeTimeoutMs?: number,
): Promise<{ server: EventsServer; url: string }> {
  const created = await createEventsServer({
    store,
    ingestor: new Ingestor({ store, queue: ingestQueue, logger, enqueueTimeoutMs: timeoutMs, ...(storeTimeoutMs === undefined ? {} : { storeTimeoutMs }) }),
    jwtSecret: TEST_JWT_SECRET,
    logger,
    production: true,
  });
  return { server: created, url: `http://127.0.0.1:${await listen(created.http, 0)}/graphql` };
}

const TRACK = `mutation ($input: TrackEventInput!) { trackEvent(input: $input) { eventId duplicate } }`;
const TRACK_MANY = `mutation ($inputs: [TrackEventInput!]!) { trackEvents(inputs: $inputs) { accepted duplicates rejected { index code message } } }`;

beforeAll(async () => {
  database = await testDatabase('events');
  redis = await connectRedis(testServices().redisUrl, logger, 'events-test');
  const prefix = uniqueName('q');
  queue = eventsQueue(redis, prefix);
  ({ server, url } = await startServer(new EventStore(database.db), queue));
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
  for (const name of ['events', 'event_inbox', 'user_state']) await database.db.collection(name).deleteMany({});
  await queue.obliterate({ force: true });
});

describe('trackEvent', () => {
  it('stores the event durably, queues it, and counts a resent eventId as a duplicate', async () => {
    const input = { eventId: 'evt-1', userId: 'alice', productId: 'p1', type: 'VIEW', quantity: 2, metadata: { page: '/p1' } };
    expect((await gql(TRACK, { input }, alice)).data).toEqual({ trackEvent: { eventId: 'evt-1', duplicate: false } });
    expect((await gql(TRACK, { input }, alice)).data).toEqual({ trackEvent: { eventId: 'evt-1', duplicate: true } });

    const stored = await database.db.collection('events').find().toArray();
    expect(stored).toHaveLength(1);
    expect(stored[0]).toMatchObject({
      _id: eventKey('alice', 'evt-1'),
      userId: 'alice',
      productId: 'p1',
      type: 'VIEW',
      quantity: 2,
      metadata: { page: '/p1' },
    });
    const jobs = await queue.getJobs(['waiting']);
    expect(jobs).toHaveLength(1);
    expect(jobs[0]!.data.events.map((e) => e.eventId)).toEqual(['evt-1']);
    expect(jobs[0]!.id).toBe(jobs[0]!.data.batchId);
    // the batch stays in the inbox until the workers apply it
    expect(await database.db.collection('event_inbox').countDocuments({ _id: jobs[0]!.data.batchId as never })).toBe(1);
  });

  it('generates an eventId when none is sent', async () => {
    const result = await gql(TRACK, { input: { userId: 'alice', productId: 'p1', type: 'CLICK' } }, alice);
    expect(result.data?.['trackEvent'].eventId).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('refuses an invalid event with BAD_USER_INPUT and a reason, storing nothing', async () => {
    const future = new Date(Date.now() + 3_600_000).toISOString();
    const result = await gql(TRACK, { input: { userId: 'alice', productId: 'p1', type: 'VIEW', occurredAt: future } }, alice);
    expect(result.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', reason: 'FUTURE_TIMESTAMP' });
    expect(await database.db.collection('events').countDocuments()).toBe(0);
    expect(await queue.count()).toBe(0);
  });

  it('requires a token, and lets users track only their own events', async () => {
    const input = { userId: 'alice', productId: 'p1', type: 'VIEW' };
    expect((await gql(TRACK, { input })).errors?.[0]?.extensions?.['code']).toBe('UNAUTHENTICATED');
    expect((await gql(TRACK, { input: { ...input, userId: 'bob' } }, alice)).errors?.[0]?.extensions?.['code']).toBe('FORBIDDEN');
    expect((await gql(TRACK, { input: { ...input, userId: 'bob' } }, service)).data?.['trackEvent'].duplicate).toBe(false);
  });
});

describe('trackEvents', () => {
  it('accepts the valid events of a batch and reports each invalid one with its index and reason', async () => {
    const result = await gql(
      TRACK_MANY,
      {
        inputs: [
          { eventId: 'a', userId: 'u1', productId: 'p1', type: 'VIEW' },
          { eventId: 'b', userId: 'u1', productId: 'p2', type: 'PURCHASE', quantity: 0 },
          { eventId: 'c', userId: 'u2', productId: 'p3', type: 'ADD_TO_CART', price: 4.5 },
          { eventId: 'a', userId: 'u1', productId: 'p1', type: 'VIEW' },
          { eventId: 'd', userId: 'u3', productId: 'p4', type: 'VIEW', metadata: { blob: 'x'.repeat(5_000) } },
        ],
      },
      service,
    );
    expect(result.data?.['trackEvents']).toEqual({
      accepted: 2,
      duplicates: 1,
      rejected: [
        { index: 1, code: 'INVALID_QUANTITY', message: 'quantity must be an integer from 1 to 100000' },
        { index: 4, code: 'INVALID_METADATA', message: 'metadata is 5011 bytes; the limit is 4096' },
      ],
    });
    expect((await database.db.collection('events').find().sort({ _id: 1 }).toArray()).map((e) => e['_id'])).toEqual([eventKey('u1', 'a'), eventKey('u2', 'c')]);
  });

  it('counts events already recorded by an earlier batch as duplicates', async () => {
    await gql(TRACK_MANY, { inputs: [{ eventId: 'x1', userId: 'u1', productId: 'p1', type: 'VIEW' }] }, service);
    const again = await gql(
      TRACK_MANY,
      {
        inputs: [
          { eventId: 'x1', userId: 'u1', productId: 'p1', type: 'VIEW' },
          { eventId: 'x2', userId: 'u1', productId: 'p2', type: 'VIEW' },
        ],
      },
      service,
    );
    expect(again.data?.['trackEvents']).toMatchObject({ accepted: 1, duplicates: 1 });
    const jobs = await queue.getJobs(['waiting']);
    expect(jobs.flatMap((j) => j.data.events.map((e) => e.eventId)).sort()).toEqual(['x1', 'x2']);
  });

  it('refuses a batch of more than 1,000 events as a whole', async () => {
    const inputs = Array.from({ length: 1_001 }, (_, i) => ({ eventId: `big-${i}`, userId: 'u1', productId: 'p1', type: 'VIEW' }));
    const result = await gql(TRACK_MANY, { inputs }, service);
    expect(result.errors?.[0]?.extensions?.['code']).toBe('BAD_USER_INPUT');
    expect(result.errors?.[0]?.message).toBe('at most 1000 events per call; got 1001');
    expect(await database.db.collection('events').countDocuments()).toBe(0);
  });

  it('reports another user’s events in a user’s batch as FORBIDDEN and accepts the rest', async () => {
    const result = await gql(
      TRACK_MANY,
      {
        inputs: [
          { userId: 'alice', productId: 'p1', type: 'VIEW' },
          { userId: 'bob', productId: 'p1', type: 'VIEW' },
        ],
      },
      alice,
    );
    expect(result.data?.['trackEvents']).toMatchObject({ accepted: 1, rejected: [{ index: 1, code: 'FORBIDDEN' }] });
  });

  it('still accepts events while Redis is unreachable, leaving the batch in the inbox for the sweeper', async () => {
    const unreachable = createClient({ url: `redis://127.0.0.1:${await freePort()}`, socket: { reconnectStrategy: false } });
    unreachable.on('error', () => undefined);
    const offline = new Queue<EventsJob>('{events}', { connection: unreachable as never, prefix: uniqueName('down') });
    offline.on('error', () => undefined);
    const alt = await startServer(new EventStore(database.db), offline, 300);
    try {
      const result = await postGraphQL(
        alt.url,
        TRACK,
        { input: { eventId: 'offline-1', userId: 'u1', productId: 'p1', type: 'VIEW' } },
        {
          [IDENTITY_HEADER]: await signInternalIdentity(service, TEST_JWT_SECRET, TRACK),
        },
      );
      expect(result.data).toEqual({ trackEvent: { eventId: 'offline-1', duplicate: false } });
      expect(await database.db.collection('events').countDocuments({ _id: eventKey('u1', 'offline-1') as never })).toBe(1);
      expect(await database.db.collection('event_inbox').countDocuments({ ids: eventKey('u1', 'offline-1') })).toBe(1);
    } finally {
      await closeServer(alt.server.http);
      await alt.server.apollo.stop();
    }
  });

  it('answers SERVICE_UNAVAILABLE when MongoDB is unreachable', async () => {
    const dead = new MongoClient(`mongodb://127.0.0.1:${await freePort()}/`, { serverSelectionTimeoutMS: 300 });
    const alt = await startServer(new EventStore(dead.db('nowhere')), queue);
    try {
      const result = await postGraphQL(
        alt.url,
        TRACK_MANY,
        { inputs: [{ userId: 'u1', productId: 'p1', type: 'VIEW' }] },
        {
          [IDENTITY_HEADER]: await signInternalIdentity(service, TEST_JWT_SECRET, TRACK_MANY),
        },
      );
      expect(result.errors?.[0]?.extensions).toMatchObject({ code: 'SERVICE_UNAVAILABLE', retryable: true });
      expect(await queue.count()).toBe(0);
    } finally {
      await closeServer(alt.server.http);
      await alt.server.apollo.stop();
      await dead.close();
    }
  });

  it('answers SERVICE_UNAVAILABLE when MongoDB accepts the connection but never answers', async () => {
    // a MongoDB-wire port that takes connections and says nothing (a hung server)
    const hung = new Set<Socket>();
    const silent = createServer((socket) => hung.add(socket));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const client = new MongoClient(`mongodb://127.0.0.1:${(silent.address() as AddressInfo).port}/`, {
      serverSelectionTimeoutMS: 60_000,
      connectTimeoutMS: 60_000,
    });
    const alt = await startServer(new EventStore(client.db('silent')), queue, 1_000, 300);
    try {
      const result = await postGraphQL(
        alt.url,
        TRACK_MANY,
        { inputs: [{ userId: 'u1', productId: 'p1', type: 'VIEW' }] },
        {
          [IDENTITY_HEADER]: await signInternalIdentity(service, TEST_JWT_SECRET, TRACK_MANY),
        },
      );
      expect(result.errors?.[0]?.extensions).toMatchObject({ code: 'SERVICE_UNAVAILABLE', retryable: true });
      expect(result.errors?.[0]?.message).toMatch(/within 300 ms/);
      expect(await queue.count()).toBe(0);
    } finally {
      await closeServer(alt.server.http);
      await alt.server.apollo.stop();
      for (const socket of hung) socket.destroy();
      silent.close();
      await client.close();
    }
  });
});

describe('browsing history', () => {
  const HISTORY = `query ($id: ID!) { user(id: $id) { id browsingHistory { product { id } lastViewedAt views } } }`;
  const T = Date.parse('2026-01-10T10:00:00Z');

  beforeEach(async () => {
    // the state the aggregator keeps for alice, written as the workers write it
    const events: TrackedEvent[] = ['p1', 'p2', 'p1', 'p3'].map((productId, i) => ({
      eventId: `h${i}`,
      userId: 'alice',
      productId,
      type: 'VIEW',
      occurredAt: T + i * 60_000,
      receivedAt: T + i * 60_000,
      quantity: 1,
    }));
    const state = mergeEvents(emptyUserState('alice'), events, DEFAULT_ENGINE_CONFIG).state;
    await database.db.collection('user_state').insertOne(toUserStateDoc(state, new Date()) as never);
  });

  it('lists distinct viewed products, newest first, to the user themselves only', async () => {
    const result = await gql(HISTORY, { id: 'alice' }, alice);
    expect(result.data?.['user']).toEqual({
      id: 'alice',
      browsingHistory: [
        { product: { id: 'p3' }, lastViewedAt: new Date(T + 180_000).toISOString(), views: 1 },
        { product: { id: 'p1' }, lastViewedAt: new Date(T + 120_000).toISOString(), views: 2 },
        { product: { id: 'p2' }, lastViewedAt: new Date(T + 60_000).toISOString(), views: 1 },
      ],
    });
    expect((await gql(HISTORY, { id: 'alice' }, { kind: 'authenticated', subject: 'bob', role: 'user' })).errors?.[0]?.extensions?.['code']).toBe('FORBIDDEN');
  });

  it('shows a view as soon as trackEvent answered, before the aggregation applied it (no worker runs here), and once', async () => {
    const stateBefore = await database.db.collection('user_state').findOne({ _id: 'alice' as never });
    const view = (eventId: string, productId: string) => gql(TRACK, { input: { eventId, userId: 'alice', productId, type: 'VIEW' } }, alice);
    expect((await view('fresh-1', 'p9')).data?.['trackEvent']).toEqual({ eventId: 'fresh-1', duplicate: false });
    // sent twice: one view, not two
    await view('fresh-1', 'p9');
    await view('fresh-2', 'p2');
    const result = await gql(HISTORY, { id: 'alice' }, alice);
    expect(result.data?.['user'].browsingHistory.map((e: { product: { id: string }; views: number }) => [e.product.id, e.views])).toEqual([
      ['p2', 2],
      ['p9', 1],
      ['p3', 1],
      ['p1', 2],
    ]);
    // the stored state is untouched: the aggregator alone writes it
    expect(await database.db.collection('user_state').findOne({ _id: 'alice' as never })).toEqual(stateBefore);
  });

  it('removes one product and clears the whole history, durably, through the aggregation pipeline', async () => {
    const removed = await gql(`mutation { removeFromHistory(userId: "alice", productId: "p1") { browsingHistory { product { id } } } }`, {}, alice);
    expect(removed.data?.['removeFromHistory'].browsingHistory.map((e: { product: { id: string } }) => e.product.id)).toEqual(['p3', 'p2']);
    const cleared = await gql(`mutation { clearHistory(userId: "alice") { browsingHistory { product { id } } } }`, {}, alice);
    expect(cleared.data?.['clearHistory'].browsingHistory).toEqual([]);
    // both are stored like events and queued for the aggregator, which owns the user's state
    const stored = await database.db.collection('events').find({ userId: 'alice' }).toArray();
    expect(stored.map((e) => [e['type'], e['productId']]).sort()).toEqual([
      ['CLEAR_HISTORY', '*'],
      ['HIDE_PRODUCT', 'p1'],
    ]);
    const queued = (await queue.getJobs(['waiting'])).flatMap((job) => job.data.events.map((e) => e.type));
    expect(queued.sort()).toEqual(['CLEAR_HISTORY', 'HIDE_PRODUCT']);
  });
});
