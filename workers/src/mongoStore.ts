import {
  counterKey,
  type AggregateSnapshot,
  type AggregateStore,
  type BuyerDays,
  type Cooc,
  type DayCounters,
  type FlushChanges,
  type KindCode,
  type Universe,
  type UserState,
} from '@recs/engine';
import {
  buyerDaysFromDoc,
  COLLECTIONS,
  coocDocId,
  encodeRows,
  fromBestSellersDoc,
  fromUserStateDoc,
  neighboursFromDoc,
  neighboursToDoc,
  pairsFromDoc,
  toBestSellersDoc,
  toUserStateDoc,
  type BestSellersDoc,
  type BuyerDaysDoc,
  type CoocDoc,
  type UserStateDoc,
} from '@recs/shared';
import { MongoBulkWriteError, MongoServerError, type AnyBulkWriteOperation, type Db, type Document } from 'mongodb';

/** One document write of a plan: $set of whole fields by _id, with upsert. */
export interface PlanOp {
  c: string;
  id: string;
  set: Document;
}

/** Every aggregate document has a string _id. */
interface IdDoc extends Document {
  _id: string;
}

/**
 * A plan chunk, the write-ahead log record of one commit: its ops as one JSON string and its
 * event ids as lines (see documents.ts on why strings). `_id` is `${seq}:${chunk}`, so a second
 * writer committing the same sequence number fails on the unique _id.
 */
interface PlanDoc {
  _id: string;
  seq: number;
  chunk: number;
  of: number;
  ops: string;
  eventIds: string;
  /** The ingestion batches the commit covers (their inbox entries go once it is fully written). */
  batchIds: string;
}

interface StateDoc {
  _id: 'state';
  /** Every plan up to this sequence number is fully written to the collections. */
  appliedThrough: number;
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

/** Plan chunks stay well below MongoDB's 16 MB document limit. */
const CHUNK_BYTES = 4 * 1_048_576;
const EVENT_IDS_PER_CHUNK = 20_000;
/** Small bulks, so the few writes other processes wait for interleave with write-behind. */
const WRITES_PER_BULK = 50;
const DUPLICATE_KEY = 11000;

/**
 * Written at commit, because other processes read them right away: user states (browsing
 * history, list workers), rankings and the population counts. Everything else is written behind.
 */
const IMMEDIATE = new Set<string>([COLLECTIONS.users, COLLECTIONS.bestSellers, COLLECTIONS.aggregator]);

/** Thrown when another writer committed (or the lease was taken over): this one must stop. */
export class ConcurrentWriteError extends Error {
  override readonly name = 'ConcurrentWriteError';
}

export interface MongoAggregateStoreOptions {
  /** Checked before writing; false (the lease was taken over) stops the write. */
  readonly fence?: () => Promise<boolean>;
  /** How long write-behind waits between rounds, in milliseconds. */
  readonly writeBehindMs?: number;
  /** Test only, see CRASH_AFTER_PLAN in config.ts. */
  readonly crashAfterPlan?: number;
  /**
   * While this answers true (the aggregator is busy with live traffic), a write-behind round
   * writes the longest-waiting quarter of the documents waiting (at least `busyBudget`), so
   * background writes do not crowd out the writes a fresh list waits for, yet keep up with a
   * sustained load. Idle, a round writes everything.
   */
  readonly busy?: () => boolean;
  readonly busyBudget?: number;
  /** Told after each write-behind round: documents written, plans retired. */
  readonly onWrittenBehind?: (round: { documents: number; plans: number; ms: number; waiting: number }) => void;
}

/**
 * The aggregator's state in MongoDB, with a write-ahead log. A commit inserts its plan (every
 * changed document as an absolute value; the durable commit point), writes the documents other
 * processes read at once, and leaves the rest (co-occurrence, counters, buyer days, bookkeeping)
 * to write-behind, which writes each document once however many commits changed it. After a
 * crash, recover() writes every plan past the last fully written one, in order; writing a plan
 * twice is harmless because its values are absolute. Every document is addressed by _id.
 */
export class MongoAggregateStore implements AggregateStore {
  private readonly db: Db;
  private readonly options: MongoAggregateStoreOptions;
  private seq: number | undefined;
  private commits = 0;
  /** Latest value of each document waiting for write-behind (and the plan it came from), by `${collection}\0${id}`. */
  private deferred = new Map<string, { op: PlanOp; seq: number }>();
  /** eventKeys of plans not fully written yet (they count as applied already). */
  private deferredEventSet = new Set<string>();
  private deferredActive = new Map<number, Set<string>>();
  /** Committed plans whose deferred documents are not all written yet, oldest first. */
  private pendingPlans: { seq: number; ids: string[]; eventIds: readonly string[]; batchIds: readonly string[] }[] = [];
  private writing: Promise<void> | undefined;
  private timer: NodeJS.Timeout | undefined;
  /** Commits so far; write-behind rounds settle waiters up to the generation they covered. */
  private generation = 0;
  private waiters: { generation: number; resolve: () => void }[] = [];
  private closed = false;
  /** Milliseconds in each step of the last commit, and how many documents it changed. */
  readonly timings = { plan: 0, apply: 0, writes: 0, behind: 0, planKiB: 0 };

