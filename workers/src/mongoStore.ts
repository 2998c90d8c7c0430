import { randomUUID } from 'node:crypto';
import { counterKey, type AggregateSnapshot, type AggregateStore, type BuyerDays, type Cooc, type DayCounters, type FlushChanges, type KindCode, type Universe, type UserState } from '@recs/engine';
import {
  COLLECTIONS,
  coocDocId,
  decodeKey,
  encodeKey,
  fromBestSellersDoc,
  fromUserStateDoc,
  neighboursFromDoc,
  neighboursToDoc,
  toBestSellersDoc,
  toUserStateDoc,
  type BestSellersDoc,
  type CoocDoc,
  type UserStateDoc,
} from '@recs/shared';
import { MongoBulkWriteError, type AnyBulkWriteOperation, type Db, type Document } from 'mongodb';

/**
 * One document write of a plan: $set / $unset by _id, with upsert. Field paths are kept as
 * values ({ f, v }), never as keys: a stored document may not have dotted field names.
 */
interface PlanOp {
  c: string;
  id: string;
  set: { f: string; v: unknown }[];
  unset?: string[];
}

/** Every aggregate document has a string _id. */
interface IdDoc extends Document {
  _id: string;
}

interface PlanDoc {
  _id: string;
  seq: number;
  chunk: number;
  of: number;
  ops: PlanOp[];
  eventIds: string[];
}

interface StateDoc {
  _id: 'state';
  seq: number;
  status: 'idle' | 'writing';
  at: Date;
  verifyBefore?: Date;
}

interface UniverseDoc {
  _id: 'universe';
  viewers: number;
  buyers: number;
}

interface CountersDoc extends DayCounters {
  _id: string;
  p: string;
  day: number;
}

interface BuyerDaysDoc {
  _id: string;
  d?: Record<string, number>;
}

/** Plan chunks stay well below MongoDB's 16 MB document limit. */
const CHUNK_BYTES = 4 * 1_048_576;
const EVENT_IDS_PER_CHUNK = 20_000;
const WRITES_PER_BULK = 500;
const DUPLICATE_KEY = 11000;

/** Thrown when the state document moved under us: another aggregator wrote, or a crash left work. */
export class ConcurrentWriteError extends Error {
  override readonly name = 'ConcurrentWriteError';
}

/**
 * The aggregator's state in MongoDB. A batch is committed as a plan of absolute values, written
 * first and then applied, so a crash at any point is finished (or discarded, if the plan itself
 * was incomplete) by `recover()`, and no aggregate is ever counted twice or half-applied.
 * Every document is addressed by _id.
 */
export class MongoAggregateStore implements AggregateStore {
  private readonly db: Db;
  private seq: number | undefined;
  private readonly crashAfterPlan: number;
  private readonly fence: (() => Promise<boolean>) | undefined;
  private commits = 0;

  /**
   * `fence`: checked before every bulk write; false (the lease was taken over) stops the commit.
   * `crashAfterPlan`: test only, see CRASH_AFTER_PLAN in config.ts.
   */
  constructor(db: Db, options: { crashAfterPlan?: number; fence?: () => Promise<boolean> } = {}) {
    this.db = db;
    this.crashAfterPlan = options.crashAfterPlan ?? 0;
    this.fence = options.fence;
  }

  /** Jobs queued before this time may hold events a rebuild already applied. */
  async verifyBefore(): Promise<number> {
    const state = await this.collection<StateDoc>(COLLECTIONS.aggregator).findOne({ _id: 'state' });
    return state?.verifyBefore?.getTime() ?? 0;
  }

  private collection<T extends Document>(name: string) {
    return this.db.collection<T>(name);
  }

