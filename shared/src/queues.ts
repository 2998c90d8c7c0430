import { Queue, type ConnectionOptions, type JobsOptions, type WorkerOptions } from 'bullmq';
import type { TrackedEvent } from '@recs/engine';
import type { RedisClient } from './redis.ts';
import { RedisNames } from './redis.ts';

/** An accepted event as it travels to the workers (metadata and recommendationId are left in MongoDB). */
export type QueuedEvent = Omit<TrackedEvent, 'metadata' | 'recommendationId'>;

export interface EventsJob {
  /** The ingestion batch (and its inbox entry); also the job id, so a batch is queued once. */
  readonly batchId: string;
  readonly events: readonly QueuedEvent[];
  /** Some events may already have been applied (a redelivery or a recovered batch): check first. */
  readonly verify?: boolean;
}

export interface ListsJob {
  readonly userId: string;
  /**
   * When the oldest event this recomputation answers was accepted (epoch ms, its receivedAt):
   * the list's change message carries it on, for the freshness histograms. Absent for
   * recomputations no event asked for (decay refresh). A waiting job keeps its own (older) value
   * when a later request is deduplicated into it, the honest bound.
   */
  readonly acceptedAt?: number;
}

export type MaintenanceTask = 'tick' | 'sweep-inbox' | 'refresh-active' | 'prune';

export const JOB_NAMES = {
  batch: 'batch',
  /** Control job on the events queue: re-rank best sellers as time passes (done by the aggregator). */
  tick: 'tick',
  list: 'list',
} as const;

/** The control job (no events) that makes the aggregation leader re-rank best sellers. */
export const TICK_JOB = { name: JOB_NAMES.tick, data: { batchId: 'tick', events: [] } } as const satisfies { name: string; data: EventsJob };

/** Completed jobs are dropped at once: MongoDB, not Redis, keeps the history. */
export const EVENTS_JOB_OPTIONS: JobsOptions = {
  attempts: 20,
  backoff: { type: 'exponential', delay: 500 },
  removeOnComplete: true,
  removeOnFail: { age: 7 * 24 * 3600 },
};

/**
 * BullMQ job lock of the events and lists workers (JOB_LOCK_MS): a job whose worker died is taken
 * up again within about twice this (the lock expires, then the next stalled-job check moves it
 * back to the queue).
 */
export const DEFAULT_JOB_LOCK_MS = 15_000;

/** A worker's lock options: the stalled-job check runs as often as a lock lasts. */
export function jobLock(ms: number = DEFAULT_JOB_LOCK_MS): Pick<WorkerOptions, 'lockDuration' | 'stalledInterval'> {
  return { lockDuration: ms, stalledInterval: ms };
}

export function connectionOf(client: RedisClient): ConnectionOptions {
  // BullMQ recognises a node-redis client and adapts it; blocking readers get a duplicate.
  return client as unknown as ConnectionOptions;
}

export function eventsQueue(client: RedisClient, prefix: string): Queue<EventsJob> {
  return new Queue<EventsJob>(RedisNames.queues.events, { connection: connectionOf(client), prefix, defaultJobOptions: EVENTS_JOB_OPTIONS });
}

export function listsQueue(client: RedisClient, prefix: string): Queue<ListsJob> {
  return new Queue<ListsJob>(RedisNames.queues.lists, {
    connection: connectionOf(client),
    prefix,
    defaultJobOptions: { attempts: 5, backoff: { type: 'exponential', delay: 200 }, removeOnComplete: true, removeOnFail: { age: 24 * 3600 } },
  });
}

/** The maintenance queue (scheduled upkeep); its worker is MaintenanceService's. */
export function maintenanceQueue(client: RedisClient, prefix: string): Queue {
  return new Queue(RedisNames.queues.maintenance, { connection: connectionOf(client), prefix });
}

/** The training queue (the ranking model's training job); its worker is TrainingService's. */
export function trainingQueue(client: RedisClient, prefix: string): Queue {
  return new Queue(RedisNames.queues.training, { connection: connectionOf(client), prefix });
}

/**
 * Asks for a user's list to be recomputed. While one recomputation runs, further requests
 * collapse into a single follow-up that sees the latest state (keepLastIfActive).
 */
export function listJob(userId: string, acceptedAt?: number): { name: string; data: ListsJob; opts: JobsOptions } {
  return {
    name: JOB_NAMES.list,
    data: acceptedAt === undefined ? { userId } : { userId, acceptedAt },
    opts: { deduplication: { id: `list:${userId}`, keepLastIfActive: true } },
  };
}