  constructor(db: Db, options: MongoAggregateStoreOptions = {}) {
    this.db = db;
    this.options = options;
  }

  private collection<T extends Document>(name: string) {
    return this.db.collection<T>(name);
  }

  private async checkFence(): Promise<void> {
    if (this.options.fence !== undefined && !(await this.options.fence())) throw new ConcurrentWriteError('the aggregation lease was taken over');
  }

  /** Jobs queued before this time may hold events a rebuild already applied. */
  async verifyBefore(): Promise<number> {
    const state = await this.collection<StateDoc>(COLLECTIONS.aggregator).findOne({ _id: 'state' });
    return state?.verifyBefore?.getTime() ?? 0;
  }

  /**
   * Writes every complete plan past the last fully written one, in order, and drops an
   * incomplete one (a crash while its chunks were being inserted: nothing of it was applied
   * and its jobs are retried). Must run before anything is loaded.
   */
  async recover(): Promise<'clean' | 'reapplied' | 'discarded'> {
    // a write-behind round still running would write older values over the replayed ones
    while (this.writing !== undefined) await this.writing.catch(() => undefined);
    clearTimeout(this.timer);
    this.timer = undefined;
    this.deferred.clear();
    this.deferredActive.clear();
    this.deferredEventSet.clear();
    this.pendingPlans = [];
    const states = this.collection<StateDoc>(COLLECTIONS.aggregator);
    const state = await states.findOne({ _id: 'state' });
    const appliedThrough = state?.appliedThrough ?? 0;
    if (state === null) await states.updateOne({ _id: 'state' }, { $setOnInsert: { appliedThrough: 0, at: new Date() } }, { upsert: true });
    const plans = await this.collection<PlanDoc>(COLLECTIONS.plans).find({ seq: { $gt: appliedThrough } }).toArray();
    const bySeq = new Map<number, PlanDoc[]>();
    for (const plan of plans) {
      let list = bySeq.get(plan.seq);
      if (list === undefined) bySeq.set(plan.seq, (list = []));
      list.push(plan);
    }
    let last = appliedThrough;
    let outcome: 'clean' | 'reapplied' | 'discarded' = 'clean';
    for (const seq of [...bySeq.keys()].sort((a, b) => a - b)) {
      const chunks = bySeq.get(seq)!.sort((a, b) => a.chunk - b.chunk);
      if (chunks.length !== chunks[0]!.of) {
        await this.collection<PlanDoc>(COLLECTIONS.plans).deleteMany({ _id: { $in: chunks.map((c) => c._id) } });
        outcome = outcome === 'clean' ? 'discarded' : outcome;
        continue;
      }
      await this.write(chunks.flatMap((c) => JSON.parse(c.ops) as PlanOp[]));
      await this.retire(
        chunks.flatMap((c) => (c.eventIds === '' ? [] : c.eventIds.split('\n'))),
        chunks.flatMap((c) => (c.batchIds === '' || c.batchIds === undefined ? [] : c.batchIds.split('\n'))),
      );
      last = seq;
      outcome = 'reapplied';
    }
    await states.updateOne({ _id: 'state' }, { $max: { appliedThrough: last }, $set: { at: new Date() } });
    await this.collection<PlanDoc>(COLLECTIONS.plans).deleteMany({ seq: { $lte: last } });
    this.seq = last;
    return outcome;
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
    await this.collection<StateDoc>(COLLECTIONS.aggregator).updateOne({ _id: 'state' }, { $set: { at: now, verifyBefore: now } });
  }

