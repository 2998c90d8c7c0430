/**
 * The write-ahead plan log of the aggregate store.
 *
 * Why a plan and not a MongoDB transaction: one flush changes many documents of several
 * collections (user states, co-occurrence, buyer days, rankings, the applied events, the inbox),
 * and FerretDB 1.24, the MongoDB-wire server this project runs on, has no multi-document
 * transactions. So a commit first inserts its plan: every document it changes as an absolute
 * value (whole fields $set, never $inc) with the event keys and batches it covers. The insert of
 * the plan is the commit point. A crash after it leaves a plan that recovery finishes by writing
 * it again (absolute values: writing one twice is the same as once); a crash while its chunks
 * were being inserted leaves an incomplete plan that nothing of was applied yet, so recovery
 * discards it and the jobs are retried. Either way nothing is counted twice or half.
 */
import { AGGREGATOR_STATE_ID, COLLECTIONS, deleteInChunks, isDuplicateKey, planChunkId } from '@recs/shared';
import type { AnyBulkWriteOperation, Db, Document } from 'mongodb';

/** One document write of a plan: $set of whole fields by _id, with upsert. */
export interface PlanOp {
  c: string;
  id: string;
  set: Document;
}

/**
 * A plan chunk, the log record of one commit: its ops as one JSON string and its event keys as
 * lines (see documents.ts on why strings).
 */
export interface PlanDoc {
  _id: string;
  seq: number;
  chunk: number;
  of: number;
  ops: string;
  eventIds: string;
  /** The ingestion batches the commit covers (their inbox entries go once it is fully written). */
  batchIds: string;
}

/** A whole plan read back from the log. */
export interface Plan {
  readonly seq: number;
  readonly ops: readonly PlanOp[];
  readonly eventIds: readonly string[];
  readonly batchIds: readonly string[];
}

interface StateDoc {
  _id: typeof AGGREGATOR_STATE_ID;
  /** Every plan up to this sequence number is fully written to the collections. */
  appliedThrough: number;
  at: Date;
  verifyBefore?: Date;
}

/** Every aggregate document has a string _id. */
interface IdDoc extends Document {
  _id: string;
}

/** Plan chunks stay well below MongoDB's 16 MB document limit. */
const CHUNK_BYTES = 4 * 1_048_576;
const EVENT_IDS_PER_CHUNK = 20_000;
/** Small bulks, so the few writes other processes wait for interleave with write-behind. */
const WRITES_PER_BULK = 50;

/** Thrown when another writer committed (or the lease was taken over): this one must stop. */
export class ConcurrentWriteError extends Error {
  override readonly name = 'ConcurrentWriteError';
}

/** Writes documents as a plan holds them (recovery, a commit's immediate writes, write-behind). */
export async function applyPlanOps(db: Db, ops: readonly PlanOp[]): Promise<void> {
  const byCollection = new Map<string, AnyBulkWriteOperation<IdDoc>[]>();
  for (const op of ops) {
    let list = byCollection.get(op.c);
    if (list === undefined) byCollection.set(op.c, (list = []));
    list.push({ updateOne: { filter: { _id: op.id }, update: { $set: op.set }, upsert: true } });
  }
  for (const [name, writes] of byCollection) {
    for (let i = 0; i < writes.length; i += WRITES_PER_BULK) {
      await db.collection<IdDoc>(name).bulkWrite(writes.slice(i, i + WRITES_PER_BULK), { ordered: false });
    }
  }
}

/** An upper-bound estimate of an op's size (its strings dominate). */
function estimateBytes(op: PlanOp): number {
  let bytes = 200;
  for (const value of Object.values(op.set)) bytes += 40 + (typeof value === 'string' ? value.length * 2 : 40);
  return bytes;
}

/** A plan as the chunks it is stored in. */
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
    _id: planChunkId(seq, chunk),
    seq,
    chunk,
    of,
    ops: JSON.stringify(opGroups[chunk] ?? []),
    eventIds: (idGroups[chunk] ?? []).join('\n'),
    batchIds: chunk === 0 ? batchIds.join('\n') : '',
  }));
}

