import type { EngineConfig } from '@recs/engine';
import { instrumentRedis, redisErrorListener, type Logger, type RedisClient, type RedisNames, type Registry } from '@recs/shared';
import { BestSellersCache } from './bestSellersCache.ts';
import { ListCache } from './listCache.ts';

/** The subgraph's hot lists and best sellers in memory, and the connection that hears their changes. */
export interface FollowedCaches {
  readonly lists: ListCache;
  readonly bestSellers: BestSellersCache;
  close(): Promise<void>;
}

/**
 * The caches a recommendations replica serves from, following the workers' change messages on a
 * Redis connection of their own (a duplicate of `redis`): lists and the default window's best
 * sellers are dropped (or replaced) as the changes are announced.
 */
export async function followChanges(redis: RedisClient, names: RedisNames, logger: Logger, engine: EngineConfig, registry?: Registry): Promise<FollowedCaches> {
  const lists = new ListCache();
  const bestSellers = new BestSellersCache({ announcedWindowDays: engine.defaultWindowDays });
  const subscriber = redis.duplicate();
  subscriber.on('error', redisErrorListener(logger, 'change subscriber'));
  if (registry !== undefined) instrumentRedis(subscriber, registry);
  await subscriber.connect();
  await lists.follow(subscriber, names, logger);
  await bestSellers.follow(subscriber, names, logger);
  return { lists, bestSellers, close: () => subscriber.close() };
}