  /** Moves the verification mark to `at` (the end of a rebuild). */
  async setVerifyBefore(at: Date): Promise<void> {
    await this.collection<StateDoc>(COLLECTIONS.aggregator).updateOne({ _id: 'state' }, { $set: { verifyBefore: at } });
  }

  async loadSnapshot(): Promise<AggregateSnapshot> {
    if (this.seq === undefined) await this.recover();
    const buyerDays = new Map<string, BuyerDays>();
    const rebuyers = new Map<string, number>();
    for await (const doc of this.collection<BuyerDaysDoc>(COLLECTIONS.buyerDays).find()) {
      buyerDays.set(doc._id, buyerDaysFromDoc(doc));
      if ((doc.r ?? 0) > 0) rebuyers.set(doc._id, doc.r!);
    }
    const coocUsers: Record<KindCode, Map<string, number>> = { v: new Map(), b: new Map() };
    for await (const doc of this.collection<CoocDoc>(COLLECTIONS.cooc).find({}, { projection: { k: 1, p: 1, n: 1 } })) coocUsers[doc.k].set(doc.p, doc.n);
    const universeDoc = await this.collection<UniverseDoc>(COLLECTIONS.aggregator).findOne({ _id: 'universe' });
    const universe: Universe = { viewers: universeDoc?.viewers ?? 0, buyers: universeDoc?.buyers ?? 0 };
    const bestSellers = (await this.collection<BestSellersDoc>(COLLECTIONS.bestSellers).find().toArray()).map(fromBestSellersDoc);
    return { buyerDays, rebuyers, coocUsers, universe, bestSellers };
  }

  async loadUsers(userIds: readonly string[]): Promise<Map<string, UserState>> {
    const docs = await this.collection<UserStateDoc>(COLLECTIONS.users).find({ _id: { $in: [...userIds] } }).toArray();
    return new Map(docs.map((doc) => [doc._id, fromUserStateDoc(doc)]));
  }

  /** Values still waiting for write-behind win over what MongoDB holds. */
  private pendingValue(collection: string, id: string): Document | undefined {
    return this.deferred.get(`${collection}\u0000${id}`)?.op.set;
  }

  async loadCooc(keys: readonly string[]): Promise<Map<string, Cooc>> {
    const found = new Map<string, Cooc>();
    const missing: string[] = [];
    for (const key of keys) {
      const pending = this.pendingValue(COLLECTIONS.cooc, key) as Omit<CoocDoc, '_id'> | undefined;
      if (pending !== undefined) found.set(key, { users: pending.n, pairs: pairsFromDoc(pending), top: neighboursFromDoc(pending) });
      else missing.push(key);
    }
    if (missing.length > 0) {
      for (const doc of await this.collection<CoocDoc>(COLLECTIONS.cooc).find({ _id: { $in: missing } }).toArray()) {
        found.set(doc._id, { users: doc.n, pairs: pairsFromDoc(doc), top: neighboursFromDoc(doc) });
      }
    }
    return found;
  }

