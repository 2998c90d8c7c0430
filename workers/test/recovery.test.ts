import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testDatabase, type TestDatabase } from '@recs/devkit';
import { Aggregator, DEFAULT_ENGINE_CONFIG, MemoryCatalog } from '@recs/engine';
import { COLLECTIONS } from '@recs/shared';
import { MongoAggregateStore } from '../src/mongoStore.ts';
import { planChunks } from '../src/store/planLog.ts';
import { planOps } from '../src/store/planOps.ts';
import { compareAggregates, dumpAggregator, readStoredAggregates } from '../src/verify.ts';
import { CapturingStore, event } from './helpers.ts';

let database: TestDatabase;

beforeAll(async () => {
  database = await testDatabase('recovery');
});

afterAll(async () => {
  await database.drop();
});

async function stageCrash(partial: boolean) {
  const db = database.db;
  for (const name of Object.values(COLLECTIONS)) await db.collection(name).deleteMany({});
  const capture = new CapturingStore();
  const catalog = new MemoryCatalog([
    ['mug', { categoryId: 'kitchen', inStock: true }],
    ['teapot', { categoryId: 'kitchen', inStock: true }],
  ]);
  const memory = new Aggregator(capture, catalog, DEFAULT_ENGINE_CONFIG);
  await memory.start();
  const events = ['u1', 'u2', 'u3'].flatMap((u) => [event(u, 'mug', 'PURCHASE', 5), event(u, 'teapot', 'VIEW', 4)]);
  await memory.apply(events, Date.now());
  const changes = capture.last!;
  // a crash after inserting some or all of plan 1, before write-behind finished it
  const chunks = planChunks(1, planOps(changes), changes.eventIds);
  await db.collection(COLLECTIONS.aggregator).insertOne({ _id: 'state' as never, appliedThrough: 0, at: new Date() });
  // a partial plan: the first of two chunks (the crash came before the second was inserted)
  const kept = partial ? [{ ...chunks[0]!, of: chunks.length + 1 }] : chunks;
  await db.collection(COLLECTIONS.plans).insertMany(kept as never[]);
  return { memory, changes };
}

describe('MongoAggregateStore.recover', () => {
  it('finishes a commit whose plan was written completely', async () => {
    const { memory, changes } = await stageCrash(false);
    const store = new MongoAggregateStore(database.db);
    expect(await store.recover()).toBe('reapplied');
    expect(compareAggregates(await readStoredAggregates(database.db), dumpAggregator(memory))).toEqual([]);
    // what recovery wrote loads back like what a commit writes (rankings included)
    const snapshot = await store.loadSnapshot();
    expect(snapshot.bestSellers.find((list) => list.categoryId === null && list.windowDays === 30)?.items).toEqual(memory.bestSellers(null, 30));
    expect(await store.appliedAmong(changes.eventIds)).toEqual(new Set(changes.eventIds));
    expect(await database.db.collection(COLLECTIONS.plans).countDocuments()).toBe(0);
    // the next commit proceeds from the recovered state
    expect(await database.db.collection(COLLECTIONS.aggregator).findOne({ _id: 'state' as never })).toMatchObject({ appliedThrough: 1 });
  });

  it('discards a commit whose plan was cut short, leaving the aggregates untouched', async () => {
    await stageCrash(true);
    expect(await new MongoAggregateStore(database.db).recover()).toBe('discarded');
    const stored = await readStoredAggregates(database.db);
    expect(stored.users).toEqual({});
    expect(stored.cooc).toEqual({});
    expect(await database.db.collection(COLLECTIONS.applied).countDocuments()).toBe(0);
  });
});

describe('MongoAggregateStore with holdCommits', () => {
  it('keeps a commit unfinished until its follow-ups release it, and recovery names the users of a commit never released', async () => {
    const db = database.db;
    for (const name of Object.values(COLLECTIONS)) await db.collection(name).deleteMany({});
    const capture = new CapturingStore();
    const memory = new Aggregator(capture, new MemoryCatalog([['mug', { categoryId: 'kitchen', inStock: true }]]), DEFAULT_ENGINE_CONFIG);
    await memory.start();
    const plansLeft = () => db.collection(COLLECTIONS.plans).countDocuments();

    const store = new MongoAggregateStore(db, { holdCommits: true, writeBehindMs: 60_000 });
    await store.recover();
    await memory.apply([event('u1', 'mug', 'VIEW', 3), event('u2', 'mug', 'VIEW', 2)], Date.now());
    await store.commit(capture.last!);
    const release = store.takeHolds();
    await store.writeBehind();
    // every document is written, yet the plan stays: its follow-ups are still running
    expect(store.backlog).toBe(0);
    expect(await plansLeft()).toBe(1);
    release();
    await store.writeBehind();
    expect(await plansLeft()).toBe(0);

    // a second commit whose follow-ups never finish: the process dies
    await memory.apply([event('u3', 'mug', 'VIEW', 1)], Date.now());
    await store.commit(capture.last!);
    store.takeHolds();
    await store.writeBehind();
    await store.close({ flush: false });
    expect(await plansLeft()).toBe(1);

    const next = new MongoAggregateStore(db);
    expect(await next.recover()).toBe('reapplied');
    expect(next.takeRecoveredUsers()).toEqual(['u3']);
    // said once
    expect(next.takeRecoveredUsers()).toEqual([]);
    expect(compareAggregates(await readStoredAggregates(db), dumpAggregator(memory))).toEqual([]);
  });
});
