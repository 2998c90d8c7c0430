import { randomUUID } from 'node:crypto';
import type { Queue } from 'bullmq';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { postGraphQL, TEST_JWT_SECRET, testDatabase, testServices, uniqueName, type TestDatabase } from '@recs/devkit';
import { eventKey, type TrackedEvent } from '@recs/engine';
import {
  closeServer,
  connectRedis,
  createLogger,
  eventsQueue,
  IDENTITY_HEADER,
  signInternalIdentity,
  type EventsJob,
  type Identity,
  type RedisClient,
  listen,
} from '@recs/shared';
import { Ingestor } from '../ingest.ts';
import { createEventsServer, type EventsServer } from '../server.ts';
import { EventStore } from '../store.ts';

const logger = createLogger('ingest-test', 'silent');
const service: Identity = { kind: 'authenticated', subject: 'storefront', role: 'service' };
const alice: Identity = { kind: 'authenticated', subject: 'alice', role: 'user' };
const TRACK = `mutation ($input: TrackEventInput!) { trackEvent(input: $input) { eventId duplicate } }`;
const TRACK_MANY = `mutation ($inputs: [TrackEventInput!]!) { trackEvents(inputs: $inputs) { accepted duplicates rejected { index code message } } }`;

let database: TestDatabase;
let redis: RedisClient;
let queue: Queue<EventsJob>;
let server: EventsServer;
let url: string;

async function gql(query: string, variables: Record<string, unknown>, identity: Identity) {
  return postGraphQL(url, query, variables, { [IDENTITY_HEADER]: await signInternalIdentity(identity, TEST_JWT_SECRET, query) });
}

async function queuedEvents() {
  return (await queue.getJobs(['waiting'])).flatMap((job) => job.data.events);
}

beforeAll(async () => {
  database = await testDatabase('ingest');
  redis = await connectRedis(testServices().redisUrl, logger, 'ingest-test');
  queue = eventsQueue(redis, uniqueName('q'));
  const store = new EventStore(database.db);
  server = await createEventsServer({ store, ingestor: new Ingestor({ store, queue, logger }), jwtSecret: TEST_JWT_SECRET, logger, production: true });
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
  for (const name of ['events', 'event_inbox']) await database.db.collection(name).deleteMany({});
  await queue.obliterate({ force: true });
});

describe('metadata', () => {
  it('refuses each key or shape MongoDB-wire servers cannot store, with its index; the rest of the batch is stored and queued', async () => {
    const event = (i: number, metadata: unknown) => ({ eventId: `m${i}`, userId: 'u1', productId: 'p1', type: 'VIEW', metadata });
    const inputs = [
      event(0, { page: '/p1' }),
      event(1, { 'a.b': 1 }),
      event(2, { $where: 'sleep(1)' }),
      event(3, { ['nul\u0000key']: 1 }),
      event(4, { a: [[1]] }),
      event(5, { tags: ['x', { nested: [1, 2] }], a$b: true }),
      event(6, { deep: { $gt: 1 } }),
    ];
    const result = await gql(TRACK_MANY, { inputs }, service);
    expect(result.errors).toBeUndefined();
    const payload = result.data?.['trackEvents'];
    expect(payload).toMatchObject({ accepted: 2, duplicates: 0 });
    expect(payload.rejected.map((r: { index: number; code: string }) => [r.index, r.code])).toEqual([1, 2, 3, 4, 6].map((i) => [i, 'INVALID_METADATA']));
    expect(payload.rejected[0].message).toBe(`metadata key "a.b" must not contain '.' or control characters, nor start with '$'`);
    expect(payload.rejected[3].message).toBe('metadata.a[0] is an array inside an array; arrays inside arrays cannot be stored');

    // nothing is written for the refused ones: not the raw event, not the inbox entry, not the job
    const stored = await database.db.collection('events').find().sort({ _id: 1 }).toArray();
    expect(stored.map((doc) => doc['_id'])).toEqual([eventKey('u1', 'm0'), eventKey('u1', 'm5')]);
    expect(stored[1]!['metadata']).toEqual(inputs[5]!.metadata);
    const inbox = await database.db.collection('event_inbox').find().toArray();
    expect(inbox.map((entry) => entry['ids'])).toEqual([[eventKey('u1', 'm0'), eventKey('u1', 'm5')]]);
    expect((await queuedEvents()).map((e) => e.eventId)).toEqual(['m0', 'm5']);
  });
});