  async loadCounters(keys: readonly string[]): Promise<Map<string, DayCounters>> {
    const found = new Map<string, DayCounters>();
    const missing: string[] = [];
    const pick = ({ views, clicks, carts, removals, purchases, quantity, revenue }: DayCounters): DayCounters => ({ views, clicks, carts, removals, purchases, quantity, revenue });
    for (const key of keys) {
      const pending = this.pendingValue(COLLECTIONS.counters, key) as DayCounters | undefined;
      if (pending !== undefined) found.set(key, pick(pending));
      else missing.push(key);
    }
    if (missing.length > 0) {
      for (const doc of await this.collection<CountersDoc>(COLLECTIONS.counters).find({ _id: { $in: missing } }).toArray()) found.set(doc._id, pick(doc));
    }
    return found;
  }

  /** Of these eventKeys (see eventKey: applied_events is keyed by them), the ones some earlier batch already applied. */
  async appliedAmong(keys: readonly string[]): Promise<Set<string>> {
    const found = new Set(keys.filter((key) => this.deferredEventSet.has(key)));
    for (let i = 0; i < keys.length; i += 1_000) {
      const docs = await this.collection<{ _id: string }>(COLLECTIONS.applied)
        .find({ _id: { $in: keys.slice(i, i + 1_000) } }, { projection: { _id: 1 } })
        .toArray();
      for (const doc of docs) found.add(doc._id);
    }
    return found;
  }

  async commit(changes: FlushChanges): Promise<void> {
    if (this.closed) throw new ConcurrentWriteError('the store is closed');
    if (this.seq === undefined) await this.recover();
    const ops = planOps(changes);
    const batchIds = changes.batchIds ?? [];
    if (ops.length === 0 && changes.eventIds.length === 0 && batchIds.length === 0) return;
    const seq = this.seq! + 1;
    try {
      await this.checkFence();
      const planning = performance.now();
      const chunks = planChunks(seq, ops, changes.eventIds, batchIds);
      try {
        await this.collection<PlanDoc>(COLLECTIONS.plans).insertMany(chunks, { ordered: true });
      } catch (error) {
        if ((error instanceof MongoBulkWriteError || error instanceof MongoServerError) && error.code === DUPLICATE_KEY) {
          throw new ConcurrentWriteError(`plan ${seq} was committed by another writer`);
        }
        throw error;
      }
      this.timings.plan = performance.now() - planning;
      this.timings.writes = ops.length;
      this.timings.planKiB = Math.round(chunks.reduce((sum, c) => sum + c.ops.length + c.eventIds.length, 0) / 1024);
      this.seq = seq;

      const applying = performance.now();
      const immediate = ops.filter((op) => IMMEDIATE.has(op.c));
      if (this.options.crashAfterPlan !== undefined && this.options.crashAfterPlan > 0 && ++this.commits === this.options.crashAfterPlan) {
        await this.write(immediate.slice(0, Math.floor(immediate.length / 2)));
        process.kill(process.pid, 'SIGKILL');
      }
      await this.write(immediate);
      this.timings.apply = performance.now() - applying;
      for (const op of ops) if (!IMMEDIATE.has(op.c)) this.deferred.set(`${op.c}\u0000${op.id}`, { op, seq });
      for (const id of changes.eventIds) this.deferredEventSet.add(id);
      this.pendingPlans.push({ seq, ids: chunks.map((c) => c._id), eventIds: changes.eventIds, batchIds });
      this.generation++;
      this.scheduleWriteBehind();
    } catch (error) {
      // recover() finishes whatever was committed before anything is loaded again
      this.seq = undefined;
      throw error;
    }
  }

  /** Documents committed but not written to their collections yet. */
  get backlog(): number {
    return this.deferred.size;
  }

