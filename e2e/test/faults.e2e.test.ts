import { ClickstreamSimulator } from '@recs/devkit';
import { COLLECTIONS, rawEventKey, type RawEventDoc } from '@recs/shared';
import { compareAggregates, dumpAggregator, readStoredAggregates, recomputeAggregates } from '@recs/workers';
import { DEFAULT_ENGINE_CONFIG } from '@recs/engine';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OwnServers, WorkerProcess } from '../src/processes.ts';
import { startSystem, type System } from '../src/system.ts';

const PRODUCTS = Array.from({ length: 20 }, (_, i) => ({ id: `p${i}`, name: `Product ${i}`, categoryId: `c${i % 3}`, price: 1 + i }));
const servers = new OwnServers();
let system: System;
let storefront: string;
let sent = 0;
const simulator = new ClickstreamSimulator({ seed: 99, users: 60, products: PRODUCTS });
const workers: WorkerProcess[] = [];

function worker(env: Record<string, string> = {}, entry?: ConstructorParameters<typeof WorkerProcess>[1]): WorkerProcess {
  const started = new WorkerProcess(
    {
      MONGO_URL: servers.mongoUrl,
      MONGO_DB: system.db.name,
      REDIS_URL: servers.redisUrl,
      QUEUE_PREFIX: system.prefix,
      LOG_LEVEL: 'debug',
      AGGREGATOR_LEASE_MS: '1500',
      AGGREGATOR_CONCURRENCY: '4',
      AGGREGATOR_MAX_BATCH: '300',
      JOB_LOCK_MS: '2000',
      ...env,
    },
    entry,
  );
  workers.push(started);
  return started;
}

/** Sends `batches` batches of simulated events through the gateway; returns how many were accepted. */
async function track(batches: number, size = 100): Promise<number> {
  let accepted = 0;
  for (let b = 0; b < batches; b++) {
    const events = [];
    while (events.length < size) events.push(...simulator.session());
    const batch = events.slice(0, size).map((event, i) => ({ ...event, eventId: `f-${sent}-${b}-${i}` }));
    const result = await system.query(`mutation ($e: [TrackEventInput!]!) { trackEvents(inputs: $e) { accepted } }`, { e: batch }, storefront);
    expect(result.errors).toBeUndefined();
    accepted += result.data?.['trackEvents'].accepted as number;
  }
  sent += batches;
  return accepted;
}

/**
 * Resolves once every stored batch is applied and written (the inbox is empty), checking again
 * after each of the worker's write-behind rounds.
 */
async function allApplied(worker: WorkerProcess): Promise<void> {
  const inbox = system.db.db.collection(COLLECTIONS.inbox);
  for (;;) {
    const round = worker.nextLog(/"msg":"written behind"/);
    if ((await inbox.countDocuments()) === 0) return;
    await round;
  }
}

async function expectAggregatesToMatchRawEvents(): Promise<void> {
  const expected = dumpAggregator(await recomputeAggregates(system.db.db, system.catalog, DEFAULT_ENGINE_CONFIG));
  expect(compareAggregates(await readStoredAggregates(system.db.db), expected)).toEqual([]);
  // and each stored event was applied exactly once: the applied set is the raw events' keys, no
  // more and no fewer (every aggregate compared above is a function of the set of events applied)
  const raw = await system.db.db
    .collection<RawEventDoc>(COLLECTIONS.events)
    .find({}, { projection: { _id: 1, userId: 1 } })
    .toArray();
  const applied = await system.db.db
    .collection<{ _id: string }>(COLLECTIONS.applied)
    .find({}, { projection: { _id: 1 } })
    .toArray();
  expect(raw.length).toBeGreaterThan(0);
  expect(applied.map((doc) => doc._id).sort()).toEqual(raw.map(rawEventKey).sort());
}

beforeAll(async () => {
  await servers.start();
  system = await startSystem({ label: 'faults', mongoUrl: servers.mongoUrl, redisUrl: servers.redisUrl, workers: 'none' });
  storefront = await system.token('storefront', 'service');
  const admin = await system.token('ops', 'admin');
  const upsert = await system.query(`mutation ($p: [ProductInput!]!) { upsertProducts(products: $p) { created } }`, { p: PRODUCTS }, admin);
  expect(upsert.data).toEqual({ upsertProducts: { created: PRODUCTS.length } });
  await system.catalog.load();
});

afterAll(async () => {
  for (const w of workers) await w.stop().catch(() => undefined);
  await system?.stop();
  await servers.stop();
});

describe('faults', () => {
  it('(a) a worker killed in the middle of a commit is recovered from: nothing lost, nothing counted twice', async () => {
    expect(await track(12)).toBe(1_200);
    // an aggregation worker that kills itself in the middle of its third commit
    const crashing = worker({}, { script: 'workers/test/crashingWorker.ts', args: ['3'] });
    const { signal } = await crashing.exited;
    expect(signal).toBe('SIGKILL');
    // it died with its third plan written and half applied: plans past the last fully written one remain
    const state = await system.db.db.collection<{ appliedThrough: number }>(COLLECTIONS.aggregator).findOne({ _id: 'state' as never });
    expect(await system.db.db.collection(COLLECTIONS.plans).countDocuments({ seq: { $gt: state?.appliedThrough ?? 0 } })).toBeGreaterThan(0);

    const restarted = worker();
    await restarted.waitForLog(/finished a commit interrupted by a crash/);
    await allApplied(restarted);
    await expectAggregatesToMatchRawEvents();

    // and killed at an arbitrary moment of a busy stream
    expect(await track(10)).toBe(1_000);
    await restarted.waitForLog(/"msg":"flushed"/);
    await restarted.kill();
    await allApplied(worker());
    await expectAggregatesToMatchRawEvents();
  });

  it('(b) Redis restarted without its data while jobs wait: the stored batches are queued again, no event is lost', async () => {
    for (const w of workers) await w.stop();
    expect(await track(5)).toBe(500);
    expect(await system.db.db.collection(COLLECTIONS.inbox).countDocuments()).toBe(5);
    await servers.killRedis();
    await servers.startRedis({ fresh: true });
    await allApplied(worker({ SWEEP_INTERVAL_MS: '300', INBOX_GRACE_MS: '0' }));
    await expectAggregatesToMatchRawEvents();
  });

  it('(c) MongoDB unreachable during trackEvents: a coded error, nothing written, and service resumes when it returns', async () => {
    const batch = [
      { eventId: 'outage-1', userId: 'u-outage', productId: 'p1', type: 'PURCHASE' },
      { eventId: 'outage-2', userId: 'u-outage', productId: 'p2', type: 'VIEW' },
    ];
    await servers.killMongo();
    const refused = await system.query(`mutation ($e: [TrackEventInput!]!) { trackEvents(inputs: $e) { accepted } }`, { e: batch }, storefront);
    expect(refused.errors?.[0]?.extensions).toMatchObject({ code: 'SERVICE_UNAVAILABLE', retryable: true });

    await servers.startMongo();
    const retried = await system.query(`mutation ($e: [TrackEventInput!]!) { trackEvents(inputs: $e) { accepted duplicates } }`, { e: batch }, storefront);
    // the first attempt wrote nothing, so these are new, not duplicates
    expect(retried.data).toEqual({ trackEvents: { accepted: 2, duplicates: 0 } });
    await allApplied(workers.at(-1)!);
    await expectAggregatesToMatchRawEvents();
  });
});
