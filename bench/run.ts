/**
 * npm run bench: starts the system on local services (fresh ones, each service its own process)
 * and measures ingestion, application, freshness at two rates, query latency, subscription
 * fan-out and the replay of the whole Online Retail file. Prints the figures of each phase, the
 * CPU every process used in each phase and per event, and last one row per target (measured,
 * target, met / MISSED), and writes all of it to bench/results/bench-<time>.json. A real
 * Prometheus scrapes every process during the run (when the binary is there), and the freshness
 * phases report the gateway histogram's p50 / p99 over the same window next to the bench's own
 * client-side figures.
 *   npm run bench -- [--events 50000] [--users 1000] [--rate 200] [--rate2 500] [--seconds 30]
 *                    [--warmup 5] [--requests 3000] [--concurrency 32] [--subscribers 10000]
 *                    [--rounds 5] [--phases ingest,applied,freshness,freshness500,query,fanout,replay]
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { ClickstreamSimulator, type SimulatedEvent } from '@recs/devkit';
import { MongoClient } from 'mongodb';
import { CpuMeter, type CpuUsage } from './lib/cpu.ts';
import { readEvaluatorReplay } from './lib/evaluatorReplay.ts';
import { startBenchPrometheus } from './lib/prometheus.ts';
import {
  fanoutFailures,
  formatCpu,
  formatFanout,
  formatFreshness,
  formatReplay,
  msPerEvent,
  type FreshnessRun,
  type PhaseEvents,
  type ServerFreshness,
} from './lib/report.ts';
import { settle } from './lib/settle.ts';
import { sleep } from './lib/stats.ts';
import { startBenchSystem } from './lib/system.ts';
import { assessTargets, formatTargets } from './lib/targets.ts';
import { measureFanout, type FanoutResult } from './phases/fanout.ts';
import { measureFreshness, type FreshnessResult } from './phases/freshness.ts';
import { measureApplied, measureIngest, type AppliedResult, type IngestResult } from './phases/ingest.ts';
import { measureQuery, type QueryResult } from './phases/query.ts';
import { measureReplay, onlineRetailFile, type ReplayResult } from './phases/replay.ts';

const PHASES = ['ingest', 'applied', 'freshness', 'freshness500', 'query', 'fanout', 'replay'] as const;
const NUMBERS = ['events', 'users', 'rate', 'rate2', 'seconds', 'warmup', 'requests', 'concurrency', 'subscribers', 'rounds', 'ingest-concurrency'] as const;

const { values } = parseArgs({
  options: {
    events: { type: 'string', default: '50000' },
    users: { type: 'string', default: '1000' },
    rate: { type: 'string', default: '200' },
    rate2: { type: 'string', default: '500' },
    seconds: { type: 'string', default: '30' },
    warmup: { type: 'string', default: '5' },
    requests: { type: 'string', default: '3000' },
    concurrency: { type: 'string', default: '32' },
    subscribers: { type: 'string', default: '10000' },
    rounds: { type: 'string', default: '5' },
    'ingest-concurrency': { type: 'string', default: '8' },
    phases: { type: 'string', default: PHASES.join(',') },
  },
});
const phases = new Set(values.phases.split(','));
const unknown = [...phases].filter((phase) => !(PHASES as readonly string[]).includes(phase));
const badNumbers = NUMBERS.filter((name) => !/^\d+$/.test(values[name]) || (Number(values[name]) === 0 && name !== 'warmup'));
if (unknown.length > 0 || badNumbers.length > 0) {
  if (unknown.length > 0) console.error(`unknown phase ${unknown.join(', ')}: the phases are ${PHASES.join(', ')}`);
  for (const name of badNumbers) console.error(`--${name} ${values[name]}: a whole number above 0 (--warmup: 0 or more)`);
  process.exit(2);
}
const n = (name: (typeof NUMBERS)[number]) => Number(values[name]);
const log = (message: string) => console.log(`[bench] ${message}`);

function version(command: string, args: string[]): string {
  try {
    return execFileSync(command, args, { encoding: 'utf8' }).trim().split('\n')[0]!;
  } catch {
    return 'unknown';
  }
}

const system = await startBenchSystem(log);
// the workers' port is scraped before they start (down until the applied phase): harmless
const prometheus = await startBenchPrometheus({ dir: join(system.dataDir, 'prometheus'), ports: system.ports, log });
const mongo = new MongoClient(system.services.mongoUrl);
try {
  await mongo.connect();
  const db = mongo.db('bench');
  const products = (await db.collection<{ _id: string; categoryId?: string; price?: number }>('products').find().toArray()).map((p) => ({
    id: p._id,
    categoryId: p.categoryId ?? 'other',
    ...(p.price === undefined ? {} : { price: p.price }),
  }));
  log(`catalog: ${products.length} products`);
  const users = Array.from({ length: n('users') }, (_, i) => `user-${i + 1}`);
  const cpu: Record<string, CpuUsage> = {};
  /** What each phase's CPU is divided by. */
  const handled: Record<string, PhaseEvents> = {};
  // the processes are read when a phase starts and when it ends: the workers start in one
  const meter = () => new CpuMeter(() => system.pids());
  const measured = async <T>(phase: string, run: () => Promise<T>): Promise<T> => {
    const m = meter();
    m.begin();
    const result = await run();
    cpu[phase] = m.end();
    return result;
  };
  /** Lets the workers finish what earlier phases left them (see settle()), so the next phase starts on a quiet system. */
  const quiet = async () => {
    const { seconds, settled, left } = await settle(system, db);
    if (settled) log(`  settled in ${seconds} s (no ingestion batch, list job or write behind left)`);
    else
      log(
        `  NOT settled after ${seconds} s: ${left.inbox} ingestion batches, ${left.listJobs} list jobs, ${left.writeBehind} documents to write behind; going on`,
      );
    await sleep(1_000);
  };

  let ingest: IngestResult | undefined;
  let applied: AppliedResult | undefined;
  if (phases.has('ingest')) {
    const simulator = new ClickstreamSimulator({ seed: 2026, users: n('users'), products, userPrefix: 'user-' });
    const events: SimulatedEvent[] = [];
    while (events.length < n('events')) events.push(...simulator.session());
    const batches: (SimulatedEvent & { eventId: string })[][] = [];
    for (let i = 0; i < n('events'); i += 100) batches.push(events.slice(i, i + 100).map((e, j) => ({ ...e, eventId: `bench-${i + j}` })));
    log(`ingest: ${n('events')} events in trackEvents batches of 100, ${n('ingest-concurrency')} clients, workers stopped`);
    ingest = await measured('ingest', () => measureIngest(system, batches, n('ingest-concurrency')));
    handled['ingest'] = { events: ingest.events, what: 'accepted' };
    log(`  ${ingest.acceptedPerSecond} events/s accepted${ingest.failedCalls > 0 ? `; ${ingest.failedCalls} trackEvents calls failed` : ''}`);
  }
  log('applied: starting the workers on the backlog');
  const eventsToApply = ingest?.events ?? 0;
  const appliedRun = await measured('applied', () => measureApplied(system, eventsToApply, mongo));
  if (phases.has('ingest')) {
    applied = appliedRun;
    handled['applied'] = { events: applied.events, what: 'applied' };
    log(`  ${applied.appliedPerSecond} events/s applied (${applied.flushes} flushes)`);
  }

  const freshnessRuns: FreshnessRun[] = [];
  const freshnessPhase = async (phase: 'freshness' | 'freshness500', rate: number, seed: number): Promise<FreshnessResult> => {
    await quiet();
    log(`${phase}: ${rate} events/s over ${users.length} subscribed users, ${n('warmup')} s warm-up, then ${n('seconds')} s measured`);
    const shoppers = new ClickstreamSimulator({ seed, users: n('users'), products, userPrefix: 'user-' });
    const result = await measured(phase, () => measureFreshness(system, users, shoppers, rate, n('seconds'), n('warmup')));
    handled[phase] = { events: result.eventsAccepted, what: 'accepted' };
    log(
      `  event mix: ${Object.entries(result.eventMix)
        .map(([type, count]) => `${type} ${count}`)
        .join(', ')}`,
    );
    log(`  p50 ${result.latencyMs.p50} ms, p99 ${result.latencyMs.p99} ms (${result.measured} of ${result.eventsSent} events)`);
    const { failed } = result;
    if (failed.trackEvents + failed.probes + failed.subscriptions + failed.changeChannel > 0)
      log(
        `  failed: ${failed.trackEvents} trackEvent calls, ${failed.probes} probes, ${failed.subscriptions} subscriptions, ${failed.changeChannel} errors of the Redis connection timing changes`,
      );
    freshnessRuns.push({ phase, result, server: await serverSide(result), msPerEvent: msPerEvent(cpu[phase], result.eventsAccepted) ?? Number.NaN });
    return result;
  };
  /** The gateway histogram over the phase's window; a Prometheus that fails to answer costs its figures, not the run's. */
  const serverSide = async (result: FreshnessResult): Promise<ServerFreshness | undefined> => {
    if (prometheus === undefined) return undefined;
    const client = result.latencyMs;
    try {
      const figures = await prometheus.freshness('recommendationsChanged', result.window.startMs, result.window.endMs);
      // NaN when the bench's figure is 0 (every message came before its answer)
      const ratio = (server: number, own: number) => (own > 0 ? Math.round((server / own) * 100) / 100 : Number.NaN);
      const health = Object.entries(await prometheus.targets()).map(([job, state]) => `${job} ${state}`);
      log(
        `  Prometheus, gateway histogram over the same ${figures.windowSeconds} s: p50 ${figures.p50Ms} ms, p99 ${figures.p99Ms} ms (${figures.deliveries} deliveries; targets: ${health.join(', ')})`,
      );
      return {
        ...figures,
        ratio: {
          p50: ratio(figures.p50Ms, client.p50),
          p99: ratio(figures.p99Ms, client.p99),
          // against the bench's span that starts where the server's does (trackEvent sent, not answered)
          fromSentP50: ratio(figures.p50Ms, result.fromSentMs.p50),
          fromSentP99: ratio(figures.p99Ms, result.fromSentMs.p99),
        },
      };
    } catch (error) {
      log(`  Prometheus figures unavailable: ${(error as Error).message}`);
      return undefined;
    }
  };
  const freshness = phases.has('freshness') ? await freshnessPhase('freshness', n('rate'), 2027) : undefined;
  const freshness500 = phases.has('freshness500') ? await freshnessPhase('freshness500', n('rate2'), 2028) : undefined;

  let query: QueryResult | undefined;
  if (phases.has('query')) {
    await quiet();
    log(`query: ${n('requests')} requests at ${n('concurrency')} clients, through the gateway and to the subgraph`);
    query = await measured('query', () => measureQuery(system, users, n('requests'), n('concurrency')));
    log(`  gateway p99 ${query.gatewayMs.p99} ms, subgraph p99 ${query.subgraphMs.p99} ms`);
    if (query.failed.gateway + query.failed.subgraph > 0)
      log(`  failed: ${query.failed.gateway} through the gateway, ${query.failed.subgraph} to the subgraph`);
  }

  let fanout: FanoutResult | undefined;
  if (phases.has('fanout')) {
    await quiet();
    const top = await db.collection<{ items: string }>('best_sellers').findOne({ _id: '*:30' as never });
    const topProduct = top?.items.split('\n')[0]?.split('\t')[0] ?? products[0]!.id;
    log(`fan-out: ${n('subscribers')} WebSocket subscribers of bestSellersChanged, ${n('rounds')} rounds`);
    fanout = await measured('fanout', () => measureFanout(system, topProduct, n('subscribers'), n('rounds'), meter()));
    // connecting the subscribers is no event's cost: per event is the rounds' CPU over their purchases
    cpu['fanout.rounds'] = fanout.roundsCpu;
    handled['fanout.rounds'] = { events: fanout.rounds - fanout.failed.rounds, what: `accepted, each to ${fanout.subscribers}` };
    log(`  last delivery p50 ${fanout.lastDeliveryMs.p50} ms; failed: ${fanoutFailures(fanout)}`);
  }

  let replay: ReplayResult | undefined;
  if (phases.has('replay')) {
    await quiet();
    const file = onlineRetailFile();
    log(`replay: npm run import-events -- --file ${file} --format online-retail --shift-to-now, then every list it queued`);
    replay = await measured('replay', () => measureReplay(system, db, file));
    handled['replay'] = { events: replay.events, what: 'imported' };
    log(`  workers after: RSS ${replay.workersAfter.rssMiB} MiB, heap used ${replay.workersAfter.heapUsedMiB} MiB`);
  }

  const evaluator = readEvaluatorReplay();
  const targets = assessTargets({ ingest, applied, freshness, freshness500, query, fanout, evaluator });
  const cpuPerEvent = Object.fromEntries(
    Object.entries(handled).map(([phase, { events, what }]) => [phase, { events, what, msPerEvent: msPerEvent(cpu[phase], events) ?? null }]),
  );
  if (cpu['ingest'] !== undefined && cpu['applied'] !== undefined && ingest !== undefined) {
    // an event's whole cost: accepting it and applying it
    cpuPerEvent['ingest+applied'] = {
      events: ingest.events,
      what: 'accepted and applied',
      msPerEvent: msPerEvent({ ...cpu['ingest'], totalMs: cpu['ingest'].totalMs + cpu['applied'].totalMs }, ingest.events) ?? null,
    };
  }
  const machine = {
    cpus: cpus().length,
    cpu: cpus()[0]?.model ?? 'unknown',
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    node: process.version,
    mongo: system.services.mongoKind,
    redis: version('redis-server', ['--version']),
    note: 'everything on one machine: load generator, gateway, three subgraphs, workers, the MongoDB-wire server and Redis',
  };

  if (ingest !== undefined && applied !== undefined) {
    console.log(
      `\ningest: ${ingest.acceptedPerSecond} events/s accepted (trackEvents call p50 ${ingest.callLatencyMs.p50} ms, p99 ${ingest.callLatencyMs.p99} ms; ${ingest.failedCalls} calls failed); applied: ${applied.appliedPerSecond} events/s`,
    );
    console.log(`  ${applied.flushes} flushes of ~${applied.eventsPerFlush} events, ${applied.documentWrites} documents changed; ms per stage, summed:`);
    console.log(
      `  ${Object.entries(applied.stagesMs)
        .map(([k, v]) => `${k} ${v}`)
        .join(', ')}`,
    );
  }
  if (freshnessRuns.length > 0) console.log(formatFreshness(freshnessRuns));
  if (query !== undefined) {
    console.log(
      `\nquery, ${query.concurrency} clients, p50 / p95 / p99 ms: through the gateway ${query.gatewayMs.p50} / ${query.gatewayMs.p95} / ${query.gatewayMs.p99}; the recommendations subgraph alone ${query.subgraphMs.p50} / ${query.subgraphMs.p95} / ${query.subgraphMs.p99} (gateway x${query.overheadP50} at p50, x${query.overheadP99} at p99); failed ${query.failed.gateway} / ${query.failed.subgraph}`,
    );
  }
  if (fanout !== undefined) console.log(formatFanout(fanout));
  if (replay !== undefined) console.log(formatReplay(replay));
  console.log(formatCpu(cpu, handled));
  if (cpuPerEvent['ingest+applied'] !== undefined)
    console.log(`  ingest + applied: ${cpuPerEvent['ingest+applied'].msPerEvent} ms CPU per event, accepted and applied`);
  if (!evaluator.measured) console.log(`\nevaluator replay rate not measured: ${evaluator.why}`);
  console.log(
    `\nmachine: ${machine.cpus} cores (${machine.cpu}), ${machine.memoryGiB} GiB, Node ${machine.node}, MongoDB-wire: ${machine.mongo}, ${machine.redis}`,
  );
  console.log(`\ntargets:\n${formatTargets(targets)}`);

  const out = join(import.meta.dirname, 'results');
  mkdirSync(out, { recursive: true });
  const file = join(out, `bench-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
  writeFileSync(
    file,
    JSON.stringify(
      {
        at: new Date().toISOString(),
        machine,
        parameters: values,
        ingest,
        applied,
        freshness,
        freshnessPrometheus: freshnessRuns.find((run) => run.phase === 'freshness')?.server,
        freshness500,
        freshness500Prometheus: freshnessRuns.find((run) => run.phase === 'freshness500')?.server,
        query,
        fanout,
        replay,
        evaluatorReplay: evaluator,
        cpu: Object.fromEntries(Object.entries(cpu).map(([phase, usage]) => [phase, usage.percent])),
        cpuMs: Object.fromEntries(
          Object.entries(cpu).map(([phase, usage]) => [phase, { seconds: usage.seconds, totalMs: Math.round(usage.totalMs), ...usage.ms }]),
        ),
        cpuPerEvent,
        targets,
      },
      null,
      2,
    ),
  );
  console.log(`results: ${file}`);
} finally {
  await mongo.close();
  // before the services: their stop() removes the folder Prometheus writes in
  await prometheus?.stop();
  await system.stop();
}
