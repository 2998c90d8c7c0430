import { once } from 'node:events';
import type { Server } from 'node:http';
import { QueueEvents, type Queue } from 'bullmq';
import { MongoClient } from 'mongodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deferred, freePort, testDatabase, testServices, uniqueName, type TestDatabase } from '@recs/devkit';
import { DEFAULT_ENGINE_CONFIG } from '@recs/engine';
import {
  closeServer,
  COLLECTIONS,
  connectRedis,
  createLogger,
  eventsQueue,
  listen,
  listsQueue,
  liveChannel,
  maintenanceQueue,
  RedisNames,
  storesReady,
  type EventsJob,
  type ListsJob,
  type RedisClient,
} from '@recs/shared';
import { AggregatorService } from '../src/aggregate/service.ts';
import { CatalogCache } from '../src/catalog.ts';
import { createWorkersHttpServer } from '../src/http.ts';
import { ListService } from '../src/lists/service.ts';
import { ListStore } from '../src/lists/store.ts';
import { WorkersMetrics } from '../src/metrics.ts';
import { Publisher } from '../src/publisher.ts';
import { event, ingest, insertCatalog } from './helpers.ts';

const logger = createLogger('workers-metrics-test', process.env['TEST_LOG_LEVEL'] ?? 'silent');
const engine = DEFAULT_ENGINE_CONFIG;

let database: TestDatabase;
let redis: RedisClient;
let subscriber: RedisClient;
let names: RedisNames;
let prefix: string;
let events: Queue<EventsJob>;
let lists: Queue<ListsJob>;
let maintenance: Queue;
let queueEvents: QueueEvents;
let catalog: CatalogCache;
let metrics: WorkersMetrics;
let aggregation: AggregatorService;
let listService: ListService;
let http: Server;
let base: string;

interface Sample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

/** The samples of a Prometheus text exposition (comments skipped). */
function parseExposition(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (match === null) continue;
    const labels = Object.fromEntries([...(match[2] ?? '').matchAll(/([a-zA-Z_]\w*)="((?:[^"\\]|\\.)*)"/g)].map(([, k, v]) => [k!, v!]));
    samples.push({ name: match[1]!, labels, value: Number(match[3]) });
  }
  return samples;
}

async function scrape(): Promise<Sample[]> {
  const response = await fetch(`${base}/metrics`);
  expect(response.status).toBe(200);
  expect(response.headers.get('content-type')).toContain('text/plain');
  return parseExposition(await response.text());
}

/** The one sample of `name` whose labels include `labels`. */
function sample(samples: readonly Sample[], name: string, labels: Record<string, string> = {}): number | undefined {
  const found = samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
  expect(found.length, `${name} ${JSON.stringify(labels)}`).toBeLessThanOrEqual(1);
  return found[0]?.value;
}

beforeAll(async () => {
  database = await testDatabase('workers-metrics');
  redis = await connectRedis(testServices().redisUrl, logger, 'workers-metrics-test');
  subscriber = redis.duplicate();
  await subscriber.connect();
  prefix = uniqueName('q');
  names = new RedisNames(prefix);
  events = eventsQueue(redis, prefix);
  lists = listsQueue(redis, prefix);
  maintenance = maintenanceQueue(redis, prefix);
  queueEvents = new QueueEvents(RedisNames.queues.events, { connection: redis.duplicate() as never, prefix });
  await queueEvents.waitUntilReady();
  await insertCatalog(database.db, [
    { id: 'mug', categoryId: 'kitchen' },
    { id: 'teapot', categoryId: 'kitchen' },
    { id: 'candle', categoryId: 'home' },
  ]);
  catalog = new CatalogCache(database.db, logger);
  await catalog.load();
  metrics = new WorkersMetrics();
  metrics.watchQueues({ events, lists, maintenance });
  metrics.watchInbox(database.db);
  const publisher = new Publisher(redis, names, metrics);
  aggregation = new AggregatorService({ db: database.db, redis, prefix, catalog, engine, lists, publisher, logger, metrics, leaseMs: 1_500 });
  const leading = once(aggregation, 'leading');
  await aggregation.start();
  await leading;
  listService = new ListService({ store: new ListStore(database.db), catalog, engine, publisher, logger, metrics, local: () => aggregation.aggregator });
  listService.start(redis, prefix, 4);
  http = createWorkersHttpServer({
    registry: metrics.registry,
    ready: storesReady({ mongo: { client: database.client, db: database.db, close: async () => undefined }, redis }),
  });
  base = `http://127.0.0.1:${await listen(http, 0)}`;
});

