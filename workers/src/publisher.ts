import { encodeChange, type LiveFieldName, type LiveMessage, type RedisClient, type RedisNames } from '@recs/shared';

/**
 * Announces changes on Redis pub/sub; every gateway replica relays them to its subscribers. The
 * channel and the message's shape come from the live field's entry in LIVE_FIELDS: a
 * recommendation list changed (`recommendationsChanged`, at this version or later), a 30-day
 * best-sellers ranking changed (`bestSellersChanged`, at this time).
 */
export class Publisher {
  private readonly redis: RedisClient;
  private readonly names: RedisNames;

  constructor(redis: RedisClient, names: RedisNames) {
    this.redis = redis;
    this.names = names;
  }

  async publish<F extends LiveFieldName>(field: F, message: LiveMessage<F>): Promise<void> {
    const { channel, text } = encodeChange(this.names, field, message);
    await this.redis.publish(channel, text);
  }
}
