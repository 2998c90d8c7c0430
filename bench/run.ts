/**
 * npm run bench: starts the system on local services (fresh ones, each service its own process)
 * and measures ingestion, application, freshness, query latency and subscription fan-out.
 * Prints a table (with the CPU each process used in each phase) and writes
 * bench/results/bench-<time>.json. A real Prometheus scrapes every process during the run (when
 * the binary is there), and the freshness phase reports the gateway histogram's p50 / p99 over
 * the same window next to the bench's own client-side figures.
 *   npm run bench -- [--events 50000] [--users 1000] [--rate 200] [--seconds 30] [--warmup 5]
 *                    [--requests 3000] [--concurrency 32] [--subscribers 2000] [--rounds 5]
 *                    [--phases ingest,applied,freshness,query,fanout]
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { ClickstreamSimulator, type SimulatedEvent } from '@recs/devkit';
import { MongoClient } from 'mongodb';
import { CpuMeter } from './lib/cpu.ts';
import { startBenchPrometheus, type PrometheusFreshness } from './lib/prometheus.ts';
import { sleep } from './lib/stats.ts';
import { startBenchSystem } from './lib/system.ts';
import { measureFanout, type FanoutResult } from './phases/fanout.ts';
import { measureFreshness, type FreshnessResult } from './phases/freshness.ts';
import { measureApplied, measureIngest, type AppliedResult, type IngestResult } from './phases/ingest.ts';
import { measureQuery, type QueryResult } from './phases/query.ts';

const { values } = parseArgs({
  options: {
    events: { type: 'string', default: '50000' },
    users: { type: 'string', default: '1000' },
    rate: { type: 'string', default: '200' },
    seconds: { type: 'string', default: '30' },
    warmup: { type: 'string', default: '5' },
    requests: { type: 'string', default: '3000' },
    concurrency: { type: 'string', default: '32' },
    subscribers: { type: 'string', default: '2000' },
    rounds: { type: 'string', default: '5' },
    'ingest-concurrency': { type: 'string', default: '8' },
    phases: { type: 'string', default: 'ingest,applied,freshness,query,fanout' },
  },
});
const n = (name: keyof typeof values) => Number(values[name]);
const phases = new Set(values.phases.split(','));
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
  const cpu: Record<string, Record<string, number>> = {};
  const meter = () =>
    new CpuMeter({
      ...Object.fromEntries([...system.children].map(([name, child]) => [name, child.process.pid!])),
      ...system.services.pids,
      bench: process.pid,
    });
  const measured = async <T>(phase: string, run: () => Promise<T>): Promise<T> => {
    const m = meter();
    m.begin();
    const result = await run();
    cpu[phase] = m.end();
    return result;
  };
  /** Lets the workers finish what they are doing, so the next phase starts on a quiet system. */
  const quiet = async () => {
    while ((await db.collection('event_inbox').countDocuments()) > 0) await sleep(200);
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
    log(`  ${ingest.acceptedPerSecond} events/s accepted`);
  }
  log('applied: starting the workers on the backlog');
  const eventsToApply = ingest?.events ?? 0;
  const appliedRun = await measured('applied', () => measureApplied(system, eventsToApply, mongo));
  if (phases.has('ingest')) {
    applied = appliedRun;
    log(`  ${applied.appliedPerSecond} events/s applied (${applied.flushes} flushes)`);
  }

  let freshness: FreshnessResult | undefined;
  let serverFreshness: (PrometheusFreshness & { ratio: { p50: number; p99: number; fromSentP50: number; fromSentP99: number } }) | undefined;
  if (phases.has('freshness')) {
    await quiet();
    log(`freshness: ${n('rate')} events/s over ${users.length} subscribed users, ${n('warmup')} s warm-up, then ${n('seconds')} s measured`);
    const shoppers = new ClickstreamSimulator({ seed: 2027, users: n('users'), products, userPrefix: 'user-' });
    freshness = await measured('freshness', () => measureFreshness(system, users, shoppers, n('rate'), n('seconds'), n('warmup')));
    log(
      `  event mix: ${Object.entries(freshness.eventMix)
        .map(([type, count]) => `${type} ${count}`)
        .join(', ')}`,
    );
    log(`  p50 ${freshness.latencyMs.p50} ms, p99 ${freshness.latencyMs.p99} ms (${freshness.measured} of ${freshness.eventsSent} events)`);
    // a Prometheus that fails to answer costs its figures, not the run's
    if (prometheus !== undefined) {
      const client = freshness.latencyMs;
      const { startMs, endMs } = freshness.window;
      try {
        const figures = await prometheus.freshness('recommendationsChanged', startMs, endMs);
        const ratio = (server: number, own: number) => Math.round((server / own) * 100) / 100;
        serverFreshness = {
          ...figures,
          ratio: {
            p50: ratio(figures.p50Ms, client.p50),
            p99: ratio(figures.p99Ms, client.p99),
            // against the bench's span that starts where the server's does (trackEvent sent, not answered)
            fromSentP50: ratio(figures.p50Ms, freshness.fromSentMs.p50),
            fromSentP99: ratio(figures.p99Ms, freshness.fromSentMs.p99),
          },
        };
        const health = Object.entries(await prometheus.targets()).map(([job, state]) => `${job} ${state}`);
        log(
          `  Prometheus, gateway histogram over the same ${figures.windowSeconds} s: p50 ${figures.p50Ms} ms, p99 ${figures.p99Ms} ms (${figures.deliveries} deliveries; targets: ${health.join(', ')})`,
        );
      } catch (error) {
        log(`  Prometheus figures unavailable: ${(error as Error).message}`);
      }
    }
  }

  let query: QueryResult | undefined;
  if (phases.has('query')) {
    await quiet();
    log(`query: ${n('requests')} requests at ${n('concurrency')} clients, through the gateway and to the subgraph`);
    query = await measured('query', () => measureQuery(system, users, n('requests'), n('concurrency')));
    log(`  gateway p99 ${query.gatewayMs.p99} ms, subgraph p99 ${query.subgraphMs.p99} ms`);
  }

  let fanout: FanoutResult | undefined;
  if (phases.has('fanout')) {
    await quiet();
    const top = await db.collection<{ items: string }>('best_sellers').findOne({ _id: '*:30' as never });
    const topProduct = top?.items.split('\n')[0]?.split('\t')[0] ?? products[0]!.id;
    log(`fan-out: ${n('subscribers')} WebSocket subscribers of bestSellersChanged, ${n('rounds')} rounds`);
    fanout = await measured('fanout', () => measureFanout(system, topProduct, n('subscribers'), n('rounds')));
    log(`  last delivery p50 ${fanout.lastDeliveryMs.p50} ms`);
  }

  const rows: [string, string, string, boolean | undefined][] = [];
  if (ingest !== undefined)
    rows.push(['ingest: accepted through the gateway', `${ingest.acceptedPerSecond} events/s`, '>= 5,000 events/s', ingest.acceptedPerSecond >= 5_000]);
  if (applied !== undefined)
    rows.push(['ingest: applied by the workers', `${applied.appliedPerSecond} events/s`, '>= 2,000 events/s', applied.appliedPerSecond >= 2_000]);
  if (freshness !== undefined) {
    rows.push([
      `freshness at ${freshness.ratePerSecond}/s, p50 / p95 / p99`,
      `${freshness.latencyMs.p50} / ${freshness.latencyMs.p95} / ${freshness.latencyMs.p99} ms`,
      'p99 <= 250 ms',
      freshness.latencyMs.p99 <= 250,
    ]);
    if (serverFreshness !== undefined) {
      const { p50, p99 } = serverFreshness.ratio;
      rows.push([
        'freshness, Prometheus (gateway histogram, same window), p50 / p99',
        `${serverFreshness.p50Ms} / ${serverFreshness.p99Ms} ms (x${p50} / x${p99} of the bench's)`,
        'within 20% of the bench',
        [p50, p99].every((r) => r >= 0.8 && r <= 1.2),
      ]);
    }
  }
  if (query !== undefined) {
    rows.push(['query via gateway, p50 / p99', `${query.gatewayMs.p50} / ${query.gatewayMs.p99} ms`, 'p99 <= 50 ms', query.gatewayMs.p99 <= 50]);
    rows.push([
      'query, recommendations subgraph alone, p50 / p99',
      `${query.subgraphMs.p50} / ${query.subgraphMs.p99} ms`,
      `gateway x${query.overheadP50} at p50`,
      undefined,
    ]);
  }
  if (fanout !== undefined) {
    rows.push([
      `fan-out to ${fanout.subscribers}: last delivery, median (max) of ${fanout.rounds}`,
      `${fanout.lastDeliveryMs.p50} (${fanout.lastDeliveryMs.max}) ms`,
      '<= 500 ms',
      fanout.lastDeliveryMs.p50 <= 500 && fanout.missed === 0,
    ]);
    const memory = fanout.gatewayMemoryMiB;
    rows.push(['gateway memory: before / with subscribers / after', `${memory.before} / ${memory.withSubscribers} / ${memory.after} MiB`, '', undefined]);
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
  console.log(`\n| measure | result | target | |\n| --- | --- | --- | --- |`);
  for (const [name, result, target, ok] of rows) console.log(`| ${name} | ${result} | ${target} | ${ok === undefined ? '' : ok ? 'met' : 'MISSED'} |`);
  if (freshness !== undefined) {
    console.log('\nfreshness, where the time goes (ms, p50 / p99; see FreshnessResult.stagesMs):');
    for (const [stage, summary] of Object.entries(freshness.stagesMs)) console.log(`  ${stage.padEnd(24)} ${summary.p50} / ${summary.p99}  (n ${summary.n})`);
  }
  if (freshness !== undefined && serverFreshness !== undefined) {
    console.log(
      [
        `\nfreshness, bench vs Prometheus (same ${serverFreshness.windowSeconds} s window; ${freshness.measured} deliveries measured by the bench, ${serverFreshness.deliveries} counted by the gateway):`,
        `  bench (client): p50 ${freshness.latencyMs.p50} ms, p99 ${freshness.latencyMs.p99} ms, from the trackEvent answer arriving to the subscription message arriving`,
        `  Prometheus:     p50 ${serverFreshness.p50Ms} ms, p99 ${serverFreshness.p99Ms} ms, recs_freshness_delivered_seconds{field="recommendationsChanged"}: from the event's receivedAt`,
        `                  (before the mutation answers) to the result handed to the socket (before the client reads it);`,
        `                  the oldest event behind a change, where the bench takes the latest; quantiles interpolated`,
        `                  linearly inside the histogram's buckets (shared/src/metrics.ts FRESHNESS_BUCKETS), so only as exact as those.`,
        `  ratio (Prometheus / bench): p50 x${serverFreshness.ratio.p50}, p99 x${serverFreshness.ratio.p99}`,
        `  bench from trackEvent sent (as the server, before the answer; includes the bench's own socket-pool wait): p50 ${freshness.fromSentMs.p50} ms, p99 ${freshness.fromSentMs.p99} ms (Prometheus x${serverFreshness.ratio.fromSentP50} / x${serverFreshness.ratio.fromSentP99} of it);`,
        `  bench's samples through the same buckets (the interpolation error alone): p50 ${freshness.bucketedMs.p50} ms, p99 ${freshness.bucketedMs.p99} ms;`,
        `  messages that arrived before their event's trackEvent answer (bench: 0 ms): ${freshness.beforeAnswer} of ${freshness.measured}; trackEvent answer p50 ${freshness.stagesMs.trackEventAnswer.p50} ms, p99 ${freshness.stagesMs.trackEventAnswer.p99} ms`,
        `  ${serverFreshness.queries.p99}  @ ${new Date(serverFreshness.endMs).toISOString()}`,
      ].join('\n'),
    );
  }
  if (applied !== undefined) {
    console.log(
      `\napplied: ${applied.flushes} flushes of ~${applied.eventsPerFlush} events, ${applied.documentWrites} documents changed; ms per stage, summed:`,
    );
    console.log(
      `  ${Object.entries(applied.stagesMs)
        .map(([k, v]) => `${k} ${v}`)
        .join(', ')}`,
    );
  }
  console.log('\nCPU per process (% of one core), per phase:');
  for (const [phase, usage] of Object.entries(cpu)) {
    console.log(
      `  ${phase.padEnd(10)} ${Object.entries(usage)
        .sort((a, b) => b[1] - a[1])
        .map(([k, v]) => `${k} ${v}`)
        .join(', ')}`,
    );
  }
  console.log(
    `\nmachine: ${machine.cpus} cores (${machine.cpu}), ${machine.memoryGiB} GiB, Node ${machine.node}, MongoDB-wire: ${machine.mongo}, ${machine.redis}`,
  );

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
        freshnessPrometheus: serverFreshness,
        query,
        fanout,
        cpu,
        targets: rows.map(([name, result, target, ok]) => ({ name, result, target, ok })),
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