afterAll(async () => {
  await closeServer(http);
  await listService.stop();
  await aggregation.stop();
  await queueEvents.close();
  for (const queue of [events, lists, maintenance]) {
    await queue.obliterate({ force: true });
    await queue.close();
  }
  await subscriber.close();
  await redis.close();
  await database.drop();
});

describe('the workers’ metrics port', () => {
  it('answers /health and /ready, and /ready 503 with a Redis client that is not connected', async () => {
    expect((await fetch(`${base}/health`)).status).toBe(200);
    expect((await fetch(`${base}/ready`)).status).toBe(200);
    expect((await fetch(`${base}/nowhere`)).status).toBe(404);

    const offline = redis.duplicate();
    const unready = createWorkersHttpServer({
      registry: metrics.registry,
      ready: storesReady({ mongo: { client: database.client, db: database.db, close: async () => undefined }, redis: offline }),
    });
    const port = await listen(unready, 0);
    try {
      expect((await fetch(`http://127.0.0.1:${port}/ready`)).status).toBe(503);
      expect((await fetch(`http://127.0.0.1:${port}/health`)).status).toBe(200);
    } finally {
      await closeServer(unready);
    }
  });

  it('shows queues, flushes, leadership, lists and freshness after real events are applied and lists recomputed', async () => {
    const started = Date.now();
    // others buy mug and teapot together, so the shopper's purchase of a mug changes their list
    await (
      await ingest(
        database.db,
        events,
        ['x1', 'x2'].flatMap((u) => [event(u, 'mug', 'PURCHASE'), event(u, 'teapot', 'PURCHASE')]),
      )
    ).waitUntilFinished(queueEvents);
    const announced = deferred<{ acceptedAt?: number; at: number }>();
    const channel = liveChannel(names, 'recommendationsChanged', { userId: 'shopper' });
    await subscriber.subscribe(channel, (text) => announced.resolve(JSON.parse(text) as { acceptedAt?: number; at: number }));
    const purchase = event('shopper', 'mug', 'PURCHASE', 0);
    await ingest(database.db, events, [purchase]);
    const message = await announced.promise;
    await subscriber.unsubscribe(channel);
    expect(message.acceptedAt).toBe(purchase.receivedAt);
    expect(message.at).toBeGreaterThanOrEqual(purchase.receivedAt);
    await aggregation.settled();

    const samples = await scrape();
    for (const queue of ['events', 'lists', 'maintenance']) {
      for (const state of ['waiting', 'active', 'delayed', 'failed']) {
        expect(sample(samples, 'recs_queue_jobs', { queue, state }), `${queue} ${state}`).toBeGreaterThanOrEqual(0);
      }
    }
    expect(sample(samples, 'recs_queue_jobs', { queue: 'events', state: 'failed' })).toBe(0);
    expect(sample(samples, 'recs_job_duration_seconds_count', { queue: 'events' })).toBeGreaterThanOrEqual(2);
    expect(sample(samples, 'recs_job_duration_seconds_count', { queue: 'lists' })).toBeGreaterThanOrEqual(1);
    expect(sample(samples, 'recs_aggregation_leader', { service: 'workers' })).toBe(1);
    expect(sample(samples, 'recs_aggregation_leader_changes_total')).toBe(1);
    expect(sample(samples, 'recs_aggregation_flush_events_count')).toBeGreaterThanOrEqual(1);
    expect(sample(samples, 'recs_aggregation_flush_events_sum')).toBeGreaterThanOrEqual(5);
    expect(sample(samples, 'recs_aggregation_flush_seconds_count', { stage: 'total' })).toBeGreaterThanOrEqual(1);
    expect(sample(samples, 'recs_aggregation_flush_seconds_count', { stage: 'commit' })).toBeGreaterThanOrEqual(1);
    expect(samples.filter((s) => s.name === 'recs_aggregation_flush_seconds_count').map((s) => s.labels['stage'])).not.toContain('commit.writes');
    expect(sample(samples, 'recs_lists_recomputed_total', { outcome: 'changed' })).toBeGreaterThanOrEqual(1);
    expect(sample(samples, 'recs_list_batch_size_count')).toBeGreaterThanOrEqual(1);
    expect(sample(samples, 'recs_list_batch_duration_seconds_count')).toBeGreaterThanOrEqual(1);
    // written behind: nothing waits, and the inbox is empty
    expect(sample(samples, 'recs_write_behind_backlog_documents')).toBe(0);
    expect(sample(samples, 'recs_aggregation_lag_seconds')).toBe(0);

    // the first lists of x1 and x2, then the shopper's changed list, each timed from its events' acceptance,
    // all of which happened within this test: every observation lies between 0 and the test's duration
    const elapsed = (Date.now() - started) / 1000;
    for (const field of ['recommendationsChanged', 'bestSellersChanged']) {
      const count = sample(samples, 'recs_freshness_published_seconds_count', { field })!;
      const sum = sample(samples, 'recs_freshness_published_seconds_sum', { field })!;
      expect(count, field).toBeGreaterThanOrEqual(field === 'recommendationsChanged' ? 3 : 1);
      expect(sum, field).toBeGreaterThan(0);
      expect(sum, field).toBeLessThanOrEqual(count * elapsed);
      expect(sample(samples, 'recs_freshness_published_seconds_bucket', { field, le: '+Inf' })).toBe(count);
    }
  });

  it('reports the age of the oldest inbox entry not yet applied as the aggregation lag', async () => {
    // a batch stored but never queued (Redis was down): it waits for the sweeper
    await database.db.collection(COLLECTIONS.inbox).insertOne({ _id: 'stranded' as never, ids: [], at: new Date(Date.now() - 90_000) });
    try {
      const lag = sample(await scrape(), 'recs_aggregation_lag_seconds')!;
      expect(lag).toBeGreaterThanOrEqual(90);
      expect(lag).toBeLessThan(120);
    } finally {
      await database.db.collection(COLLECTIONS.inbox).deleteOne({ _id: 'stranded' as never });
    }
    expect(sample(await scrape(), 'recs_aggregation_lag_seconds')).toBe(0);
  });

  it('still answers /metrics promptly while MongoDB is unreachable, keeping the lag’s last value', async () => {
    const unreachable = new MongoClient(`mongodb://127.0.0.1:${await freePort()}/`, { serverSelectionTimeoutMS: 10_000 });
    const offline = new WorkersMetrics();
    offline.watchInbox(unreachable.db('nowhere'));
    const server = createWorkersHttpServer({ registry: offline.registry, ready: async () => false });
    const port = await listen(server, 0);
    try {
      const started = performance.now();
      const response = await fetch(`http://127.0.0.1:${port}/metrics`);
      expect(response.status).toBe(200);
      // well before the driver gives up on selecting a server
      expect(performance.now() - started).toBeLessThan(5_000);
      expect(sample(parseExposition(await response.text()), 'recs_aggregation_lag_seconds')).toBe(0);
    } finally {
      await closeServer(server);
      await unreachable.close();
    }
  });

  it('stops reporting leadership once the process stands by', async () => {
    const standby = once(aggregation, 'standby');
    await aggregation.stop();
    await standby;
    const samples = await scrape();
    expect(sample(samples, 'recs_aggregation_leader')).toBe(0);
    expect(sample(samples, 'recs_write_behind_backlog_documents')).toBe(0);
  });
});