  /** Resolves once everything committed (and noted) so far is written to the collections. */
  written(): Promise<void> {
    const generation = this.generation;
    return new Promise((resolve) => {
      this.waiters.push({ generation, resolve });
      this.scheduleWriteBehind();
    });
  }

  /** Users active on `day` (lists refreshed as interest decays), recorded by write-behind. */
  noteActive(day: number, userIds: readonly string[]): void {
    let set = this.deferredActive.get(day);
    if (set === undefined) this.deferredActive.set(day, (set = new Set()));
    for (const id of userIds) set.add(id);
  }

  private scheduleWriteBehind(): void {
    if (this.timer !== undefined || (this.closed && this.waiters.length === 0)) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.writeBehind().catch(() => {
        // kept for the next round; a lost lease or an outage surfaces at the next commit
        this.scheduleWriteBehind();
      });
    }, this.options.writeBehindMs ?? 300);
  }

  /**
   * Writes every document waiting, then retires the plans none of whose documents wait any more:
   * their event ids join the applied set, their batches leave the inbox, the plans are deleted.
   * Resolves once done.
   */
  async writeBehind(): Promise<void> {
    while (this.writing !== undefined) await this.writing;
    const generation = this.generation;
    const settle = () => {
      const ready = this.waiters.filter((w) => w.generation <= generation);
      this.waiters = this.waiters.filter((w) => w.generation > generation);
      for (const waiter of ready) waiter.resolve();
    };
    if (this.deferred.size === 0 && this.pendingPlans.length === 0 && this.deferredActive.size === 0) {
      settle();
      return;
    }
    const budget = this.options.busy?.() === true ? Math.max(this.options.busyBudget ?? 75, Math.ceil(this.deferred.size / 4)) : Infinity;
    let taken: Map<string, { op: PlanOp; seq: number }>;
    if (this.deferred.size <= budget) {
      taken = this.deferred;
      this.deferred = new Map();
    } else {
      const oldest = [...this.deferred].sort((a, b) => a[1].seq - b[1].seq).slice(0, budget);
      taken = new Map(oldest);
      for (const [key] of oldest) this.deferred.delete(key);
    }
    const active = this.deferredActive;
    this.deferredActive = new Map();
    const started = performance.now();
    this.writing = (async () => {
      try {
        await this.checkFence();
        await this.write([...taken.values()].map((entry) => entry.op));
        for (const [day, users] of active) {
          await this.collection<{ _id: number; users: string[] }>(COLLECTIONS.activeUsers).updateOne(
            { _id: day },
            { $addToSet: { users: { $each: [...users] } } },
            { upsert: true },
          );
        }
      } catch (error) {
        // put back what was not written, without overriding newer values
        for (const [key, entry] of taken) if (!this.deferred.has(key)) this.deferred.set(key, entry);
        for (const [day, users] of active) this.noteActive(day, [...users]);
        throw error;
      }
      // plans older than every document still waiting are fully written
      let oldestWaiting = Infinity;
      for (const { seq } of this.deferred.values()) oldestWaiting = Math.min(oldestWaiting, seq);
      const done = this.pendingPlans.filter((plan) => plan.seq < oldestWaiting);
      if (done.length > 0) {
        await this.retire(
          done.flatMap((plan) => plan.eventIds),
          done.flatMap((plan) => plan.batchIds),
        );
        const through = done.at(-1)!.seq;
        await this.collection<StateDoc>(COLLECTIONS.aggregator).updateOne({ _id: 'state' }, { $max: { appliedThrough: through }, $set: { at: new Date() } });
        await this.collection<PlanDoc>(COLLECTIONS.plans).deleteMany({ _id: { $in: done.flatMap((plan) => plan.ids) } });
        this.pendingPlans = this.pendingPlans.filter((plan) => plan.seq > through);
        for (const plan of done) for (const id of plan.eventIds) this.deferredEventSet.delete(id);
      }
      this.timings.behind = performance.now() - started;
      this.options.onWrittenBehind?.({ documents: taken.size, plans: done.length, ms: this.timings.behind, waiting: this.deferred.size });
      if (this.deferred.size > 0) this.scheduleWriteBehind();
      else settle();
    })();
    try {
      await this.writing;
    } finally {
      this.writing = undefined;
    }
  }

  /** Records events (by eventKey) as applied and removes their batches from the inbox. */
  private async retire(eventIds: readonly string[], batchIds: readonly string[]): Promise<void> {
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
    for (let i = 0; i < batchIds.length; i += 1_000) {
      await this.collection<{ _id: string }>(COLLECTIONS.inbox).deleteMany({ _id: { $in: batchIds.slice(i, i + 1_000) } });
    }
  }

  /** Stops write-behind after writing what is pending (on shutdown). */
  async close({ flush }: { flush: boolean }): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (flush) await this.writeBehind().catch(() => undefined);
    this.closed = true;
  }

  private async write(ops: readonly PlanOp[]): Promise<void> {
    const byCollection = new Map<string, AnyBulkWriteOperation<IdDoc>[]>();
    for (const op of ops) {
      let list = byCollection.get(op.c);
      if (list === undefined) byCollection.set(op.c, (list = []));
      list.push({ updateOne: { filter: { _id: op.id }, update: { $set: op.set }, upsert: true } });
    }
    for (const [name, writes] of byCollection) {
      for (let i = 0; i < writes.length; i += WRITES_PER_BULK) {
        await this.collection<IdDoc>(name).bulkWrite(writes.slice(i, i + WRITES_PER_BULK), { ordered: false });
      }
    }
  }
}

