import { COLLECTIONS, createRegistry, FRESHNESS_BUCKETS, LATENCY_BUCKETS, type InboxDoc, type LiveFieldName } from '@recs/shared';
import type { Job, Queue } from 'bullmq';
import type { Db } from 'mongodb';
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { FlushStats } from './aggregate/batcher.ts';

/** Sub-second work inside the workers (flush stages, list batches): finer than LATENCY_BUCKETS at the low end. */
const STAGE_BUCKETS: readonly number[] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/** The workers' queues by their `queue` label (RedisNames.queues has their Redis names). */
export type QueueLabel = 'events' | 'lists' | 'maintenance' | 'training';

/** The job states recs_queue_jobs reports; `waiting` includes prioritized jobs (both wait for a worker). */
const JOB_STATES = ['waiting', 'active', 'delayed', 'failed'] as const;

/** The flush stages timed in seconds (FlushStats also carries counts, e.g. `commit.writes`, which are not durations). */
const FLUSH_STAGES = ['verify', 'load', 'compute', 'commit', 'commit.plan', 'commit.apply', 'followUps'] as const;
/** Stages of the aggregator itself: a flush without events (a tick) does not run them, so their last values are stale. */
const AGGREGATOR_STAGES = new Set<string>(['load', 'compute', 'commit', 'commit.plan', 'commit.apply']);

/**
 * How long a scrape waits for Redis (queue counts) and MongoDB (lag): with a store away, its
 * commands wait for a reconnection, and /metrics must still answer (recs_redis_up and
 * recs_mongodb_up say why). The gauge then keeps its last value.
 */
const SCRAPE_READ_MS = 1_000;

/** Resolves with `read`'s value, or undefined when it fails or takes longer than SCRAPE_READ_MS. */
async function withinScrape<T>(read: () => Promise<T>): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<undefined>((resolve) => {
    timer = setTimeout(() => resolve(undefined), SCRAPE_READ_MS);
  });
  try {
    return await Promise.race([read().catch(() => undefined), late]);
  } finally {
    clearTimeout(timer);
  }
}

/** What the aggregation role reports when scraped. */
export interface AggregationView {
  readonly leading: boolean;
  /** Aggregate documents committed but not yet written to MongoDB. */
  readonly backlog: number;
}

/**
 * The workers' metrics, in one place: each service records into the instruments it is handed,
 * and what is a state rather than an event (queue counts, lag, leadership, backlog) is read when
 * Prometheus scrapes, from the sources given with watch*(). A process builds one.
 */
export class WorkersMetrics {
  readonly registry: Registry;
  private queues: Partial<Record<QueueLabel, Queue>> = {};
  private inbox: Db | undefined;
  private aggregation: AggregationView | undefined;

  readonly jobDuration: Histogram<'queue'>;
  readonly leaderChanges: Counter;
  private readonly flushEvents: Histogram;
  private readonly flushSeconds: Histogram<'stage'>;
  private readonly listsRecomputed: Counter<'outcome'>;
  private readonly listBatchDuration: Histogram;
  private readonly listBatchSize: Histogram;
  private readonly freshnessPublished: Histogram<'field'>;
  private readonly trainings: Counter<'outcome'>;
  private model: { current(): unknown } | undefined;

