import { dayOf, type EngineConfig } from '@recs/engine';
import {
  COLLECTIONS,
  connectionOf,
  deleteInChunks,
  fromRawEventDoc,
  JOB_NAMES,
  listJob,
  maintenanceQueue,
  RedisNames,
  redisErrorListener,
  TICK_JOB,
  toQueuedEvent,
  type EventsJob,
  type InboxDoc,
  type ListsJob,
  type Logger,
  type MaintenanceTask,
  type RawEventDoc,
  type RedisClient,
} from '@recs/shared';
import { Worker, type Job, type Queue } from 'bullmq';
import type { Db } from 'mongodb';
import type { WorkersMetrics } from '../metrics.ts';

export interface MaintenanceOptions {
  readonly db: Db;
  readonly redis: RedisClient;
  readonly prefix: string;
  readonly events: Queue<EventsJob>;
  readonly lists: Queue<ListsJob>;
  readonly engine: EngineConfig;
  readonly logger: Logger;
  /** Inbox entries older than this are assumed lost on their way to the queue. */
  readonly inboxGraceMs?: number;
  /** Overrides of SCHEDULES (milliseconds). */
  readonly schedules?: Partial<Record<MaintenanceTask, number>>;
  /** Where job durations are recorded. */
  readonly metrics?: WorkersMetrics;
}

/** How often each task runs (milliseconds); TICK_, SWEEP_ and REFRESH_INTERVAL_MS default to these. */
export const SCHEDULES: Readonly<Record<MaintenanceTask, number>> = {
  /** Best-seller windows slide by whole days; re-ranking often keeps day changes prompt. */
  tick: 5 * 60_000,
  'sweep-inbox': 30_000,
  'refresh-active': 60 * 60_000,
  prune: 24 * 60 * 60_000,
};

/** What an option left out means (INBOX_GRACE_MS defaults to this). */
export const MAINTENANCE_DEFAULTS = {
  inboxGraceMs: 60_000,
} as const;

type MaintenanceSettings = MaintenanceOptions & { readonly inboxGraceMs: number; readonly schedules: Readonly<Record<MaintenanceTask, number>> };

/**
 * Scheduled upkeep. The schedules are BullMQ job schedulers (idempotent: every worker process
 * registers the same ones); any process may run a task.
 */
export class MaintenanceService {
  private readonly options: MaintenanceSettings;
  private queue: Queue | undefined;
  private worker: Worker | undefined;

  constructor(options: MaintenanceOptions) {
    // schedules left out keep SCHEDULES' value, one by one
    this.options = { ...MAINTENANCE_DEFAULTS, ...options, schedules: { ...SCHEDULES, ...options.schedules } };
  }

  async start(): Promise<void> {
    const { redis, prefix, events, logger } = this.options;
    this.queue = maintenanceQueue(redis, prefix);
    this.queue.on('error', redisErrorListener(logger, 'maintenance queue'));
    // ticks go to the events queue: the aggregation leader re-ranks, in turn with the batches
    const every = this.options.schedules;
    await events.upsertJobScheduler('tick', { every: every.tick }, TICK_JOB);
    for (const task of ['sweep-inbox', 'refresh-active', 'prune'] as const) {
      await this.queue.upsertJobScheduler(task, { every: every[task] }, { name: task, data: {} });
    }
    const processJob = (job: Job) => this.run(job.name as MaintenanceTask);
    this.worker = new Worker(RedisNames.queues.maintenance, this.options.metrics?.timed('maintenance', processJob) ?? processJob, {
      connection: connectionOf(redis),
      prefix,
      concurrency: 1,
    });
    this.worker.on('error', redisErrorListener(logger, 'maintenance worker'));
  }

  async run(task: MaintenanceTask, now = Date.now()): Promise<number> {
    switch (task) {
      case 'sweep-inbox':
        return this.sweepInbox(now);
      case 'refresh-active':
        return this.refreshActive(now);
      case 'prune':
        return this.prune(now);
      case 'tick':
        await this.options.events.add(TICK_JOB.name, TICK_JOB.data);
        return 1;
    }
  }

  /**
   * Queues stored batches that never reached the queue (a crash or a Redis outage between
   * storing and queueing, or a queue that lost its data). The job id is the batch id, so a
   * batch still waiting in the queue is not queued twice; `verify` makes the aggregator skip
   * anything already applied.
   */
  async sweepInbox(now: number): Promise<number> {
    const { db, events, logger } = this.options;
    const stale = await db
      .collection<InboxDoc>(COLLECTIONS.inbox)
      .find({ at: { $lt: new Date(now - this.options.inboxGraceMs) } })
      .limit(200)
      .toArray();
    let queued = 0;
    for (const entry of stale) {
      const docs = await db
        .collection<RawEventDoc>(COLLECTIONS.events)
        .find({ _id: { $in: entry.ids } })
        .toArray();
      if (docs.length === 0) {
        await db.collection<InboxDoc>(COLLECTIONS.inbox).deleteOne({ _id: entry._id });
        continue;
      }
      const job: EventsJob = { batchId: entry._id, events: docs.map((doc) => toQueuedEvent(fromRawEventDoc(doc))), verify: true };
      await events.add(JOB_NAMES.batch, job, { jobId: entry._id });
      queued++;
    }
    if (queued > 0) logger.warn({ batches: queued }, 'queued stored batches that had not reached the queue');
    return queued;
  }

  /** Interest decays with time: recompute the lists of users active lately (unchanged ones are not republished). */
  async refreshActive(now: number): Promise<number> {
    const { db, lists, engine } = this.options;
    const since = dayOf(now) - Math.ceil(engine.affinityHalfLifeDays * 2);
    const days = await db
      .collection<{ _id: number; users: string[] }>(COLLECTIONS.activeUsers)
      .find({ _id: { $gte: since } })
      .toArray();
    const users = new Set(days.flatMap((d) => d.users));
    const ids = [...users];
    for (let i = 0; i < ids.length; i += 1_000) await lists.addBulk(ids.slice(i, i + 1_000).map(listJob));
    return users.size;
  }

  /** Drops bookkeeping nobody needs any more: applied-event ids after a week, activity after 60 days. */
  async prune(now: number): Promise<number> {
    const { db } = this.options;
    const applied = await deleteInChunks(db.collection<{ _id: string; at: Date }>(COLLECTIONS.applied), { at: { $lt: new Date(now - 7 * 86_400_000) } });
    const active = await deleteInChunks(db.collection<{ _id: number }>(COLLECTIONS.activeUsers), { _id: { $lt: dayOf(now) - 60 } });
    return applied + active;
  }

  async stop(): Promise<void> {
    await this.worker?.close();
    await this.queue?.close();
  }
}