  /** Finishes or discards a commit a crash interrupted; must run before loading any state. */
  async recover(): Promise<'clean' | 'reapplied' | 'discarded'> {
    const states = this.collection<StateDoc>(COLLECTIONS.aggregator);
    const state = await states.findOne({ _id: 'state' });
    if (state === null) {
      await states.updateOne({ _id: 'state' }, { $setOnInsert: { seq: 0, status: 'idle', at: new Date() } }, { upsert: true });
      this.seq = 0;
      return 'clean';
    }
    this.seq = state.seq;
    if (state.status === 'idle') return 'clean';
    const plans = await this.collection<PlanDoc>(COLLECTIONS.plans).find({ seq: state.seq }).toArray();
    const complete = plans.length > 0 && plans.length === plans[0]!.of;
    if (complete) {
      plans.sort((a, b) => a.chunk - b.chunk);
      await this.apply(plans.flatMap((p) => p.ops), plans.flatMap((p) => p.eventIds));
    }
    await this.finish(state.seq, plans.map((p) => p._id));
    return complete ? 'reapplied' : 'discarded';
  }

  /**
   * Empties every aggregate (not the raw events, the catalog, hidden histories or lists) for a
   * rebuild, and marks jobs queued until now as possibly applied already.
   */
  async resetForRebuild(now: Date): Promise<void> {
    await this.recover();
    for (const name of [COLLECTIONS.users, COLLECTIONS.cooc, COLLECTIONS.buyerDays, COLLECTIONS.counters, COLLECTIONS.bestSellers, COLLECTIONS.applied, COLLECTIONS.plans]) {
      await this.db.collection(name).deleteMany({});
    }
    await this.collection<UniverseDoc>(COLLECTIONS.aggregator).deleteOne({ _id: 'universe' });
    await this.collection<StateDoc>(COLLECTIONS.aggregator).updateOne({ _id: 'state' }, { $set: { status: 'idle', at: now, verifyBefore: now } });
  }

  /** Moves the verification mark to `at` (the end of a rebuild). */
  async setVerifyBefore(at: Date): Promise<void> {
    await this.collection<StateDoc>(COLLECTIONS.aggregator).updateOne({ _id: 'state' }, { $set: { verifyBefore: at } });
  }

  async loadSnapshot(): Promise<AggregateSnapshot> {
    if (this.seq === undefined) await this.recover();
    const buyerDays = new Map<string, BuyerDays>();
    for await (const doc of this.collection<BuyerDaysDoc>(COLLECTIONS.buyerDays).find()) {
      buyerDays.set(doc._id, new Map(Object.entries(doc.d ?? {}).map(([day, n]) => [Number(day), n])));
    }
    const coocUsers: Record<KindCode, Map<string, number>> = { v: new Map(), b: new Map() };
    for await (const doc of this.collection<CoocDoc>(COLLECTIONS.cooc).find({}, { projection: { k: 1, p: 1, n: 1 } })) {
      coocUsers[doc.k].set(doc.p, doc.n);
    }
    const universeDoc = await this.collection<UniverseDoc>(COLLECTIONS.aggregator).findOne({ _id: 'universe' });
    const universe: Universe = { viewers: universeDoc?.viewers ?? 0, buyers: universeDoc?.buyers ?? 0 };
    const bestSellers = (await this.collection<BestSellersDoc>(COLLECTIONS.bestSellers).find().toArray()).map(fromBestSellersDoc);
    return { buyerDays, coocUsers, universe, bestSellers };
  }

  async loadUsers(userIds: readonly string[]): Promise<Map<string, UserState>> {
    const docs = await this.collection<UserStateDoc>(COLLECTIONS.users).find({ _id: { $in: [...userIds] } }).toArray();
    return new Map(docs.map((doc) => [doc._id, fromUserStateDoc(doc)]));
  }

  async loadCooc(keys: readonly string[]): Promise<Map<string, Cooc>> {
    const docs = await this.collection<CoocDoc>(COLLECTIONS.cooc).find({ _id: { $in: [...keys] } }).toArray();
    return new Map(
      docs.map((doc) => [
        doc._id,
        {
          users: doc.n,
          pairs: new Map(Object.entries(doc.c ?? {}).map(([key, n]) => [decodeKey(key), n])),
          top: neighboursFromDoc(doc),
        },
      ]),
    );
  }