  constructor(registry: Registry = createRegistry('workers')) {
    this.registry = registry;
    const registers = [registry];
    const self = this;
    new Gauge({
      name: 'recs_queue_jobs',
      help: 'Jobs in each BullMQ queue by state (waiting includes prioritized), read on scrape.',
      labelNames: ['queue', 'state'],
      registers,
      async collect() {
        await Promise.all(
          Object.entries(self.queues).map(async ([queue, q]) => {
            const counts = await withinScrape(() => q.getJobCounts('waiting', 'prioritized', 'active', 'delayed', 'failed'));
            if (counts === undefined) return;
            for (const state of JOB_STATES) {
              const value = (counts[state] ?? 0) + (state === 'waiting' ? (counts['prioritized'] ?? 0) : 0);
              this.set({ queue, state }, value);
            }
          }),
        );
      },
    });
    this.jobDuration = new Histogram({
      name: 'recs_job_duration_seconds',
      help: 'Time a worker spent on a job, from taking it to settling it (completed or failed).',
      labelNames: ['queue'],
      buckets: [...LATENCY_BUCKETS],
      registers,
    });
    this.flushEvents = new Histogram({
      name: 'recs_aggregation_flush_events',
      help: 'Events applied per aggregation flush (after removing redelivered ones).',
      buckets: [0, 1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000],
      registers,
    });
    this.flushSeconds = new Histogram({
      name: 'recs_aggregation_flush_seconds',
      help: 'Duration of aggregation flushes (stage="total") and of each stage.',
      labelNames: ['stage'],
      buckets: [...STAGE_BUCKETS],
      registers,
    });
    new Gauge({
      name: 'recs_aggregation_lag_seconds',
      help: 'Age of the oldest accepted event batch not yet fully applied (now - oldest event_inbox.at), 0 when none.',
      registers,
      async collect() {
        const inbox = self.inbox;
        if (inbox === undefined) return;
        // the oldest entry, by the { at: 1 } index (ensureIndexes)
        const found = await withinScrape(() =>
          inbox
            .collection<InboxDoc>(COLLECTIONS.inbox)
            .find({}, { projection: { at: 1 } })
            .sort({ at: 1 })
            .limit(1)
            .toArray(),
        );
        if (found === undefined) return;
        const [oldest] = found;
        this.set(oldest === undefined ? 0 : Math.max(0, (Date.now() - oldest.at.getTime()) / 1000));
      },
    });
    new Gauge({
      name: 'recs_aggregation_leader',
      help: '1 while this process holds the aggregation lease, else 0.',
      registers,
      collect() {
        this.set(self.aggregation?.leading === true ? 1 : 0);
      },
    });
    this.leaderChanges = new Counter({
      name: 'recs_aggregation_leader_changes_total',
      help: 'Times this process took the aggregation lease (summed over processes: the leader changes).',
      registers,
    });
    new Gauge({
      name: 'recs_write_behind_backlog_documents',
      help: 'Aggregate documents committed (planned) but not yet written to their collections.',
      registers,
      collect() {
        this.set(self.aggregation?.backlog ?? 0);
      },
    });
    this.listsRecomputed = new Counter({
      name: 'recs_lists_recomputed_total',
      help: 'Recommendation lists recomputed, by whether the list changed (then saved and announced).',
      labelNames: ['outcome'],
      registers,
    });
    this.listBatchDuration = new Histogram({
      name: 'recs_list_batch_duration_seconds',
      help: 'Time to compute, save and announce one batch of lists.',
      buckets: [...STAGE_BUCKETS],
      registers,
    });
    this.listBatchSize = new Histogram({
      name: 'recs_list_batch_size',
      help: 'Lists recomputed together in one batch.',
      buckets: [1, 2, 5, 10, 25, 50, 100, 250, 500],
      registers,
    });
    this.freshnessPublished = new Histogram({
      name: 'recs_freshness_published_seconds',
      help: 'From the oldest event a change answers being accepted (acceptedAt) to the change being published on Redis.',
      labelNames: ['field'],
      // the gateway's recs_freshness_delivered_seconds has the same, so the two compare bucket by bucket
      buckets: [...FRESHNESS_BUCKETS],
      registers,
    });
    for (const outcome of ['changed', 'unchanged']) this.listsRecomputed.inc({ outcome }, 0);
    this.trainings = new Counter({
      name: 'recs_ranker_trainings_total',
      help: 'Runs of the ranking model training job in this process, by outcome: promoted, refused (kept with the reason), skipped (too few baskets), failed.',
      labelNames: ['outcome'],
      registers,
    });
    for (const outcome of ['promoted', 'refused', 'skipped', 'failed']) this.trainings.inc({ outcome }, 0);
    new Gauge({
      name: 'recs_ranker_model_serving',
      help: "1 while this process's list building ranks with a learned model (lists also saved in its order), 0 while only the blend is built.",
      registers,
      collect() {
        this.set(self.model?.current() === undefined ? 0 : 1);
      },
    });
  }

  /** The list role's model source, for recs_ranker_model_serving. */
  watchModel(source: { current(): unknown }): void {
    this.model = source;
  }

  /** One run of the training job. */
  training(outcome: 'promoted' | 'refused' | 'skipped' | 'failed'): void {
    this.trainings.inc({ outcome });
  }

  /** Queues whose job counts recs_queue_jobs reports. */
  watchQueues(queues: Partial<Record<QueueLabel, Queue>>): void {
    this.queues = { ...this.queues, ...queues };
  }

  /** The database whose event inbox recs_aggregation_lag_seconds reads. */
  watchInbox(db: Db): void {
    this.inbox = db;
  }

  /** The aggregation role, for the leader and backlog gauges. */
  watchAggregation(view: AggregationView): void {
    this.aggregation = view;
  }

  /** A BullMQ processor that also records its jobs' durations. */
  timed<T, R>(queue: QueueLabel, processor: (job: Job<T>) => Promise<R>): (job: Job<T>) => Promise<R> {
    return async (job) => {
      const end = this.jobDuration.startTimer({ queue });
      try {
        return await processor(job);
      } finally {
        end();
      }
    };
  }

  /** One aggregation flush (the batcher's onFlush). */
  flushed(stats: FlushStats): void {
    this.flushEvents.observe(stats.events);
    this.flushSeconds.observe({ stage: 'total' }, stats.ms / 1000);
    for (const stage of FLUSH_STAGES) {
      const ms = stats.stages[stage];
      if (ms === undefined || (stats.events === 0 && AGGREGATOR_STAGES.has(stage))) continue;
      this.flushSeconds.observe({ stage }, ms / 1000);
    }
  }

  /** One batch of list recomputations. */
  listBatch(size: number, changed: number, seconds: number): void {
    this.listBatchSize.observe(size);
    this.listBatchDuration.observe(seconds);
    this.listsRecomputed.inc({ outcome: 'changed' }, changed);
    this.listsRecomputed.inc({ outcome: 'unchanged' }, size - changed);
  }

  /** A change published at `at` that answers events accepted from `acceptedAt` on (epoch ms). */
  published(field: LiveFieldName, acceptedAt: number, at: number): void {
    this.freshnessPublished.observe({ field }, Math.max(0, at - acceptedAt) / 1000);
  }
}
