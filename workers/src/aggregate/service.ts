import { EventEmitter } from 'node:events';
import { hostname } from 'node:os';
import { randomUUID } from 'node:crypto';
import { Aggregator, dayOf, type EngineConfig, type FlushResult, type TrackedEvent } from '@recs/engine';
import {
  connectionOf,
  DEFAULT_JOB_LOCK_MS,
  JOB_NAMES,
  jobLock,
  listJob,
  RedisNames,
  redisErrorListener,
  type EventsJob,
  type ListsJob,
  type Logger,
  type RedisClient,
} from '@recs/shared';
import { Worker, type Job, type Queue } from 'bullmq';
import type { Db } from 'mongodb';
import type { CatalogCache } from '../catalog.ts';
import { Lease } from '../lease.ts';
import type { WorkersMetrics } from '../metrics.ts';
import { MongoAggregateStore, type MongoAggregateStoreOptions } from '../mongoStore.ts';
import type { Publisher } from '../publisher.ts';
import { Batcher, type BatchEntry, type FlushStats } from './batcher.ts';

/**
 * Where the leader's flushes have their users' lists recomputed at once, in this process, from
 * the state it holds (ListService): the live path, with no queue hop. Without one (a process
 * without the lists role) the users get list jobs instead.
 */
export interface LiveLists {
  recompute(userIds: readonly string[], acceptedAt: ReadonlyMap<string, number>): Promise<void>;
  /** Users waiting for a batch: beyond `maxLiveLists`, a flush's users get list jobs instead. */
  readonly waiting: number;
}

export interface AggregatorServiceOptions {
  readonly db: Db;
  readonly redis: RedisClient;
  readonly prefix: string;
  readonly catalog: CatalogCache;
  readonly engine: EngineConfig;
  readonly lists: Queue<ListsJob>;
  /** See LiveLists. */
  readonly liveLists?: LiveLists;
  /** Users waiting for live lists at most; beyond, list jobs wait in Redis instead (bounded memory). */
  readonly maxLiveLists?: number;
  readonly publisher: Publisher;
  readonly logger: Logger;
  /** Jobs taken from Redis at once (and merged into flushes). */
  readonly concurrency?: number;
  /** Events per flush at most. */
  readonly maxBatchEvents?: number;
  /** Users and co-occurrence rows kept in memory. */
  readonly cacheSize?: number;
  /** Documents waiting for write-behind at most; beyond, flushes wait (see AGGREGATOR_MAX_BACKLOG). */
  readonly maxBacklog?: number;
  /** A standby takes over this long after the leader stops renewing its lease. */
  readonly leaseMs?: number;
  readonly onFlush?: (stats: FlushStats) => void;
  /** Where flushes, job durations and leadership are recorded (and the leader and backlog gauges read). */
  readonly metrics?: WorkersMetrics;
  /** Test only (fault injection, see workers/test/crashingWorker.ts): see MongoAggregateStoreOptions.afterPlan. */
  readonly afterPlan?: MongoAggregateStoreOptions['afterPlan'];
  /** See JOB_LOCK_MS. */
  readonly jobLockMs?: number;
}

/** What an option left out means (the AGGREGATOR_* settings' defaults, see config.ts). */
export const AGGREGATOR_DEFAULTS = {
  concurrency: 256,
  maxBatchEvents: 5_000,
  cacheSize: 200_000,
  maxBacklog: 20_000,
  leaseMs: 15_000,
  jobLockMs: DEFAULT_JOB_LOCK_MS,
  maxLiveLists: 5_000,
} as const satisfies Partial<AggregatorServiceOptions>;

type AggregatorSettings = AggregatorServiceOptions & { readonly [K in keyof typeof AGGREGATOR_DEFAULTS]: number };

/** When each user's oldest event of a flush was accepted, and the oldest of all. */
function acceptedTimes(events: readonly TrackedEvent[]): { byUser: Map<string, number>; oldest: number | undefined } {
  const byUser = new Map<string, number>();
  let oldest: number | undefined;
  for (const { userId, receivedAt } of events) {
    byUser.set(userId, Math.min(receivedAt, byUser.get(userId) ?? receivedAt));
    oldest = Math.min(receivedAt, oldest ?? receivedAt);
  }
  return { byUser, oldest };
}

/**
 * The aggregation role: while it holds the aggregator lease, it consumes the events queue and
 * applies batches to the aggregates; otherwise it stands by and takes over when the lease lapses.
 */
export class AggregatorService extends EventEmitter<{ leading: []; standby: [] }> {
  private readonly options: AggregatorSettings;
  private readonly lease: Lease;
  private timer: NodeJS.Timeout | undefined;
  private worker: Worker<EventsJob> | undefined;
  private current: { aggregator: Aggregator; batcher: Batcher; store: MongoAggregateStore } | undefined;
  private stopping = false;
  private transition: Promise<void> = Promise.resolve();
  /** Jobs created before this (a rebuild's end) are checked against the applied events. */
  private verifyBefore = 0;
  /** Live list recomputations under way (settled() and stop() wait for them). */
  private readonly live = new Set<Promise<void>>();
  /** The events of the flush being applied: when each was accepted starts the freshness clock. */
  private applying: readonly TrackedEvent[] = [];
  /** The live lists the flush being committed started once it passed its fence (startLive), for its afterFlush. */
  private started: Promise<void> | undefined;

