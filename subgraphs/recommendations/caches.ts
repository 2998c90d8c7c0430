import type { EngineConfig } from '@recs/engine';
import { CatalogReader, instrumentRedis, redisErrorListener, type Logger, type RedisClient, type RedisNames, type Registry } from '@recs/shared';
import type { Db } from 'mongodb';
import { BestSellersCache } from './bestSellersCache.ts';
import { ListCache } from './listCache.ts';

/** The subgraph's hot lists, best sellers and catalog rows in memory, and the connection that hears their changes. */
export interface FollowedCaches {
  readonly lists: ListCache;
  readonly bestSellers: BestSellersCache;
  readonly catalog: CatalogReader;
  close(): Promise<void>;
}

/**
 * The caches a recommendations replica serves from, following the workers' change messages on a
 * Redis connection of their own (a duplicate of `redis`): lists and the default window's best
 * sellers are dropped (or replaced) as the changes are announced, the catalog's rows (the
 * product fields the subgraph provides) on every catalog change.
 */
export async function followChanges(
  db: Db,
  redis: RedisClient,
  names: RedisNames,
  logger: Logger,
  engine: EngineConfig,
  registry?: Registry,
): Promise<FollowedCaches> {
  const lists = new ListCache();
  const catalog = new CatalogReader(db);
  const bestSellers = new BestSellersCache({ announcedWindowDays: engine.defaultWindowDays });
  const subscriber = redis.duplicate();
  subscriber.on('error', redisErrorListener(logger, 'change subscriber'));
  if (registry !== undefined) instrumentRedis(subscriber, registry);
  await subscriber.connect();
  await lists.follow(subscriber, names, logger);
  await bestSellers.follow(subscriber, names, logger);
  await catalog.follow(subscriber, names);
  return { lists, bestSellers, catalog, close: () => subscriber.close() };
}
