import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { COLLECTIONS, connectRedis, createLogger, listsQueue } from '@recs/shared';
import type { Db } from 'mongodb';
import { sampleValue } from '../lib/scrape.ts';
import { pendingListJobs } from '../lib/settle.ts';
import { sleep } from '../lib/stats.ts';
import type { BenchSystem } from '../lib/system.ts';

export interface WorkerMemory {
  /** process_resident_memory_bytes of the workers' /metrics, MiB. */
  readonly rssMiB: number;
  /** nodejs_heap_size_used_bytes, MiB. */
  readonly heapUsedMiB: number;
  /** nodejs_heap_size_total_bytes, MiB. */
  readonly heapTotalMiB: number;
}

export interface ReplayResult {
  readonly file: string;
  /** Raw events the import stored (the events collection's growth). */
  readonly events: number;
  /** import-events, from start to exit: reading and storing the rows, then recomputing the aggregates. */
  readonly importSeconds: number;
  /** Then until the workers had recomputed every list the import queued. */
  readonly listsSeconds: number;
  /** The import's own summary (its lines that are neither JSON logs nor progress). */
  readonly importSummary: readonly string[];
  readonly workersBefore: WorkerMemory;
  /** Once the lists are recomputed: what the workers keep after the whole file went through. */
  readonly workersAfter: WorkerMemory;
  /** The workers' peak resident memory since they started (VmHWM), MiB. */
  readonly workersPeakRssMiB: number;
}

const DATA_DIR = join(import.meta.dirname, '..', '..', 'data', 'online-retail');

/** The shipped Online Retail file (data/online-retail/*.csv.gz). */
export function onlineRetailFile(): string {
  const name = readdirSync(DATA_DIR).find((file) => file.endsWith('.csv.gz'));
  if (name === undefined) throw new Error(`no .csv.gz file in ${DATA_DIR}`);
  return join(DATA_DIR, name);
}

const MiB = (bytes: number) => Math.round(bytes / 2 ** 20);

async function workerMemory(system: BenchSystem): Promise<WorkerMemory> {
  const samples = await system.scrape('workers');
  return {
    rssMiB: MiB(sampleValue(samples, 'process_resident_memory_bytes')),
    heapUsedMiB: MiB(sampleValue(samples, 'nodejs_heap_size_used_bytes')),
    heapTotalMiB: MiB(sampleValue(samples, 'nodejs_heap_size_total_bytes')),
  };
}

/**
 * Imports the whole Online Retail file as `npm run import-events -- --file F --format
 * online-retail --shift-to-now` does (as `npm start` does once), with the bench's workers running,
 * waits for the workers to recompute every list the import queued, then reads the workers' memory.
 */
export async function measureReplay(system: BenchSystem, db: Db, file: string): Promise<ReplayResult> {
  const events = db.collection(COLLECTIONS.events);
  const eventsBefore = await events.countDocuments();
  const workersBefore = await workerMemory(system);
  const started = performance.now();
  const output = await system.importEvents(['--file', file, '--format', 'online-retail', '--shift-to-now']);
  const imported = performance.now();

  const redis = await connectRedis(system.env['REDIS_URL']!, createLogger('bench', 'silent'), 'bench-replay');
  const lists = listsQueue(redis, system.env['QUEUE_PREFIX'] ?? 'recs');
  try {
    while ((await pendingListJobs(lists)) > 0) await sleep(500);
  } finally {
    await lists.close();
    await redis.close();
  }
  const done = performance.now();
  const workersAfter = await workerMemory(system);
  return {
    file,
    events: (await events.countDocuments()) - eventsBefore,
    importSeconds: Math.round((imported - started) / 10) / 100,
    listsSeconds: Math.round((done - imported) / 10) / 100,
    importSummary: output.filter((line) => !line.startsWith('{') && !/^\w+ \d+% /.test(line)),
    workersBefore,
    workersAfter,
    workersPeakRssMiB: system.peakRssMiB('workers'),
  };
}