  constructor(options: AggregatorServiceOptions) {
    super();
    this.options = { ...AGGREGATOR_DEFAULTS, ...options };
    this.lease = new Lease(options.db, 'aggregator', `${hostname()}:${process.pid}:${randomUUID().slice(0, 6)}`, this.options.leaseMs);
    options.metrics?.watchAggregation(this);
  }

  /** The aggregator while this process leads (list workers in the same process read from it). */
  get aggregator(): Aggregator | undefined {
    return this.current?.aggregator;
  }

  get leading(): boolean {
    return this.worker !== undefined;
  }

  /** Aggregate documents committed but not yet written to MongoDB (0 while standing by). */
  get backlog(): number {
    return this.current?.store.backlog ?? 0;
  }

  async start(): Promise<void> {
    await this.heartbeat();
    this.timer = setInterval(() => void this.heartbeat(), Math.max(200, Math.floor(this.options.leaseMs / 3)));
  }

  private heartbeat(): Promise<void> {
    this.transition = this.transition.then(async () => {
      if (this.stopping) return;
      try {
        if (this.worker === undefined) {
          if (await this.lease.tryAcquire()) await this.lead();
        } else if (!(await this.lease.renew())) {
          this.options.logger.warn('aggregator lease lost; standing by');
          await this.standBy(true);
        }
      } catch (error) {
        this.options.logger.warn({ err: (error as Error).message }, 'aggregator lease check failed');
      }
    });
    return this.transition;
  }

  private async lead(): Promise<void> {
    const { db, logger } = this.options;
    const store = new MongoAggregateStore(db, {
      ...(this.options.afterPlan === undefined ? {} : { afterPlan: this.options.afterPlan }),
      fence: () => this.lease.holds(),
      onFenced: (userIds) => this.startLive(userIds),
      holdCommits: true,
      busy: () => this.current?.batcher.busy ?? false,
      onWrittenBehind: (round) => logger.debug(round, 'written behind'),
    });
    const outcome = await store.recover();
    if (outcome !== 'clean') logger.warn({ recovered: outcome }, 'finished a commit interrupted by a crash');
    this.verifyBefore = await store.verifyBefore();
    // a crash may have come between a commit and its users' lists: recompute them
    const recovered = store.takeRecoveredUsers();
    if (recovered.length > 0) await this.options.lists.addBulk(recovered.map((userId) => listJob(userId)));
    const aggregator = new Aggregator(store, this.options.catalog, this.options.engine, { cacheSize: this.options.cacheSize });
    await aggregator.start();
    const batcher = new Batcher(
      aggregator,
      {
        appliedAmong: (ids) => store.appliedAmong(ids),
        applying: (events) => {
          this.applying = events;
          this.started = undefined;
        },
        afterFlush: (result, _batches, events) => this.afterFlush(store, result, events),
        // MongoDB slower than the events: stop taking more until write-behind catches up, so
        // memory stays bounded and the events wait, durable, in the queue
        beforeFlush: async () => {
          if (store.backlog <= this.options.maxBacklog) return;
          logger.warn({ waiting: store.backlog, limit: this.options.maxBacklog }, 'aggregates wait for MongoDB writes to catch up');
          while (store.backlog > this.options.maxBacklog / 2) await store.writeBehind();
        },
      },
      this.options.maxBatchEvents,
      (stats) => {
        this.options.metrics?.flushed(stats);
        this.options.onFlush?.(stats);
      },
      () => store.timings,
    );
    this.current = { aggregator, batcher, store };
    const processJob = (job: Job<EventsJob>) => this.process(job, batcher);
    this.worker = new Worker<EventsJob>(RedisNames.queues.events, this.options.metrics?.timed('events', processJob) ?? processJob, {
      connection: connectionOf(this.options.redis),
      prefix: this.options.prefix,
      concurrency: this.options.concurrency,
      ...jobLock(this.options.jobLockMs),
      // a job whose worker crashed twice is still retried (its events are verified then)
      maxStalledCount: 10,
    });
    this.worker.on('error', redisErrorListener(logger, 'events worker'));
    this.worker.on('failed', (job, error) =>
      logger.warn({ batchId: job?.data.batchId, attempt: job?.attemptsMade, err: error.message }, 'events batch failed; it will be retried'),
    );
    this.options.metrics?.leaderChanges.inc();
    logger.info({ lease: this.lease.owner }, 'leading aggregation');
    this.emit('leading');
  }

  private async standBy(lost: boolean): Promise<void> {
    const worker = this.worker;
    const current = this.current;
    this.worker = undefined;
    this.current = undefined;
    // after losing the lease, stop at once: active jobs are retried, and the written-ahead plans
    // finished, by the new leader
    if (worker !== undefined) {
      await worker.close(lost);
      await current?.store.close({ flush: !lost });
      this.emit('standby');
    }
  }