describe('a store failure after the inbox entry', () => {
  it('reports the events MongoDB refused as not stored, and lists only the stored ones for the workers', async () => {
    const store = new EventStore(database.db);
    const at = Date.now();
    const event = (eventId: string, metadata?: Record<string, unknown>): TrackedEvent => ({
      eventId,
      userId: 'u1',
      productId: 'p1',
      type: 'PURCHASE',
      occurredAt: at,
      receivedAt: at,
      quantity: 1,
      ...(metadata === undefined ? {} : { metadata }),
    });
    await store.storeBatch(randomUUID(), [event('s0')], new Date(at));
    // a document the server refuses (validation keeps such metadata out; this is what any
    // refusal it did not foresee looks like): a real write error of the MongoDB-wire server
    const batchId = randomUUID();
    const result = await store.storeBatch(batchId, [event('s0'), event('s1'), event('s2', { 'a.b': 1 }), event('s3')], new Date(at));
    expect([...result.inserted]).toEqual([eventKey('u1', 's1'), eventKey('u1', 's3')]);
    expect([...result.duplicates]).toEqual([eventKey('u1', 's0')]);
    expect([...result.refused.keys()]).toEqual([eventKey('u1', 's2')]);

    // what the workers (and the inbox sweeper) will apply for this batch is exactly what was reported inserted
    const entry = await database.db.collection('event_inbox').findOne({ _id: batchId as never });
    expect(entry?.['ids']).toEqual([eventKey('u1', 's1'), eventKey('u1', 's3')]);
    const stored = await database.db
      .collection('events')
      .find({ _id: { $in: entry?.['ids'] } })
      .toArray();
    expect(stored.map((doc) => doc['_id']).sort()).toEqual([eventKey('u1', 's1'), eventKey('u1', 's3')]);
    expect(await database.db.collection('events').countDocuments({ _id: eventKey('u1', 's2') as never })).toBe(0);
  });
});

describe('event ids are per user', () => {
  it('keeps the same client eventId of two users as two events, and the same (user, eventId) twice as one', async () => {
    const order = { eventId: 'order-2026-0001', productId: 'p9', type: 'PURCHASE' };
    expect((await gql(TRACK, { input: { ...order, userId: 'alice', type: 'VIEW' } }, alice)).data).toEqual({
      trackEvent: { eventId: 'order-2026-0001', duplicate: false },
    });
    expect((await gql(TRACK, { input: { ...order, userId: 'bob' } }, service)).data).toEqual({ trackEvent: { eventId: 'order-2026-0001', duplicate: false } });
    expect((await gql(TRACK, { input: { ...order, userId: 'bob' } }, service)).data).toEqual({ trackEvent: { eventId: 'order-2026-0001', duplicate: true } });
    expect((await gql(TRACK, { input: { ...order, userId: 'alice', type: 'VIEW' } }, alice)).data).toEqual({
      trackEvent: { eventId: 'order-2026-0001', duplicate: true },
    });

    const stored = await database.db.collection('events').find().sort({ _id: 1 }).toArray();
    expect(stored.map((doc) => [doc['userId'], doc['type']])).toEqual([
      ['alice', 'VIEW'],
      ['bob', 'PURCHASE'],
    ]);
    expect((await queuedEvents()).map((e) => [e.userId, e.eventId, e.type]).sort()).toEqual([
      ['alice', 'order-2026-0001', 'VIEW'],
      ['bob', 'order-2026-0001', 'PURCHASE'],
    ]);
  });

  it('counts a repeat within one batch per user too', async () => {
    const inputs = ['u1', 'u2', 'u1'].map((userId) => ({ eventId: 'same', userId, productId: 'p1', type: 'VIEW' }));
    expect((await gql(TRACK_MANY, { inputs }, service)).data).toEqual({ trackEvents: { accepted: 2, duplicates: 1, rejected: [] } });
  });
});

