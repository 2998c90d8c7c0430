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
import { hostname } from 'node:os';
import { parseArgs } from 'node:util';
import { Aggregator, DEFAULT_ENGINE_CONFIG, type FlushChanges } from '@recs/engine';
import {
  COLLECTIONS,
  connectMongo,
  connectRedis,
  createLogger,
  listJob,
  listsQueue,
  parseCoocDocId,
  rawEventKey,
  type Logger,
  type RawEventDoc,
} from '@recs/shared';
import { CatalogCache } from './catalog.ts';
import { workersConfig } from './config.ts';
import { Lease } from './lease.ts';
import { MongoAggregateStore } from './mongoStore.ts';
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

  const lease = new Lease(db, 'aggregator', `rebuild:${hostname()}:${process.pid}`, 10 * 60_000);
  await lease.takeOver();
  // the leader notices at its next renewal and its commits stop at the next write (the fence)
  console.log(`took the aggregation lease over; waiting ${config.AGGREGATOR_LEASE_MS / 1000} s for the leader to stand by`);
  await new Promise((resolve) => setTimeout(resolve, config.AGGREGATOR_LEASE_MS));
  const renew = setInterval(() => void lease.renew(), 60_000);
  const rebuildStarted = new Date();
  const store = new MongoAggregateStore(db);
  await store.resetForRebuild(rebuildStarted);
  const recomputed = await recomputeAggregates(db, catalog, engine, progress);
  console.log('\nwriting the aggregates...');

  // the recomputation as one changeset of absolute values, committed in slices
  const users = [];
  const cooc: FlushChanges['cooc'][number][] = [];
  const buyerDays: FlushChanges['buyerDays'][number][] = [];
  for (const entry of recomputed.dump()) {
    if (entry.kind === 'user') users.push(entry.state);
    else if (entry.kind === 'cooc') cooc.push({ ...parseCoocDocId(entry.key), users: entry.cooc.users, pairs: [...entry.cooc.pairs], top: entry.cooc.top });
    else buyerDays.push([entry.productId, [...entry.days], entry.rebuyers]);
  }
  // applied_events holds eventKeys, as the aggregator records them
  const eventIds = (
    await db
      .collection<RawEventDoc>(COLLECTIONS.events)
      .find({}, { projection: { _id: 1, userId: 1 } })
      .toArray()
  ).map(rawEventKey);
  const slice = 2_000;
  const slices = Math.max(1, Math.ceil(Math.max(users.length, cooc.length, buyerDays.length, eventIds.length / 10) / slice));
  for (let i = 0; i < slices; i++) {
    await store.commit({
      users: users.slice(i * slice, (i + 1) * slice),
      cooc: cooc.slice(i * slice, (i + 1) * slice),
      buyerDays: buyerDays.slice(i * slice, (i + 1) * slice),
      universe: i === 0 ? recomputed.universe : undefined,
      bestSellers: [],
      eventIds: eventIds.slice(i * slice * 10, (i + 1) * slice * 10),
    });
    process.stdout.write(`\rwritten ${i + 1}/${slices}`);
  }
  // best sellers are re-ranked by the aggregator on its next tick; rank them now as well, from
  // the buyer days once they are all written
  await store.written();
  const ranker = new Aggregator(store, catalog, engine, { cacheSize: 1_000 });
  await ranker.start();
  await ranker.refresh(Date.now());
  await store.writeBehind();
  await store.close({ flush: true });
  await store.setVerifyBefore(new Date());
  clearInterval(renew);
  await lease.release();

  const redis = await connectRedis(config.REDIS_URL, logger, 'rebuild');
  const lists = listsQueue(redis, config.QUEUE_PREFIX);
  for (let i = 0; i < users.length; i += 1_000) await lists.addBulk(users.slice(i, i + 1_000).map((u) => listJob(u.userId)));
  await lists.close();
  await redis.close();
  console.log(
    `\nrebuilt ${users.length} users' aggregates from ${eventIds.length} events in ${((Date.now() - started) / 1000).toFixed(1)} s; their lists are queued`,
  );
  await mongo.close();
} catch (error) {
  console.error(`\nrebuild failed: ${(error as Error).message}`);
  logger?.error({ err: error }, 'rebuild failed');
  process.exit(1);
}