const lines = (text: string | undefined): string[] => (text === undefined || text === '' ? [] : text.split('\n'));

/** The plans in aggregator_plans and the mark of how far they are written (aggregator_state). */
export class PlanLog {
  private readonly db: Db;

  constructor(db: Db) {
    this.db = db;
  }

  private get plans() {
    return this.db.collection<PlanDoc>(COLLECTIONS.plans);
  }

  private get states() {
    return this.db.collection<StateDoc>(COLLECTIONS.aggregator);
  }

  /** Inserts a plan: the commit point. A plan of the same sequence number already there means another writer. */
  async append(chunks: readonly PlanDoc[]): Promise<void> {
    try {
      await this.plans.insertMany([...chunks], { ordered: true });
    } catch (error) {
      if (isDuplicateKey(error)) throw new ConcurrentWriteError(`plan ${chunks[0]?.seq} was committed by another writer`);
      throw error;
    }
  }

  /**
   * The complete plans past the last fully written one, oldest first; incomplete ones (a crash
   * while their chunks were inserted) are deleted, and `discarded` says whether there were any.
   */
  async unfinished(): Promise<{ appliedThrough: number; plans: Plan[]; discarded: boolean }> {
    const state = await this.states.findOne({ _id: AGGREGATOR_STATE_ID });
    const appliedThrough = state?.appliedThrough ?? 0;
    if (state === null) await this.states.updateOne({ _id: AGGREGATOR_STATE_ID }, { $setOnInsert: { appliedThrough: 0, at: new Date() } }, { upsert: true });
    const bySeq = new Map<number, PlanDoc[]>();
    for (const chunk of await this.plans.find({ seq: { $gt: appliedThrough } }).toArray()) {
      let list = bySeq.get(chunk.seq);
      if (list === undefined) bySeq.set(chunk.seq, (list = []));
      list.push(chunk);
    }
    const plans: Plan[] = [];
    let discarded = false;
    for (const seq of [...bySeq.keys()].sort((a, b) => a - b)) {
      const chunks = bySeq.get(seq)!.sort((a, b) => a.chunk - b.chunk);
      if (chunks.length !== chunks[0]!.of) {
        await this.plans.deleteMany({ _id: { $in: chunks.map((c) => c._id) } });
        discarded = true;
        continue;
      }
      plans.push({
        seq,
        ops: chunks.flatMap((c) => JSON.parse(c.ops) as PlanOp[]),
        eventIds: chunks.flatMap((c) => lines(c.eventIds)),
        batchIds: chunks.flatMap((c) => lines(c.batchIds)),
      });
    }
    return { appliedThrough, plans, discarded };
  }

  /** Every plan through `seq` is fully written: mark it so, and drop those plans from the log. */
  async markWritten(seq: number): Promise<void> {
    await this.states.updateOne({ _id: AGGREGATOR_STATE_ID }, { $max: { appliedThrough: seq }, $set: { at: new Date() } });
    await this.plans.deleteMany({ seq: { $lte: seq } });
  }

  /** Empties the log for a rebuild; jobs queued before `now` may hold events the rebuild applies. */
  async reset(now: Date): Promise<void> {
    await deleteInChunks(this.plans);
    await this.states.updateOne({ _id: AGGREGATOR_STATE_ID }, { $set: { at: now, verifyBefore: now } });
  }

  /** Jobs queued before this time may hold events a rebuild already applied. */
  async verifyBefore(): Promise<number> {
    const state = await this.states.findOne({ _id: AGGREGATOR_STATE_ID });
    return state?.verifyBefore?.getTime() ?? 0;
  }

  /** Moves the verification mark to `at` (the end of a rebuild). */
  async setVerifyBefore(at: Date): Promise<void> {
    await this.states.updateOne({ _id: AGGREGATOR_STATE_ID }, { $set: { verifyBefore: at } });
  }
}
