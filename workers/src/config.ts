import { baseEnv, DEFAULT_JOB_LOCK_MS, host, loadConfig, port } from '@recs/shared';
import { z } from 'zod';
import { AGGREGATOR_DEFAULTS, type AggregatorServiceOptions } from './aggregate/service.ts';
import { LIST_DEFAULTS } from './lists/service.ts';
import { MAINTENANCE_DEFAULTS, SCHEDULES } from './maintenance/service.ts';
import { DEFAULT_TRAIN_SCHEDULE } from './training/service.ts';

export const ROLES = ['aggregate', 'lists', 'maintenance', 'train'] as const;
export type WorkerRole = (typeof ROLES)[number];

const roles = z
  .string()
  .default(ROLES.join(','))
  .transform((value) =>
    value
      .split(',')
      .map((r) => r.trim())
      .filter((r) => r !== ''),
  )
  .pipe(z.array(z.enum(ROLES, { error: `each role must be one of ${ROLES.join(', ')}` })).min(1, 'needs at least one role'));

const int = (fallback: number, min: number, max: number) => z.coerce.number().int().min(min).max(max).default(fallback);

/** Each setting's default is its service's (AGGREGATOR_DEFAULTS, LIST_DEFAULTS, SCHEDULES, ...), written once there. */
export function workersConfig(env: NodeJS.ProcessEnv = process.env) {
  return loadConfig(
    {
      ...baseEnv,
      /** The operations port: GET /metrics, /health, /ready (0: any free port). */
      WORKERS_PORT: port(4004),
      HOST: host,
      /** What this process does: aggregate (one leader at a time), lists, maintenance, train (the ranking model's job). */
      WORKER_ROLES: roles,
      /** Events jobs taken at once by the aggregation leader; they are merged into flushes. */
      AGGREGATOR_CONCURRENCY: int(AGGREGATOR_DEFAULTS.concurrency, 1, 10_000),
      /** Events per flush at most. */
      AGGREGATOR_MAX_BATCH: int(AGGREGATOR_DEFAULTS.maxBatchEvents, 1, 100_000),
      /** Users and co-occurrence rows the leader keeps in memory. */
      AGGREGATOR_CACHE: int(AGGREGATOR_DEFAULTS.cacheSize, 100, 10_000_000),
      /**
       * Aggregate documents changed in memory but not yet written to MongoDB, at most: beyond,
       * the leader stops taking events until the writes catch up (bounded memory, and bounded
       * replay after a crash). Events wait in the queue meanwhile.
       */
      AGGREGATOR_MAX_BACKLOG: int(AGGREGATOR_DEFAULTS.maxBacklog, 100, 10_000_000),
      /** The aggregation lease: a standby takes over this long after the leader stops renewing. */
      AGGREGATOR_LEASE_MS: int(AGGREGATOR_DEFAULTS.leaseMs, 1_000, 600_000),
      /** List jobs taken at once per process; they are computed, saved and announced together. */
      LIST_CONCURRENCY: int(LIST_DEFAULTS.concurrency, 1, 10_000),
      /**
       * BullMQ job lock: a job whose worker died is taken up again within about twice this
       * (the lock expires, then the next stalled-job check moves it back to the queue).
       */
      JOB_LOCK_MS: int(DEFAULT_JOB_LOCK_MS, 1_000, 600_000),
      /** Maintenance schedule: best-seller re-ranking, inbox sweep, decay refresh (milliseconds). */
      TICK_INTERVAL_MS: int(SCHEDULES.tick, 100, 86_400_000),
      SWEEP_INTERVAL_MS: int(SCHEDULES['sweep-inbox'], 100, 86_400_000),
      REFRESH_INTERVAL_MS: int(SCHEDULES['refresh-active'], 1_000, 86_400_000),
      /**
       * When the ranking model is trained, judged and (if better) promoted: a cron pattern in UTC
       * (default daily at 03:00), or `off` (\`npm run train\` still trains).
       */
      TRAIN_SCHEDULE: z
        .string()
        .trim()
        .default(DEFAULT_TRAIN_SCHEDULE)
        .refine((value) => value === 'off' || /^\S+( \S+){4,5}$/.test(value), 'must be a cron pattern of 5 or 6 fields, or off'),
      /** The trainer's Python environment (created with LightGBM on first use); default ~/.cache/recs/venv. */
      TRAINER_VENV: z.string().trim().min(1).optional(),
      /** Inbox entries older than this are taken as lost on their way to the queue. */
      INBOX_GRACE_MS: int(MAINTENANCE_DEFAULTS.inboxGraceMs, 0, 86_400_000),
    },
    env,
  );
}

export type WorkersConfig = ReturnType<typeof workersConfig>;

/** The aggregation service's settings in a config (the entry point, and test workers started like it). */
export function aggregatorSettings(config: WorkersConfig) {
  return {
    concurrency: config.AGGREGATOR_CONCURRENCY,
    maxBatchEvents: config.AGGREGATOR_MAX_BATCH,
    cacheSize: config.AGGREGATOR_CACHE,
    maxBacklog: config.AGGREGATOR_MAX_BACKLOG,
    leaseMs: config.AGGREGATOR_LEASE_MS,
    jobLockMs: config.JOB_LOCK_MS,
  } satisfies Partial<AggregatorServiceOptions>;
}
