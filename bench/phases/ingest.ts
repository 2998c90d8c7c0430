import type { MongoClient } from 'mongodb';
import type { SimulatedEvent } from '@recs/devkit';
import { pool, sleep, summarize, type Summary } from '../lib/stats.ts';
import type { BenchSystem } from '../lib/system.ts';

export interface IngestResult {
  readonly events: number;
  readonly batchSize: number;
  readonly concurrency: number;
  readonly seconds: number;
  readonly acceptedPerSecond: number;
  /** trackEvents calls answered without errors; one that failed (reset, timed out, errors) is counted in failedCalls instead. */
  readonly callLatencyMs: Summary;
  readonly failedCalls: number;
}

const TRACK = `mutation ($e: [TrackEventInput!]!) { trackEvents(inputs: $e) { accepted rejected { index code } } }`;

/** trackEvents calls through the gateway, `concurrency` at a time, with the workers stopped. */
export async function measureIngest(system: BenchSystem, batches: readonly SimulatedEvent[][], concurrency: number): Promise<IngestResult> {
  const latencies: number[] = [];
  let accepted = 0;
  let failedCalls = 0;
  const started = performance.now();
  await pool(batches, concurrency, async (batch) => {
    const sent = performance.now();
    const result = await system.post<{ trackEvents: { accepted: number } }>(system.gatewayUrl, TRACK, { e: batch });
    if (result.errors !== undefined || result.data === undefined) {
      failedCalls++;
      return;
    }
    latencies.push(performance.now() - sent);
    accepted += result.data.trackEvents.accepted;
  });
  const seconds = (performance.now() - started) / 1000;
  return {
    events: accepted,
    batchSize: batches[0]?.length ?? 0,
    concurrency,
    seconds: Math.round(seconds * 100) / 100,
    acceptedPerSecond: Math.round(accepted / seconds),
    callLatencyMs: summarize(latencies),
    failedCalls,
  };
}

export interface AppliedResult {
  readonly events: number;
  readonly seconds: number;
  readonly appliedPerSecond: number;
  readonly flushes: number;
  readonly eventsPerFlush: number;
  /** Total milliseconds per flush stage over the whole drain. */
  readonly stagesMs: Readonly<Record<string, number>>;
  readonly documentWrites: number;
}

/** Starts the workers on the backlog and times until every stored batch is applied. */
export async function measureApplied(system: BenchSystem, events: number, mongo: MongoClient): Promise<AppliedResult> {
  const stages: Record<string, number> = {};
  let flushes = 0;
  let writes = 0;
  const onLine = (line: string) => {
    if (!line.includes('"msg":"flushed"')) return;
    const stats = JSON.parse(line) as { events: number; stages: Record<string, number> };
    if (stats.events === 0) return;
    flushes++;
    for (const [stage, ms] of Object.entries(stats.stages)) {
      if (stage === 'commit.writes') writes += ms;
      else if (stage === 'commit.planKiB') continue;
      else stages[stage] = (stages[stage] ?? 0) + ms;
    }
  };
  const inbox = mongo.db('bench').collection('event_inbox');
  await system.startWorkers(onLine);
  const started = performance.now();
  // a benchmark may poll: it reads the backlog every 100 ms
  while ((await inbox.countDocuments()) > 0) await sleep(100);
  const seconds = (performance.now() - started) / 1000;
  return {
    events,
    seconds: Math.round(seconds * 100) / 100,
    appliedPerSecond: Math.round(events / seconds),
    flushes,
    eventsPerFlush: Math.round(events / Math.max(1, flushes)),
    stagesMs: Object.fromEntries(Object.entries(stages).map(([k, v]) => [k, Math.round(v)])),
    documentWrites: writes,
  };
}
