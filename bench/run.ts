/**
 * npm run bench: starts the system on local services (fresh ones, as separate processes) and
 * measures ingestion, application, freshness, query latency and subscription fan-out.
 * Prints a table and writes bench/results/bench-<time>.json.
 *   npm run bench -- [--events 50000] [--users 1000] [--rate 200] [--seconds 30]
 *                    [--requests 3000] [--concurrency 32] [--subscribers 2000] [--rounds 5]
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { ClickstreamSimulator, type SimulatedEvent } from '@recs/devkit';
import { MongoClient } from 'mongodb';
import { measureFanout } from './phases/fanout.ts';
import { measureFreshness } from './phases/freshness.ts';
import { measureApplied, measureIngest } from './phases/ingest.ts';
import { measureQuery } from './phases/query.ts';
import { startBenchSystem } from './lib/system.ts';

const { values } = parseArgs({
  options: {
    events: { type: 'string', default: '50000' },
    users: { type: 'string', default: '1000' },
    rate: { type: 'string', default: '200' },
    seconds: { type: 'string', default: '30' },
    requests: { type: 'string', default: '3000' },
    concurrency: { type: 'string', default: '32' },
    subscribers: { type: 'string', default: '2000' },
    rounds: { type: 'string', default: '5' },
    'ingest-concurrency': { type: 'string', default: '8' },
  },
});
const n = (name: keyof typeof values) => Number(values[name]);
const log = (message: string) => console.log(`[bench] ${message}`);

function version(command: string, args: string[]): string {
  try {
    return execFileSync(command, args, { encoding: 'utf8' }).trim().split('\n')[0]!;
  } catch {
    return 'unknown';
  }
}

const system = await startBenchSystem(log);
try {
  // the catalog for the simulator, straight from MongoDB (faster than paging the API)
  const mongo = new MongoClient(system.services.mongoUrl);
  await mongo.connect();
  const products = (await mongo.db('bench').collection<{ _id: string; categoryId?: string; price?: number }>('products').find().toArray()).map((p) => ({
    id: p._id,
    categoryId: p.categoryId ?? 'other',
    ...(p.price === undefined ? {} : { price: p.price }),
  }));
  log(`catalog: ${products.length} products`);

  const simulator = new ClickstreamSimulator({ seed: 2026, users: n('users'), products, userPrefix: 'user-' });
  const events: SimulatedEvent[] = [];
  while (events.length < n('events')) events.push(...simulator.session());
  const batches: (SimulatedEvent & { eventId: string })[][] = [];
  for (let i = 0; i < n('events'); i += 100) batches.push(events.slice(i, i + 100).map((e, j) => ({ ...e, eventId: `bench-${i + j}` })));

  log(`ingest: ${n('events')} events in trackEvents batches of 100, ${n('ingest-concurrency')} clients, workers stopped`);
  const ingest = await measureIngest(system, batches, n('ingest-concurrency'));
  log(`  ${ingest.acceptedPerSecond} events/s accepted`);
  log('applied: starting the workers on the backlog');
  const applied = await measureApplied(system, ingest.events, mongo);
  log(`  ${applied.appliedPerSecond} events/s applied (${applied.flushes} flushes)`);

  const users = Array.from({ length: n('users') }, (_, i) => `user-${i + 1}`);
  log(`freshness: ${n('rate')} events/s over ${users.length} subscribed users for ${n('seconds')} s`);
  const freshness = await measureFreshness(system, users, products.map((p) => p.id), n('rate'), n('seconds'));
  log(`  p50 ${freshness.latencyMs.p50} ms, p99 ${freshness.latencyMs.p99} ms`);

  log(`query: ${n('requests')} requests at ${n('concurrency')} clients, through the gateway and to the subgraph`);
  const query = await measureQuery(system, users, n('requests'), n('concurrency'));
  log(`  gateway p99 ${query.gatewayMs.p99} ms, subgraph p99 ${query.subgraphMs.p99} ms`);

  const top = await mongo.db('bench').collection<{ items: { p: string }[] }>('best_sellers').findOne({ _id: '*:30' as never });
  log(`fan-out: ${n('subscribers')} WebSocket subscribers of bestSellersChanged, ${n('rounds')} rounds`);
  const fanout = await measureFanout(system, top?.items[0]?.p ?? products[0]!.id, n('subscribers'), n('rounds'));
  log(`  last delivery p50 ${fanout.lastDeliveryMs.p50} ms`);
  await mongo.close();

  const targets = [
    ['ingest: accepted through the gateway', `${ingest.acceptedPerSecond} events/s`, '>= 5,000 events/s', ingest.acceptedPerSecond >= 5_000],
    ['ingest: applied by the workers', `${applied.appliedPerSecond} events/s`, '>= 2,000 events/s', applied.appliedPerSecond >= 2_000],
    ['freshness p50 / p95 / p99', `${freshness.latencyMs.p50} / ${freshness.latencyMs.p95} / ${freshness.latencyMs.p99} ms`, 'p99 <= 250 ms', freshness.latencyMs.p99 <= 250],
    ['query via gateway p50 / p99', `${query.gatewayMs.p50} / ${query.gatewayMs.p99} ms`, 'p99 <= 50 ms', query.gatewayMs.p99 <= 50],
    ['query, subgraph alone p50 / p99', `${query.subgraphMs.p50} / ${query.subgraphMs.p99} ms`, `gateway overhead x${query.overheadP50} (p50)`, true],
    [
      `fan-out to ${fanout.subscribers}: last delivery (median of ${fanout.rounds})`,
      `${fanout.lastDeliveryMs.p50} ms (max ${fanout.lastDeliveryMs.max})`,
      '<= 500 ms',
      fanout.lastDeliveryMs.p50 <= 500 && fanout.missed === 0,
    ],
    [
      'gateway memory: before / with subscribers / after',
      `${fanout.gatewayMemoryMiB.before} / ${fanout.gatewayMemoryMiB.withSubscribers} / ${fanout.gatewayMemoryMiB.after} MiB`,
      '',
      true,
    ],
  ] as const;
  const machine = {
    cpus: cpus().length,
    cpu: cpus()[0]?.model ?? 'unknown',
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    node: process.version,
    mongo: system.services.mongoKind,
    redis: version('redis-server', ['--version']),
    note: 'everything on one machine: load generator, gateway, three subgraphs, workers, FerretDB (SQLite) and Redis',
  };
  console.log(`\n| measure | result | target | |\n| --- | --- | --- | --- |`);
  for (const [name, result, target, ok] of targets) console.log(`| ${name} | ${result} | ${target} | ${target === '' ? '' : ok ? 'met' : 'MISSED'} |`);
  console.log(`\nwhere the applied time went (ms, summed over ${applied.flushes} flushes of ~${applied.eventsPerFlush} events; ${applied.documentWrites} document writes):`);
  console.log(`  ${Object.entries(applied.stagesMs).map(([k, v]) => `${k} ${v}`).join(', ')}`);
  console.log(`machine: ${machine.cpus} cores (${machine.cpu}), ${machine.memoryGiB} GiB, Node ${machine.node}, MongoDB-wire: ${machine.mongo}, ${machine.redis}`);

  const out = join(import.meta.dirname, 'results');
  mkdirSync(out, { recursive: true });
  const file = join(out, `bench-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
  writeFileSync(
    file,
    JSON.stringify(
      { at: new Date().toISOString(), machine, parameters: values, ingest, applied, freshness, query, fanout, targets: targets.map(([name, result, target, ok]) => ({ name, result, target, ok })) },
      null,
      2,
    ),
  );
  console.log(`\nresults: ${file}`);
} finally {
  await system.stop();
}
