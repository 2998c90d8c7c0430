import { baseEnv, loadConfig } from '@recs/shared';
import { z } from 'zod';

export const ROLES = ['aggregate', 'lists', 'maintenance'] as const;
export type WorkerRole = (typeof ROLES)[number];

const roles = z
  .string()
  .default(ROLES.join(','))
  .transform((value) => value.split(',').map((r) => r.trim()).filter((r) => r !== ''))
  .pipe(z.array(z.enum(ROLES, { error: `each role must be one of ${ROLES.join(', ')}` })).min(1, 'needs at least one role'));

const int = (fallback: number, min: number, max: number) => z.coerce.number().int().min(min).max(max).default(fallback);

export function workersConfig(env: NodeJS.ProcessEnv = process.env) {
  return loadConfig(
    {
      ...baseEnv,
      /** What this process does: aggregate (one leader at a time), lists, maintenance. */
      WORKER_ROLES: roles,
      /** Events jobs taken at once by the aggregation leader; they are merged into flushes. */
      AGGREGATOR_CONCURRENCY: int(256, 1, 10_000),
      /** Events per flush at most. */
      AGGREGATOR_MAX_BATCH: int(5_000, 1, 100_000),
      /** Users, co-occurrence rows and counters the leader keeps in memory. */
      AGGREGATOR_CACHE: int(200_000, 100, 10_000_000),
      /**
       * Aggregate documents changed in memory but not yet written to MongoDB, at most: beyond,
       * the leader stops taking events until the writes catch up (bounded memory, and bounded
       * replay after a crash). Events wait in the queue meanwhile.
       */
      AGGREGATOR_MAX_BACKLOG: int(20_000, 100, 10_000_000),
      /** The aggregation lease: a standby takes over this long after the leader stops renewing. */
      AGGREGATOR_LEASE_MS: int(15_000, 1_000, 600_000),
      /** List jobs taken at once per process; they are computed, saved and announced together. */
      LIST_CONCURRENCY: int(128, 1, 10_000),
      /**
       * BullMQ job lock: a job whose worker died is taken up again within about twice this
       * (the lock expires, then the next stalled-job check moves it back to the queue).
       */
      JOB_LOCK_MS: int(15_000, 1_000, 600_000),
      /** Maintenance schedule: best-seller re-ranking, inbox sweep, decay refresh (milliseconds). */
      TICK_INTERVAL_MS: int(5 * 60_000, 100, 86_400_000),
      SWEEP_INTERVAL_MS: int(30_000, 100, 86_400_000),
      REFRESH_INTERVAL_MS: int(60 * 60_000, 1_000, 86_400_000),
      /** Inbox entries older than this are taken as lost on their way to the queue. */
      INBOX_GRACE_MS: int(60_000, 0, 86_400_000),
      /**
       * Test only (fault tests): the aggregator kills its own process after writing the plan of
       * its Nth commit and applying part of it, to prove recovery. 0 (the default) is off.
       */
      CRASH_AFTER_PLAN: int(0, 0, 1_000_000),
    },
    env,
  );
}

export type WorkersConfig = ReturnType<typeof workersConfig>;
