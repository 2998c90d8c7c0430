import type { RedisClient, RedisNames } from '@recs/shared';

/** A recommendation list changed: subscribers re-read it (through the gateway) at this version or later. */
export interface RecommendationsMessage {
  readonly userId: string;
  readonly version: number;
}

/** A best-sellers ranking changed (30-day window). */
export interface BestSellersMessage {
  readonly categoryId: string | null;
  readonly changedAt: number;
}

/** Every message also says when it was published (epoch ms), so relays can report their lag. */
const stamped = (message: object) => JSON.stringify({ ...message, at: Date.now() });

/** Announces changes on Redis pub/sub; every gateway replica relays them to its subscribers. */
export class Publisher {
  private readonly redis: RedisClient;
  private readonly names: RedisNames;

  constructor(redis: RedisClient, names: RedisNames) {
    this.redis = redis;
    this.names = names;
  }

  async recommendationsChanged(message: RecommendationsMessage): Promise<void> {
    await this.redis.publish(this.names.recommendationsChannel(message.userId), stamped(message));
  }

  async bestSellersChanged(message: BestSellersMessage): Promise<void> {
    await this.redis.publish(this.names.bestSellersChannel(message.categoryId), stamped(message));
  }
}
