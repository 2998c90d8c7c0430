import { Aggregator, MemoryStore, type CatalogView, type EngineConfig } from '@recs/engine';
import {
  buyerDaysFromDoc,
  COLLECTIONS,
  fromRawEventDoc,
  fromUserStateDoc,
  pairsFromDoc,
  type BuyerDaysDoc,
  type CoocDoc,
  type RawEventDoc,
  UNIVERSE_ID,
  type UserStateDoc,
} from '@recs/shared';
import type { Db } from 'mongodb';

/**
 * Every aggregate in a canonical form, so stored and recomputed aggregates compare with deep
 * equality. Empty entries (no users, no counts) are left out; derived rankings (neighbour lists,
 * best sellers) are not aggregates and are not compared.
 */
export interface AggregateDump {
  users: Record<string, { events: string[]; purchaseDays: Record<string, string>; hidden: Record<string, number>; clearedAt: number }>;
  cooc: Record<string, { users: number; pairs: Record<string, number> }>;
  buyerDays: Record<string, Record<string, number>>;
  rebuyers: Record<string, number>;
  universe: { viewers: number; buyers: number };
}

function sorted<V>(entries: Iterable<[string, V]>): Record<string, V> {
  return Object.fromEntries([...entries].sort((a, b) => (a[0] < b[0] ? -1 : 1)));
}

function nonZero(entries: Iterable<[string | number, number]>): Record<string, number> {
  return sorted([...entries].filter(([, n]) => n !== 0).map(([k, n]) => [String(k), n] as [string, number]));
}

function ringKey(event: readonly [string, string, string, number, string]): string {
  return event.join('|');
}

/** The aggregates as stored in MongoDB. */
export async function readStoredAggregates(db: Db): Promise<AggregateDump> {
  const users: AggregateDump['users'] = {};
  for await (const doc of db.collection<UserStateDoc>(COLLECTIONS.users).find()) {
    const state = fromUserStateDoc(doc);
    if (state.events.length === 0 && state.purchaseDays.size === 0 && state.hidden.size === 0 && state.clearedAt === 0) continue;
    users[state.userId] = {
      events: state.events.map(ringKey),
      purchaseDays: sorted([...state.purchaseDays].map(([p, days]) => [p, days.join(',')])),
      hidden: sorted(state.hidden),
      clearedAt: state.clearedAt,
    };
  }
  const cooc: AggregateDump['cooc'] = {};
  for await (const doc of db.collection<CoocDoc>(COLLECTIONS.cooc).find()) {
    const pairs = nonZero(pairsFromDoc(doc));
    if (doc.n !== 0 || Object.keys(pairs).length > 0) cooc[doc._id] = { users: doc.n, pairs };
  }
  const buyerDays: AggregateDump['buyerDays'] = {};
  const rebuyers: AggregateDump['rebuyers'] = {};
  for await (const doc of db.collection<BuyerDaysDoc>(COLLECTIONS.buyerDays).find()) {
    const days = nonZero(buyerDaysFromDoc(doc));
    if (Object.keys(days).length > 0) buyerDays[doc._id] = days;
    if ((doc.r ?? 0) > 0) rebuyers[doc._id] = doc.r!;
  }
  const universe = await db.collection<{ _id: string; viewers: number; buyers: number }>(COLLECTIONS.aggregator).findOne({ _id: UNIVERSE_ID });
  return {
    users: sorted(Object.entries(users)),
    cooc: sorted(Object.entries(cooc)),
    buyerDays: sorted(Object.entries(buyerDays)),
    rebuyers: sorted(Object.entries(rebuyers)),
    universe: { viewers: universe?.viewers ?? 0, buyers: universe?.buyers ?? 0 },
  };
}

/** The aggregates of an in-memory aggregator (over a MemoryStore, it holds everything). */
export function dumpAggregator(aggregator: Aggregator): AggregateDump {
  const dump: AggregateDump = { users: {}, cooc: {}, buyerDays: {}, rebuyers: {}, universe: aggregator.universe };
  for (const entry of aggregator.dump()) {
    switch (entry.kind) {
      case 'user': {
        const state = entry.state;
        if (state.events.length > 0 || state.purchaseDays.size > 0 || state.hidden.size > 0 || state.clearedAt > 0) {
          dump.users[state.userId] = {
            events: state.events.map(ringKey),
            purchaseDays: sorted([...state.purchaseDays].map(([p, days]) => [p, days.join(',')])),
            hidden: sorted(state.hidden),
            clearedAt: state.clearedAt,
          };
        }
        break;
      }
      case 'cooc': {
        const pairs = nonZero(entry.cooc.pairs);
        if (entry.cooc.users !== 0 || Object.keys(pairs).length > 0) dump.cooc[entry.key] = { users: entry.cooc.users, pairs };
        break;
      }
      case 'buyerDays': {
        const days = nonZero(entry.days);
        if (Object.keys(days).length > 0) dump.buyerDays[entry.productId] = days;
        if (entry.rebuyers > 0) dump.rebuyers[entry.productId] = entry.rebuyers;
        break;
      }
    }
  }
  return {
    users: sorted(Object.entries(dump.users)),
    cooc: sorted(Object.entries(dump.cooc)),
    buyerDays: sorted(Object.entries(dump.buyerDays)),
    rebuyers: sorted(Object.entries(dump.rebuyers)),
    universe: dump.universe,
  };
}

/**
 * Replays every raw event through the engine in memory, in batches, with the same code the
 * workers run. `onProgress` is told how many events were replayed so far.
 */
export async function recomputeAggregates(db: Db, catalog: CatalogView, engine: EngineConfig, onProgress?: (replayed: number) => void): Promise<Aggregator> {
  const aggregator = new Aggregator(new MemoryStore(), catalog, engine, { rankOnRead: true });
  await aggregator.start();
  let batch = [];
  let replayed = 0;
  const now = Date.now();
  for await (const doc of db.collection<RawEventDoc>(COLLECTIONS.events).find().sort({ receivedAt: 1, _id: 1 })) {
    batch.push(fromRawEventDoc(doc));
    if (batch.length === 5_000) {
      await aggregator.apply(batch, now);
      replayed += batch.length;
      onProgress?.(replayed);
      batch = [];
    }
  }
  await aggregator.apply(batch, now);
  onProgress?.(replayed + batch.length);
  return aggregator;
}

/** Human-readable differences between two dumps (empty when they agree). */
export function compareAggregates(stored: AggregateDump, expected: AggregateDump, limit = 20): string[] {
  const differences: string[] = [];
  for (const section of ['users', 'cooc', 'buyerDays', 'rebuyers'] as const) {
    const a = stored[section] as Record<string, unknown>;
    const b = expected[section] as Record<string, unknown>;
    for (const key of new Set([...Object.keys(a), ...Object.keys(b)])) {
      const left = JSON.stringify(a[key]);
      const right = JSON.stringify(b[key]);
      if (left !== right) differences.push(`${section} ${key}: stored ${left ?? 'nothing'}, expected ${right ?? 'nothing'}`);
      if (differences.length >= limit) return differences;
    }
  }
  if (JSON.stringify(stored.universe) !== JSON.stringify(expected.universe)) {
    differences.push(`universe: stored ${JSON.stringify(stored.universe)}, expected ${JSON.stringify(expected.universe)}`);
  }
  return differences;
}
