/**
 * Replaces every stored aggregate with a recomputation from the raw events (the store of record),
 * the way `npm run rebuild -- --yes` and `npm run import-events` both need it. It takes the
 * aggregation lease over (a running leader stands by and resumes after), writes through the same
 * crash-safe commits, marks jobs queued meanwhile so their events are not counted twice, and
 * queues every user's list for recomputation. The recomputation is held in memory.
 */
import { hostname } from 'node:os';
import { Aggregator, type EngineConfig, type FlushChanges } from '@recs/engine';
import { COLLECTIONS, connectRedis, listJob, listsQueue, parseCoocDocId, rawEventKey, type Logger, type RawEventDoc } from '@recs/shared';
import type { Db } from 'mongodb';
import type { CatalogCache } from './catalog.ts';
import { Lease } from './lease.ts';
import { MongoAggregateStore } from './mongoStore.ts';
import { recomputeAggregates } from './verify.ts';

export interface RebuildOptions {
  readonly db: Db;
  readonly catalog: CatalogCache;
  readonly engine: EngineConfig;
  readonly redisUrl: string;
  readonly queuePrefix: string;
  /** How long a running leader may take to notice the takeover (its lease's length). */
  readonly leaderLeaseMs: number;
  readonly logger: Logger;
  /** Progress lines (the CLIs print them; tests stay quiet). */
  readonly say?: (message: string) => void;
  readonly onReplayed?: (replayed: number) => void;
}

export interface RebuildResult {
  readonly users: number;
  readonly events: number;
}

export async function rebuildAggregates(options: RebuildOptions): Promise<RebuildResult> {
  const { db, catalog, engine } = options;
  const say = options.say ?? (() => undefined);
  const lease = new Lease(db, 'aggregator', `rebuild:${hostname()}:${process.pid}`, 10 * 60_000);
  // a free or lapsed lease has no leader to wait for; a held one is taken over, and its holder
  // notices at its next renewal and its commits stop at the next write (the fence)
  if (!(await lease.tryAcquire())) {
    await lease.takeOver();
    say(`took the aggregation lease over; waiting ${options.leaderLeaseMs / 1000} s for the leader to stand by`);
    await new Promise((resolve) => setTimeout(resolve, options.leaderLeaseMs));
  }
  const renew = setInterval(() => void lease.renew(), 60_000);
  try {
    const store = new MongoAggregateStore(db);
    await store.resetForRebuild(new Date());
    const recomputed = await recomputeAggregates(db, catalog, engine, options.onReplayed);
    say('writing the aggregates...');

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

    const redis = await connectRedis(options.redisUrl, options.logger, 'rebuild');
    const lists = listsQueue(redis, options.queuePrefix);
    for (let i = 0; i < users.length; i += 1_000) await lists.addBulk(users.slice(i, i + 1_000).map((u) => listJob(u.userId)));
    await lists.close();
    await redis.close();
    return { users: users.length, events: eventIds.length };
  } finally {
    clearInterval(renew);
  }
}
