import { COLLECTIONS, connectRedis, createLogger, listsQueue } from '@recs/shared';
import type { Db } from 'mongodb';
import { sampleValue } from './scrape.ts';
import { sleep } from './stats.ts';
import type { BenchSystem } from './system.ts';

/** What the workers still had to do from earlier load when settle() looked last. */
export interface Backlog {
  /** Ingestion batches not yet applied (event_inbox). */
  readonly inbox: number;
  /** List jobs waiting, delayed or running. */
  readonly listJobs: number;
  /** Aggregate documents committed but not yet written behind (recs_write_behind_backlog_documents). */
  readonly writeBehind: number;
}

export interface Settled {
  readonly seconds: number;
  /** False when `timeoutMs` passed first: the next phase then starts on this backlog. */
  readonly settled: boolean;
  readonly left: Backlog;
}

const idle = (backlog: Backlog) => backlog.inbox === 0 && backlog.listJobs === 0 && backlog.writeBehind === 0;

/** The list jobs not finished yet: BullMQ announces no "queue empty" to a producer, so callers poll this. */
export async function pendingListJobs(lists: ReturnType<typeof listsQueue>): Promise<number> {
  const counts = await lists.getJobCounts('waiting', 'active', 'delayed', 'prioritized', 'waiting-children');
  return Object.values(counts).reduce((sum, count) => sum + count, 0);
}

/**
 * Waits until the workers are done with earlier load: every ingestion batch applied, every list
 * job it queued run, every aggregate document it changed written behind. A 50,000-event backlog
 * leaves tens of seconds of list jobs and writes behind it after its last event is applied; a
 * phase started meanwhile would measure them too, and by how much depends on how far they got.
 * Polls (none of the three is announced) and stops waiting after `timeoutMs`, saying so.
 */
export async function settle(system: BenchSystem, db: Db, timeoutMs = 300_000): Promise<Settled> {
  const started = performance.now();
  const redis = await connectRedis(system.env['REDIS_URL']!, createLogger('bench', 'silent'), 'bench-settle');
  const lists = listsQueue(redis, system.env['QUEUE_PREFIX'] ?? 'recs');
  try {
    for (;;) {
      const inbox = await db.collection(COLLECTIONS.inbox).countDocuments();
      const listJobs = await pendingListJobs(lists);
      // the gauge is read on scrape; no workers running (or none answering, or no gauge) is nothing to wait for
      const writeBehind = await system.scrape('workers').then(
        (samples) => sampleValue(samples, 'recs_write_behind_backlog_documents') || 0,
        () => 0,
      );
      const left = { inbox, listJobs, writeBehind };
      const seconds = Math.round(performance.now() - started) / 1000;
      if (idle(left)) return { seconds, settled: true, left };
      if (performance.now() - started > timeoutMs) return { seconds, settled: false, left };
      await sleep(250);
    }
  } finally {
    await lists.close();
    await redis.close();
  }
}