describe('group commit', () => {
  it('stores concurrent small calls as one batch (one inbox entry, one job), each told its own outcome, a repeat across calls a duplicate', async () => {
    const calls = Array.from({ length: 12 }, (_, i) => ({ eventId: `g-${i}`, userId: `shopper${i}`, productId: 'p1', type: 'VIEW' }));
    // the same event as call 0, sent at the same moment (a client retrying at once)
    const results = await Promise.all([...calls, calls[0]!].map((input) => gql(TRACK, { input }, service)));
    const answers = results.map((result) => result.data?.['trackEvent'] as { eventId: string; duplicate: boolean });
    expect(answers.map((a) => a.eventId)).toEqual([...calls.map((c) => c.eventId), 'g-0']);
    expect(answers.filter((a) => a.duplicate)).toHaveLength(1);
    expect(await database.db.collection('events').countDocuments()).toBe(12);
    const inbox = await database.db.collection<{ ids: string[] }>('event_inbox').find().toArray();
    // fewer entries than calls: calls that arrived together share one
    expect(inbox.length).toBeLessThan(12);
    const listed = inbox.flatMap((entry) => entry.ids).sort();
    expect(listed).toEqual(calls.map((c) => eventKey(c.userId, c.eventId)).sort());
    const jobs = await queue.getJobs(['waiting']);
    expect(jobs.length).toBe(inbox.length);
    expect((await queuedEvents()).map((e) => e.eventId).sort()).toEqual(calls.map((c) => c.eventId).sort());
  });

  it('stores a call whose documents the driver refuses apart from the others of its group, so only that call fails', async () => {
    // the driver refusing a document before sending anything (validation keeps such documents
    // out; this stands for one it did not foresee)
    const attempts: number[] = [];
    class RefusingStore extends EventStore {
      override async storeBatch(batchId: string, events: readonly TrackedEvent[], now: Date) {
        attempts.push(events.length);
        if (events.some((event) => event.eventId === 'poison')) throw new Error('document refused by the driver');
        return super.storeBatch(batchId, events, now);
      }
    }
    const ingestor = new Ingestor({ store: new RefusingStore(database.db), queue, logger });
    const input = (eventId: string, userId: string) => ({ eventId, userId, productId: 'p1', type: 'VIEW' as const });
    const good = ['b0', 'b1', 'b2', 'b3'].map((userId, i) => input(`ok-${i}`, userId));
    const outcomes = await Promise.allSettled([...good, input('poison', 'b9')].map((event) => ingestor.track([event], service)));
    expect(outcomes.map((o) => o.status)).toEqual(['fulfilled', 'fulfilled', 'fulfilled', 'fulfilled', 'rejected']);
    // the five calls were tried as one group first, then one by one
    expect(attempts).toEqual([5, 1, 1, 1, 1, 1]);
    for (const outcome of outcomes.slice(0, 4)) expect(outcome.status === 'fulfilled' && outcome.value.accepted.length).toBe(1);
    expect(await database.db.collection('events').countDocuments()).toBe(4);
    const listed = (await database.db.collection<{ ids: string[] }>('event_inbox').find().toArray()).flatMap((entry) => entry.ids);
    expect(listed.sort()).toEqual(good.map((g) => eventKey(g.userId, g.eventId)).sort());
    expect((await queuedEvents()).map((e) => e.eventId).sort()).toEqual(good.map((g) => g.eventId).sort());
  });
});

describe('ordering within a batch', () => {
  it('gives events sent without occurredAt increasing times in the order sent, the last at the time received', async () => {
    const inputs = Array.from({ length: 6 }, (_, i) => ({ eventId: `o${i}`, userId: 'u1', productId: `p${i}`, type: 'VIEW' }));
    await gql(TRACK_MANY, { inputs }, service);
    const events = await queuedEvents();
    expect(events.map((e) => e.eventId)).toEqual(inputs.map((e) => e.eventId));
    const times = events.map((e) => e.occurredAt);
    for (let i = 1; i < times.length; i++) expect(times[i]).toBe(times[i - 1]! + 1);
    expect(times.at(-1)).toBe(events[0]!.receivedAt);
  });
});