/** An upper-bound estimate of an op's size (its strings dominate). */
function estimateBytes(op: PlanOp): number {
  let bytes = 200;
  for (const value of Object.values(op.set)) bytes += 40 + (typeof value === 'string' ? value.length * 2 : 40);
  return bytes;
}

export function planChunks(seq: number, ops: readonly PlanOp[], eventIds: readonly string[], batchIds: readonly string[] = []): PlanDoc[] {
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
  return Array.from({ length: of }, (_, chunk) => ({
    _id: `${seq}:${chunk}`,
    seq,
    chunk,
    of,
    ops: JSON.stringify(opGroups[chunk] ?? []),
    eventIds: (idGroups[chunk] ?? []).join('\n'),
    batchIds: chunk === 0 ? batchIds.join('\n') : '',
  }));
}

/** The absolute document writes of one batch: whole fields, so writing one twice is harmless. */
export function planOps(changes: FlushChanges): PlanOp[] {
  const ops: PlanOp[] = [];
  const now = new Date();
  for (const state of changes.users) {
    const { _id, ...set } = toUserStateDoc(state, now);
    ops.push({ c: COLLECTIONS.users, id: _id, set });
  }
  for (const change of changes.cooc) {
    ops.push({
      c: COLLECTIONS.cooc,
      id: coocDocId(change.kind, change.productId),
      set: { k: change.kind, p: change.productId, n: change.users, c: encodeRows(change.pairs), top: neighboursToDoc(change.top) },
    });
  }
  for (const [productId, days, rebuyers] of changes.buyerDays) {
    ops.push({ c: COLLECTIONS.buyerDays, id: productId, set: { d: encodeRows(days.filter(([, n]) => n > 0)), r: rebuyers } });
  }
  for (const [productId, day, counters] of changes.counters) {
    ops.push({ c: COLLECTIONS.counters, id: counterKey(productId, day), set: { p: productId, day, ...counters } });
  }
  if (changes.universe !== undefined) {
    ops.push({ c: COLLECTIONS.aggregator, id: 'universe', set: { viewers: changes.universe.viewers, buyers: changes.universe.buyers } });
  }
  for (const list of changes.bestSellers) {
    const { _id, ...set } = toBestSellersDoc(list);
    ops.push({ c: COLLECTIONS.bestSellers, id: _id, set });
  }
  return ops;
}