  async loadCounters(keys: readonly string[]): Promise<Map<string, DayCounters>> {
    const docs = await this.collection<CountersDoc>(COLLECTIONS.counters).find({ _id: { $in: [...keys] } }).toArray();
    return new Map(
      docs.map(({ _id, views, clicks, carts, removals, purchases, quantity, revenue }) => [_id, { views, clicks, carts, removals, purchases, quantity, revenue }]),
    );
  }

  /** Of these event ids, the ones some earlier batch already applied. */
  async appliedAmong(eventIds: readonly string[]): Promise<Set<string>> {
    const found = new Set<string>();
    for (let i = 0; i < eventIds.length; i += 1_000) {
      const docs = await this.collection<{ _id: string }>(COLLECTIONS.applied)
        .find({ _id: { $in: eventIds.slice(i, i + 1_000) } }, { projection: { _id: 1 } })
        .toArray();
      for (const doc of docs) found.add(doc._id);
    }
    return found;
  }

  async commit(changes: FlushChanges): Promise<void> {
    if (this.seq === undefined) await this.recover();
    const ops = planOps(changes);
    if (ops.length === 0 && changes.eventIds.length === 0) return;
    const seq = this.seq! + 1;
    const states = this.collection<StateDoc>(COLLECTIONS.aggregator);
    const claimed = await states.updateOne({ _id: 'state', seq: this.seq!, status: 'idle' }, { $set: { seq, status: 'writing', at: new Date() } });
    if (claimed.matchedCount !== 1) {
      this.seq = undefined;
      throw new ConcurrentWriteError(`aggregator state is not at seq ${seq - 1}/idle; another writer or an unfinished commit`);
    }
    this.seq = seq;
    try {
      const chunks = planChunks(seq, ops, changes.eventIds);
      await this.collection<PlanDoc>(COLLECTIONS.plans).insertMany(chunks);
      if (this.crashAfterPlan > 0 && ++this.commits === this.crashAfterPlan) {
        await this.apply(ops.slice(0, Math.floor(ops.length / 2)), []);
        process.kill(process.pid, 'SIGKILL');
      }
      await this.apply(ops, changes.eventIds);
      await this.finish(seq, chunks.map((c) => c._id));
    } catch (error) {
      // the commit is now finished (or discarded) by recover(), before anything is loaded again
      this.seq = undefined;
      throw error;
    }
  }

  private async apply(ops: readonly PlanOp[], eventIds: readonly string[]): Promise<void> {
    const byCollection = new Map<string, AnyBulkWriteOperation<IdDoc>[]>();
    for (const op of ops) {
      const update: Document = {};
      if (op.set.length > 0) update['$set'] = Object.fromEntries(op.set.map(({ f, v }) => [f, v]));
      if (op.unset !== undefined && op.unset.length > 0) update['$unset'] = Object.fromEntries(op.unset.map((field) => [field, '']));
      if (Object.keys(update).length === 0) continue;
      let list = byCollection.get(op.c);
      if (list === undefined) byCollection.set(op.c, (list = []));
      list.push({ updateOne: { filter: { _id: op.id }, update, upsert: true } });
    }
    for (const [name, writes] of byCollection) {
      for (let i = 0; i < writes.length; i += WRITES_PER_BULK) {
        if (this.fence !== undefined && !(await this.fence())) throw new ConcurrentWriteError('the aggregation lease was taken over');
        await this.collection<IdDoc>(name).bulkWrite(writes.slice(i, i + WRITES_PER_BULK), { ordered: false });
      }
    }
    const at = new Date();
    for (let i = 0; i < eventIds.length; i += 5_000) {
      try {
        await this.collection<{ _id: string; at: Date }>(COLLECTIONS.applied).insertMany(
          eventIds.slice(i, i + 5_000).map((id) => ({ _id: id, at })),
          { ordered: false },
        );
      } catch (error) {
        // already recorded by an earlier attempt of the same plan
        if (!(error instanceof MongoBulkWriteError)) throw error;
        const writeErrors = Array.isArray(error.writeErrors) ? error.writeErrors : [error.writeErrors];
        if (writeErrors.some((e) => e.code !== DUPLICATE_KEY)) throw error;
      }
    }
  }

