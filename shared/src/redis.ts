import type { Registry } from 'prom-client';
import { createClient, type RedisClientType } from 'redis';
import { isUnavailable } from './errors.ts';
import type { Logger } from './logger.ts';
import { instrumentRedis } from './redisMetrics.ts';

export type RedisClient = RedisClientType;

/**
 * The 'error' listener every BullMQ Queue, Worker and QueueEvents needs. Without one, an error
 * event throws: BullMQ catches it and prints the error with its stack, and a node-redis client
 * without one takes the process down (SocketClosedUnexpectedlyError). While Redis is away each of
 * their connections reports every reconnection attempt; the outage is logged once by the client
 * connectRedis made, so here an unreachable Redis is only a debug line, and any other error a
 * warning.
 */
export function redisErrorListener(logger: Logger, what: string): (error: Error) => void {
  return (error) => {
    if (isUnavailable(error)) logger.debug({ err: error.message, what }, 'Redis unreachable');
    else logger.warn({ err: error.message, what }, `${what}: Redis error`);
  };
}

/**
 * A node-redis client that reconnects with capped backoff for as long as the process lives
 * (Redis restarts are expected), logging each state change once; with the process's registry,
 * counted in its recs_redis_* metrics (see instrumentRedis).
 */
export async function connectRedis(url: string, logger: Logger, name: string, metrics?: Registry): Promise<RedisClient> {
  const client: RedisClient = createClient({
    url,
    name,
    socket: { reconnectStrategy: (retries: number) => Math.min(50 * 2 ** retries, 2_000), connectTimeout: 5_000 },
  });
  // every BullMQ queue and worker sharing this client adds its own 'ready' and 'error' listeners
  // (a worker process holds a dozen): a fixed number per process, not a leak
  client.setMaxListeners(64);
  let down = false;
  client.on('error', (error: Error) => {
    if (!down) logger.warn({ err: error.message, client: name }, 'Redis connection lost; reconnecting');
    down = true;
  });
  client.on('ready', () => {
    if (down) logger.info({ client: name }, 'Redis connection restored');
    down = false;
  });
  if (metrics !== undefined) instrumentRedis(client, metrics);
  await client.connect();
  return client;
}

/**
 * Names in Redis. Queue names carry a hash tag so each queue's keys share one Redis Cluster slot
 * (BullMQ's Lua scripts need that) while different queues spread over the cluster. Channels are
 * plain pub/sub, which Redis Cluster broadcasts to every node.
 */
export class RedisNames {
  readonly prefix: string;

  constructor(prefix: string) {
    this.prefix = prefix;
  }

  static readonly queues = {
    /** Accepted events to apply to the aggregates, one job per ingestion batch. */
    events: '{events}',
    /** Recommendation lists to recompute, deduplicated per user. */
    lists: '{lists}',
    /** Scheduled upkeep: slide windows, decay, sweep, prune. */
    maintenance: '{maintenance}',
    /** Training the ranking model (daily, or on demand): long jobs, kept off the maintenance queue. */
    training: '{training}',
  } as const;

  /** The channel of one live stream (see liveFields.ts: each field names its topic and segment). */
  liveChannel(topic: string, segment: string): string {
    return `${this.prefix}:live:${topic}:${segment}`;
  }

  /** Catalog edits, so caches of it elsewhere refresh. */
  catalogChannel(): string {
    return `${this.prefix}:live:catalog`;
  }

  /** A ranking model was promoted (or withdrawn), so list workers load the one serving now. */
  modelChannel(): string {
    return `${this.prefix}:live:ranker-model`;
  }
}