  /** Resolves once everything applied so far is written to MongoDB (tests, shutdown). */
  async settled(): Promise<void> {
    await this.current?.batcher.idle();
    await this.liveIdle();
    await this.current?.store.writeBehind();
  }

  private async process(job: Job<EventsJob>, batcher: Batcher): Promise<void> {
    if (job.name === JOB_NAMES.tick) return batcher.tick();
    const events: TrackedEvent[] = job.data.events.map((event) => ({ ...event }));
    const entry: BatchEntry = {
      batchId: job.data.batchId,
      events,
      // a job started before may have been applied before it could be completed; one queued
      // before a rebuild ended holds events the rebuild already applied
      verify: job.data.verify === true || job.attemptsStarted > 1 || job.timestamp < this.verifyBefore,
    };
    return batcher.submit(entry);
  }

  /**
   * The live path's start: once a commit has passed its fence, its users' lists are computed from
   * this process's memory (where the flush's changes already are) while the commit writes its plan
   * and documents, so the lists wait on none of those writes. Safe to save before the commit ends:
   * this process still led at the fence, and should the commit fail, its jobs are retried and the
   * same events, applied again, make the same lists (unchanged, so not saved again); should the
   * process die, recovery finishes the commit or the jobs are redelivered. More lists waiting than
   * maxLiveLists: none are started, afterFlush queues them.
   */
  private startLive(userIds: readonly string[]): void {
    const { liveLists } = this.options;
    if (liveLists === undefined || liveLists.waiting + userIds.length > this.options.maxLiveLists) return;
    const task = liveLists.recompute(userIds, acceptedTimes(this.applying).byUser);
    this.started = task;
    // tracked on its own too: a commit that fails has no afterFlush
    const tracked: Promise<void> = task
      .catch(() => undefined)
      .finally(() => {
        this.live.delete(tracked);
      });
    this.live.add(tracked);
  }

  private async liveIdle(): Promise<void> {
    while (this.live.size > 0) await Promise.allSettled([...this.live]);
  }

  /**
   * Starts the follow-ups of a flush. The flush's commit is durable (its plan is written ahead),
   * so its jobs are done when this returns; the users' lists are being recomputed already (the
   * live path, started at the commit's fence) or are queued. The commit stays unfinished (held)
   * until they are: should the process die first, recovery replays its plan and queues the lists of its users. Write-behind removes the
   * batches from the inbox once everything they changed is in the collections and the holds are
   * released.
   */
  private async afterFlush(store: MongoAggregateStore, result: FlushResult, events: readonly TrackedEvent[]): Promise<void> {
    const { lists, publisher, logger, engine } = this.options;
    const release = store.takeHolds();
    const tasks: Promise<unknown>[] = [];
    // when the oldest event behind each follow-up was accepted: the freshness clock starts there
    const { byUser: acceptedAt, oldest } = acceptedTimes(events);
    const userIds = result.users.map((u) => u.userId);
    const queue = () => lists.addBulk(userIds.map((userId) => listJob(userId, acceptedAt.get(userId))));
    // the lists this flush started at its fence (startLive; reset as each flush begins); none: too
    // many waiting, so they are queued
    const live = this.started;
    this.started = undefined;
    let releasedByLive = false;
    if (userIds.length > 0) {
      store.noteActive(dayOf(Date.now()), userIds);
      if (live !== undefined) {
        const task = live
          .catch(async (error: unknown) => {
            logger.warn({ err: (error as Error).message, users: userIds.length }, 'live lists failed; queued as list jobs');
            await queue();
          })
          .catch((error: unknown) => logger.warn({ err: (error as Error).message }, 'queuing list jobs failed; the maintenance jobs catch up'))
          .finally(() => {
            release();
            this.live.delete(task);
          });
        this.live.add(task);
        releasedByLive = true;
      } else {
        tasks.push(queue());
      }
    }
    for (const list of result.bestSellers) {
      if (list.windowDays === engine.defaultWindowDays)
        tasks.push(
          publisher.publish('bestSellersChanged', {
            categoryId: list.categoryId,
            changedAt: list.changedAt,
            ...(oldest === undefined ? {} : { acceptedAt: oldest }),
          }),
        );
    }
    const outcomes = await Promise.allSettled(tasks);
    for (const outcome of outcomes) {
      // the aggregates are committed; a missed follow-up is caught up by the maintenance jobs
      if (outcome.status === 'rejected') logger.warn({ err: (outcome.reason as Error).message }, 'after-flush step failed');
    }
    // queued (or nothing to do): the holds go now; live lists release them when done
    if (!releasedByLive) release();
  }

  async stop(): Promise<void> {
    this.stopping = true;
    clearInterval(this.timer);
    await this.transition;
    await this.current?.batcher.idle();
    await this.liveIdle();
    await this.standBy(false);
    await this.lease.release().catch(() => undefined);
  }
}
