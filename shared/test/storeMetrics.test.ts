import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  ensureFerretdb,
  ensureRedisServer,
  freePort,
  MetricsScrape,
  parseMetrics,
  startFerretdb,
  startRedis,
  testServices,
  uniqueName,
  type MongoServer,
  type RedisServer,
} from '@recs/devkit';
import { MongoClient } from 'mongodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../src/logger.ts';
import { createRegistry, type Registry } from '../src/metrics.ts';
import { connectMongo } from '../src/mongo.ts';
import { instrumentMongo } from '../src/mongoMetrics.ts';
import { connectRedis } from '../src/redis.ts';

const logger = createLogger('store-metrics-test', 'silent');
const dir = mkdtempSync(join(tmpdir(), 'recs-store-metrics-'));

const scrape = async (registry: Registry) => new MetricsScrape(parseMetrics(await registry.metrics()), 200, registry.contentType);

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('MongoDB client metrics', () => {
  it('reports the server up, failed commands by name and connection check-out waits', async () => {
    const registry = createRegistry('test', { defaultMetrics: false });
    const mongo = await connectMongo(testServices().mongoUrl, uniqueName('metrics'), logger, 'metrics-test', registry);
    try {
      await mongo.db.command({ ping: 1 });
      await expect(mongo.db.command({ noSuchCommandAnywhere: 1 })).rejects.toThrow();
      const metrics = await scrape(registry);
      expect(metrics.value('recs_mongodb_up', { service: 'test' })).toBe(1);
      expect(metrics.value('recs_mongodb_command_errors_total', { command: 'noSuchCommandAnywhere' })).toBe(1);
      expect(metrics.value('recs_mongodb_command_errors_total', { command: 'ping' })).toBeUndefined();
      expect(metrics.value('recs_mongodb_pool_wait_seconds_count')).toBeGreaterThanOrEqual(2);
      expect(metrics.value('recs_mongodb_reconnects_total')).toBe(0);
    } finally {
      await mongo.close();
    }
    // a closed client says nothing about the server
    expect((await scrape(registry)).value('recs_mongodb_up')).toBe(0);
  });

  describe('across a server restart', () => {
    let server: MongoServer;
    let port: number;
    const start = async () => {
      server = await startFerretdb({ binary: await ensureFerretdb(() => undefined), dir: join(dir, 'ferretdb'), port });
    };

    beforeAll(async () => {
      port = await freePort();
      await start();
    }, 120_000);

    afterAll(async () => {
      await server?.process.stop();
    });

    it('reports it down while it is, and one reconnect once it is back', async () => {
      const registry = createRegistry('test', { defaultMetrics: false });
      // heartbeats every 500 ms (the driver's least) instead of 10 s, so the test sees the outage soon
      const client = new MongoClient(`mongodb://127.0.0.1:${port}/`, { heartbeatFrequencyMS: 500, serverSelectionTimeoutMS: 2_000 });
      await client.connect();
      instrumentMongo(client, registry);
      try {
        const down = once(client, 'serverHeartbeatFailed');
        await server.process.kill();
        await down;
        let metrics = await scrape(registry);
        expect(metrics.value('recs_mongodb_up')).toBe(0);
        expect(metrics.value('recs_mongodb_reconnects_total')).toBe(0);

        const back = once(client, 'serverHeartbeatSucceeded');
        await start();
        await back;
        metrics = await scrape(registry);
        expect(metrics.value('recs_mongodb_up')).toBe(1);
        expect(metrics.value('recs_mongodb_reconnects_total')).toBe(1);
      } finally {
        await client.close();
      }
    }, 60_000);
  });
});

describe('Redis client metrics', () => {
  let server: RedisServer;
  let port: number;
  let runs = 0;
  const start = async () => {
    server = await startRedis({ binary: await ensureRedisServer(() => undefined), dir: join(dir, `redis-${runs++}`), port });
  };

  beforeAll(async () => {
    port = await freePort();
    await start();
  }, 60_000);

  afterAll(async () => {
    await server?.process.stop();
  });

  it('reports the server up, then down with errors while it is gone, then one reconnect', async () => {
    const registry = createRegistry('test', { defaultMetrics: false });
    const redis = await connectRedis(`redis://127.0.0.1:${port}`, logger, 'metrics-test', registry);
    try {
      let metrics = await scrape(registry);
      expect(metrics.value('recs_redis_up', { service: 'test' })).toBe(1);
      expect(metrics.value('recs_redis_errors_total')).toBe(0);
      expect(metrics.value('recs_redis_reconnects_total')).toBe(0);

      const lost = once(redis, 'error');
      await server.process.kill();
      await lost;
      metrics = await scrape(registry);
      expect(metrics.value('recs_redis_up')).toBe(0);
      expect(metrics.value('recs_redis_errors_total')).toBeGreaterThanOrEqual(1);

      // not events.once: the failed reconnect attempts meanwhile are 'error' events, which would reject it
      const ready = new Promise((resolve) => redis.once('ready', resolve));
      await start();
      await ready;
      metrics = await scrape(registry);
      expect(metrics.value('recs_redis_up')).toBe(1);
      expect(metrics.value('recs_redis_reconnects_total')).toBe(1);
    } finally {
      await redis.close();
    }
    expect((await scrape(registry)).value('recs_redis_up')).toBe(0);
  }, 60_000);
});
