import { encodeChange, type LiveFieldName, type LiveMessage, type RedisClient, type RedisNames } from '@recs/shared';
import type { WorkersMetrics } from './metrics.ts';

/**
 * Announces changes on Redis pub/sub; every gateway replica relays them to its subscribers. The
 * channel and the message's shape come from the live field's entry in LIVE_FIELDS: a
 * recommendation list changed (`recommendationsChanged`, at this version or later), a 30-day
 * best-sellers ranking changed (`bestSellersChanged`, at this time). A message with `acceptedAt`
 * (events caused the change) is timed into recs_freshness_published_seconds once Redis took it.
 */
export class Publisher {
  private readonly redis: RedisClient;
  private readonly names: RedisNames;
  private readonly metrics: WorkersMetrics | undefined;

  constructor(redis: RedisClient, names: RedisNames, metrics?: WorkersMetrics) {
    this.redis = redis;
    this.names = names;
    this.metrics = metrics;
  }

  async publish<F extends LiveFieldName>(field: F, message: LiveMessage<F>): Promise<void> {
    const { channel, text } = encodeChange(this.names, field, message);
    await this.redis.publish(channel, text);
    if (message.acceptedAt !== undefined) this.metrics?.published(field, message.acceptedAt, Date.now());
  }
}