  private async finish(seq: number, planIds: readonly string[]): Promise<void> {
    await this.collection<StateDoc>(COLLECTIONS.aggregator).updateOne({ _id: 'state', seq }, { $set: { status: 'idle', at: new Date() } });
    if (planIds.length > 0) await this.collection<PlanDoc>(COLLECTIONS.plans).deleteMany({ _id: { $in: [...planIds] } });
  }
}

/** A cheap upper-bound estimate of an op's BSON size (user states dominate). */
function estimateBytes(op: PlanOp): number {
  let bytes = 200 + (op.unset?.length ?? 0) * 60;
  for (const { v } of op.set) bytes += 60 + (Array.isArray(v) ? v.length * 160 : 0);
  return bytes;
}

function fields(values: Document): PlanOp['set'] {
  return Object.entries(values).map(([f, v]) => ({ f, v }));
}

export function planChunks(seq: number, ops: readonly PlanOp[], eventIds: readonly string[]): PlanDoc[] {
  const opGroups: PlanOp[][] = [[]];
  let bytes = 0;
  for (const op of ops) {
    const size = estimateBytes(op);
    if (bytes + size > CHUNK_BYTES && opGroups.at(-1)!.length > 0) {
      opGroups.push([]);
      bytes = 0;
    }
    opGroups.at(-1)!.push(op);
    bytes += size;
  }
  const idGroups: string[][] = [];
  for (let i = 0; i < eventIds.length; i += EVENT_IDS_PER_CHUNK) idGroups.push(eventIds.slice(i, i + EVENT_IDS_PER_CHUNK));
  const of = Math.max(opGroups.length, idGroups.length);
  const token = randomUUID().slice(0, 8);
  return Array.from({ length: of }, (_, chunk) => ({
    _id: `${seq}:${chunk}:${token}`,
    seq,
    chunk,
    of,
    ops: opGroups[chunk] ?? [],
    eventIds: idGroups[chunk] ?? [],
  }));
}

/** The absolute document writes of one batch. */
export function planOps(changes: FlushChanges): PlanOp[] {
  const ops: PlanOp[] = [];
  const now = new Date();
  for (const state of changes.users) {
    const { _id, ...set } = toUserStateDoc(state, now);
    ops.push({ c: COLLECTIONS.users, id: _id, set: fields(set) });
  }
  for (const change of changes.cooc) {
    const set: Document = { k: change.kind, p: change.productId, n: change.users, top: neighboursToDoc(change.top) };
    const unset: string[] = [];
    for (const [other, count] of change.pairs) {
      if (count > 0) set[`c.${encodeKey(other)}`] = count;
      else unset.push(`c.${encodeKey(other)}`);
    }
    ops.push({ c: COLLECTIONS.cooc, id: coocDocId(change.kind, change.productId), set: fields(set), unset });
  }
  for (const [productId, days] of changes.buyerDays) {
    const set: Document = {};
    const unset: string[] = [];
    for (const [day, count] of days) {
      if (count > 0) set[`d.${day}`] = count;
      else unset.push(`d.${day}`);
    }
    ops.push({ c: COLLECTIONS.buyerDays, id: productId, set: fields(set), unset });
  }
  for (const [productId, day, counters] of changes.counters) {
    ops.push({ c: COLLECTIONS.counters, id: counterKey(productId, day), set: fields({ p: productId, day, ...counters }) });
  }
  if (changes.universe !== undefined) {
    ops.push({ c: COLLECTIONS.aggregator, id: 'universe', set: fields({ viewers: changes.universe.viewers, buyers: changes.universe.buyers }) });
  }
  for (const list of changes.bestSellers) {
    const { _id, ...set } = toBestSellersDoc(list);
    ops.push({ c: COLLECTIONS.bestSellers, id: _id, set: fields(set) });
  }
  return ops;
}
