/**
 * Recomputes every aggregate from the raw events (the store of record):
 *   npm run rebuild -- --check   compare the stored aggregates with a recomputation; exit 1 on any difference
 *   npm run rebuild -- --yes     replace the stored aggregates with the recomputation
 * Rebuilding takes the aggregation lease over (the running leader stands by and resumes after),
 * writes through the same crash-safe commits, marks jobs queued meanwhile so their events are not
 * counted twice, and queues every user's list for recomputation. The recomputation is held in
 * memory. --check is exact only when the events queue is drained (queued events are not yet
 * stored aggregates).
 */
import { parseArgs } from 'node:util';
import { DEFAULT_ENGINE_CONFIG } from '@recs/engine';
import { COLLECTIONS, connectMongo, createLogger, type Logger } from '@recs/shared';
import { CatalogCache } from './catalog.ts';
import { workersConfig } from './config.ts';
import { rebuildAggregates } from './rebuildAggregates.ts';
import { compareAggregates, dumpAggregator, readStoredAggregates, recomputeAggregates } from './verify.ts';

const { values } = parseArgs({ options: { check: { type: 'boolean', default: false }, yes: { type: 'boolean', default: false } } });
if (!values.check && !values.yes) {
  console.error('usage: npm run rebuild -- --check | --yes   (--yes replaces every aggregate)');
  process.exit(2);
}

let logger: Logger | undefined;
try {
  const config = workersConfig();
  logger = createLogger('rebuild', config.LOG_LEVEL === 'info' ? 'warn' : config.LOG_LEVEL);
  const mongo = await connectMongo(config.MONGO_URL, config.MONGO_DB, logger, 'recs-rebuild');
  const db = mongo.db;
  const catalog = new CatalogCache(db, logger);
  await catalog.load();
  const engine = DEFAULT_ENGINE_CONFIG;
  const total = await db.collection(COLLECTIONS.events).estimatedDocumentCount();
  const started = Date.now();
  const progress = (replayed: number) => {
    const seconds = (Date.now() - started) / 1000;
    process.stdout.write(`\rreplayed ${replayed}/${total} events (${Math.round(replayed / Math.max(seconds, 0.001))} events/s)`);
  };

  if (values.check) {
    const expected = dumpAggregator(await recomputeAggregates(db, catalog, engine, progress));
    const differences = compareAggregates(await readStoredAggregates(db), expected);
    console.log(
      differences.length === 0
        ? '\nthe stored aggregates equal a recomputation from the raw events'
        : `\n${differences.length}+ differences:\n  ${differences.join('\n  ')}`,
    );
    await mongo.close();
    process.exit(differences.length === 0 ? 0 : 1);
  }

  const result = await rebuildAggregates({
    db,
    catalog,
    engine,
    redisUrl: config.REDIS_URL,
    queuePrefix: config.QUEUE_PREFIX,
    leaderLeaseMs: config.AGGREGATOR_LEASE_MS,
    logger,
    say: (message) => console.log(`\n${message}`),
    onReplayed: progress,
  });
  console.log(
    `\nrebuilt ${result.users} users' aggregates from ${result.events} events in ${((Date.now() - started) / 1000).toFixed(1)} s; their lists are queued`,
  );
  await mongo.close();
} catch (error) {
  console.error(`\nrebuild failed: ${(error as Error).message}`);
  logger?.error({ err: error }, 'rebuild failed');
  process.exit(1);
}
