import type { CatalogView, EngineConfig } from '@recs/engine';
import {
  COLLECTIONS,
  connectionOf,
  listJob,
  RedisNames,
  redisErrorListener,
  trainingQueue,
  type ListDoc,
  type ListsJob,
  type Logger,
  type RedisClient,
} from '@recs/shared';
import { Worker, type Queue } from 'bullmq';
import type { Db } from 'mongodb';
import type { WorkersMetrics } from '../metrics.ts';
import { trainFromEvents, type TrainingOutcome, type TrainingSettings } from './job.ts';

/** The training job's name, in the training queue and as its scheduler's id. */
export const TRAIN_JOB = 'train-ranker';

/** When the job runs by default: daily at 03:00 UTC (a cron pattern; TRAIN_SCHEDULE). */
export const DEFAULT_TRAIN_SCHEDULE = '0 3 * * *';

/** A training job holds its lock this long between renewals (BullMQ renews it at half). */
const TRAIN_LOCK_MS = 5 * 60_000;

export interface TrainingServiceOptions {
  readonly db: Db;
  readonly redis: RedisClient;
  readonly prefix: string;
  readonly catalog: CatalogView;
  readonly engine: EngineConfig;
  readonly logger: Logger;
  /** A cron pattern, or `off`: no schedule (`npm run train` still trains). */
  readonly schedule: string;
  /** Where every stored list is queued for recomputation after a promotion. */
  readonly lists: Queue<ListsJob>;
  readonly settings?: Partial<TrainingSettings> | undefined;
  readonly params?: Readonly<Record<string, unknown>> | undefined;
  readonly venv?: string | undefined;
  readonly metrics?: WorkersMetrics;
}

/**
 * Runs the training job on its schedule (a BullMQ job scheduler, idempotent: every process with
 * the training role registers the same one, one of them runs each job). A promotion is
 * announced to the list workers, then every stored list is recomputed with it.
 */
export class TrainingService {
  private readonly options: TrainingServiceOptions;
  private queue: Queue | undefined;
  private worker: Worker | undefined;

  constructor(options: TrainingServiceOptions) {
    this.options = options;
  }

  async start(): Promise<void> {
    const { redis, prefix, logger, schedule } = this.options;
    this.queue = trainingQueue(redis, prefix);
    this.queue.on('error', redisErrorListener(logger, 'training queue'));
    if (schedule === 'off') await this.queue.removeJobScheduler(TRAIN_JOB);
    else await this.queue.upsertJobScheduler(TRAIN_JOB, { pattern: schedule, tz: 'UTC' }, { name: TRAIN_JOB, data: {} });
    const run = () => this.run();
    this.worker = new Worker(RedisNames.queues.training, this.options.metrics?.timed('training', run) ?? run, {
      connection: connectionOf(redis),
      prefix,
      concurrency: 1,
      lockDuration: TRAIN_LOCK_MS,
    });
    this.worker.on('error', redisErrorListener(logger, 'training worker'));
    this.worker.on('failed', (_job, error) =>
      logger.warn({ err: error.message }, 'ranking model training failed; the model serving (or the blend) keeps serving'),
    );
  }

  /** Trains, judges and records a model now; announces and refreshes lists after a promotion. */
  async run(now = Date.now()): Promise<TrainingOutcome> {
    const { db, catalog, engine, logger, settings, params, venv, metrics } = this.options;
    let outcome: TrainingOutcome;
    try {
      outcome = await trainFromEvents({ db, catalog, engine, settings, params, venv, say: (line) => logger.debug(line) }, now);
    } catch (error) {
      metrics?.training('failed');
      throw error;
    }
    metrics?.training(outcome.outcome);
    if (outcome.outcome === 'skipped') logger.info({ reason: outcome.reason }, 'ranking model not trained');
    else
      logger.info({ model: outcome.version, outcome: outcome.outcome, reason: outcome.reason, seconds: Math.round(outcome.seconds) }, 'ranking model trained');
    if (outcome.outcome === 'promoted') {
      const queued = await announcePromotion(this.options.redis, new RedisNames(this.options.prefix), db, this.options.lists);
      logger.info({ model: outcome.version, lists: queued }, 'ranking model promoted; every stored list is queued');
    }
    return outcome;
  }

  async stop(): Promise<void> {
    await this.worker?.close();
    await this.queue?.close();
  }
}

/**
 * Tells list workers to load the serving model, then queues every user with a stored list, so
 * each list is saved in the new model's order (not only those of users active lately): returns
 * how many. List jobs are deduplicated per user; a user's next event would recompute it anyway.
 */
export async function announcePromotion(redis: RedisClient, names: RedisNames, db: Db, lists: Queue<ListsJob>): Promise<number> {
  await redis.publish(names.modelChannel(), 'promoted');
  let queued = 0;
  let batch: string[] = [];
  const flush = async () => {
    if (batch.length === 0) return;
    await lists.addBulk(batch.map((userId) => listJob(userId)));
    queued += batch.length;
    batch = [];
  };
  for await (const doc of db.collection<ListDoc>(COLLECTIONS.lists).find({}, { projection: { _id: 1 } })) {
    batch.push(doc._id);
    if (batch.length >= 1_000) await flush();
  }
  await flush();
  return queued;
}
