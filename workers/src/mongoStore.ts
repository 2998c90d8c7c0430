import type { AggregateSnapshot, AggregateStore, Cooc, FlushChanges, UserState } from '@recs/engine';
import { COLLECTIONS, deleteInChunks, UNIVERSE_ID } from '@recs/shared';
import type { Db } from 'mongodb';
import { recordedAsApplied, retire } from './store/inbox.ts';
import { AggregateLoads } from './store/loads.ts';
import { applyPlanOps, ConcurrentWriteError, planChunks, PlanLog, type PlanOp } from './store/planLog.ts';
import { isImmediate, planOps } from './store/planOps.ts';
import { WriteBehind, type WriteBehindOptions } from './store/writeBehind.ts';

/** A commit whose plan is written and whose documents are not yet (see MongoAggregateStoreOptions.afterPlan). */
export interface PlannedCommit {
  readonly seq: number;
  /** The documents the commit writes at once, next. */
  readonly immediate: readonly PlanOp[];
  /** Writes documents the way the commit does. */
  write(ops: readonly PlanOp[]): Promise<void>;
}

export interface MongoAggregateStoreOptions extends WriteBehindOptions {
  /** Checked before writing; false (the lease was taken over) stops the write. */
  readonly fence?: () => Promise<boolean>;
  /**
   * Called once a commit has passed its fence (this process still leads), before its plan and
   * documents are written, with the users it changes: the leader starts their lists from its
   * memory then, so they do not wait for those writes (see AggregatorService).
   */
  readonly onFenced?: (userIds: readonly string[]) => void;
  /**
   * Awaited between a commit's commit point (its plan written) and its first document write.
   * Fault tests crash the process here (workers/test/crashingWorker.ts); nothing else sets it.
   */
  readonly afterPlan?: (commit: PlannedCommit) => Promise<void>;
  /**
   * Each commit stays unfinished (write-behind does not retire it, recovery replays it) until the
   * release takeHolds() returns for it runs: the live path's follow-ups (the users' lists) are
   * done by then, or recovery queues them again.
   */
  readonly holdCommits?: boolean;
}

/** The aggregates the aggregator keeps, emptied by a rebuild (not the raw events, the catalog, hidden histories or lists). */
const AGGREGATES = [COLLECTIONS.users, COLLECTIONS.cooc, COLLECTIONS.buyerDays, COLLECTIONS.bestSellers, COLLECTIONS.applied];

/**
 * The aggregator's state in MongoDB. A commit inserts its plan into the write-ahead log
 * (store/planLog.ts, with why a plan and not a transaction), writes the documents other
 * processes read at once (store/planOps.ts), and hands the rest to write-behind
 * (store/writeBehind.ts), which writes each document once however many commits changed it,
 * then retires the plans it completed (store/inbox.ts). Loads see the values still waiting
 * (store/loads.ts). After a crash, recover() writes every plan past the last fully written
 * one, in order.
 */
export class MongoAggregateStore implements AggregateStore {
  private readonly db: Db;
  private readonly options: MongoAggregateStoreOptions;
  private readonly log: PlanLog;
  private readonly behind: WriteBehind;
  private readonly loads: AggregateLoads;
  private seq: number | undefined;
  private readonly commitTimings = { plan: 0, apply: 0, writes: 0, planKiB: 0 };
  /** Releases of the commits held since the last takeHolds(). */
  private holds: (() => void)[] = [];
  /** Users whose state the plans recover() replayed changed (their lists may never have been recomputed). */
  private recovered = new Set<string>();

  constructor(db: Db, options: MongoAggregateStoreOptions = {}) {
    this.db = db;
    this.options = options;
    this.log = new PlanLog(db);
    this.behind = new WriteBehind(
      {
        fence: () => this.checkFence(),
        write: (ops) => applyPlanOps(db, ops),
        recordActive: async (active) => {
          for (const [day, users] of active) {
            await db
              .collection<{ _id: number; users: string[] }>(COLLECTIONS.activeUsers)
              .updateOne({ _id: day }, { $addToSet: { users: { $each: [...users] } } }, { upsert: true });
          }
        },
        finish: async (plans) => {
          await retire(
            db,
            plans.flatMap((plan) => plan.eventIds),
            plans.flatMap((plan) => plan.batchIds),
          );
          await this.log.markWritten(plans.at(-1)!.seq);
        },
      },
      options,
    );
    this.loads = new AggregateLoads(db, (collection, id) => this.behind.pending(collection, id));
  }

  /** Milliseconds in each step of the last commit and write-behind round, and how many documents the commit changed. */
  get timings(): Readonly<Record<string, number>> {
    return { ...this.commitTimings, behind: this.behind.lastRoundMs };
  }

  private async checkFence(): Promise<void> {
    if (this.options.fence !== undefined && !(await this.options.fence())) throw new ConcurrentWriteError('the aggregation lease was taken over');
  }

  /** Jobs queued before this time may hold events a rebuild already applied. */
  verifyBefore(): Promise<number> {
    return this.log.verifyBefore();
  }

  /** Moves the verification mark to `at` (the end of a rebuild). */
  setVerifyBefore(at: Date): Promise<void> {
    return this.log.setVerifyBefore(at);
  }

  /**
   * Writes every complete plan past the last fully written one, in order, and drops an
   * incomplete one (nothing of it was applied and its jobs are retried). Must run before
   * anything is loaded.
   */
  async recover(): Promise<'clean' | 'reapplied' | 'discarded'> {
    await this.behind.reset();
    this.holds = [];
    const { appliedThrough, plans, discarded } = await this.log.unfinished();
    let last = appliedThrough;
    for (const plan of plans) {
      for (const op of plan.ops) if (op.c === COLLECTIONS.users) this.recovered.add(op.id);
      await applyPlanOps(this.db, plan.ops);
      await retire(this.db, plan.eventIds, plan.batchIds);
      last = plan.seq;
    }
    await this.log.markWritten(last);
    this.seq = last;
    return plans.length > 0 ? 'reapplied' : discarded ? 'discarded' : 'clean';
  }

  /**
   * The users whose state a plan replayed by recover() changed, once (then forgotten): a crash may
   * have come before their lists were recomputed.
   */
  takeRecoveredUsers(): string[] {
    const users = [...this.recovered];
    this.recovered = new Set();
    return users;
  }

  /**
   * Hands over the holds of the commits since the last call (with `holdCommits`): they stay
   * unfinished until the returned function runs.
   */
  takeHolds(): () => void {
    const holds = this.holds;
    this.holds = [];
    return () => {
      for (const release of holds) release();
    };
  }

  /** Empties every aggregate for a rebuild, and marks jobs queued until now as possibly applied already. */
  async resetForRebuild(now: Date): Promise<void> {
    await this.recover();
    for (const name of AGGREGATES) await deleteInChunks(this.db.collection(name));
    await this.db.collection<{ _id: string }>(COLLECTIONS.aggregator).deleteOne({ _id: UNIVERSE_ID });
    await this.log.reset(now);
  }

  async loadSnapshot(): Promise<AggregateSnapshot> {
    if (this.seq === undefined) await this.recover();
    return this.loads.snapshot();
  }

  loadUsers(userIds: readonly string[]): Promise<Map<string, UserState>> {
    return this.loads.users(userIds);
  }

  loadCooc(keys: readonly string[]): Promise<Map<string, Cooc>> {
    return this.loads.cooc(keys);
  }

  /** Of these eventKeys, the ones some earlier batch already applied (finished or not). */
  async appliedAmong(keys: readonly string[]): Promise<Set<string>> {
    const found = await recordedAsApplied(this.db, keys);
    for (const key of keys) if (this.behind.holdsEvent(key)) found.add(key);
    return found;
  }

  async commit(changes: FlushChanges): Promise<void> {
    if (this.behind.closed) throw new ConcurrentWriteError('the store is closed');
    // before any await: a change's pairs are the aggregator's live counts (see CoocChange)
    const ops = planOps(changes);
    if (this.seq === undefined) await this.recover();
    const batchIds = changes.batchIds ?? [];
    if (ops.length === 0 && changes.eventIds.length === 0 && batchIds.length === 0) return;
    const seq = this.seq! + 1;
    try {
      await this.checkFence();
      if (changes.users.length > 0) this.options.onFenced?.(changes.users.map((user) => user.userId));
      const planning = performance.now();
      const chunks = planChunks(seq, ops, changes.eventIds, batchIds);
      await this.log.append(chunks);
      this.commitTimings.plan = performance.now() - planning;
      this.commitTimings.writes = ops.length;
      this.commitTimings.planKiB = Math.round(chunks.reduce((sum, c) => sum + c.ops.length + c.eventIds.length, 0) / 1024);
      this.seq = seq;

      const applying = performance.now();
      const immediate = ops.filter(isImmediate);
      await this.options.afterPlan?.({ seq, immediate, write: (some) => applyPlanOps(this.db, some) });
      await applyPlanOps(this.db, immediate);
      this.commitTimings.apply = performance.now() - applying;
      this.behind.add(
        { seq, eventIds: changes.eventIds, batchIds },
        ops.filter((op) => !isImmediate(op)),
      );
      if (this.options.holdCommits === true) this.holds.push(this.behind.hold(seq));
    } catch (error) {
      // recover() finishes whatever was committed before anything is loaded again
      this.seq = undefined;
      throw error;
    }
  }

  /** Documents committed but not written to their collections yet. */
  get backlog(): number {
    return this.behind.backlog;
  }

  /** Resolves once everything committed (and noted) so far is written to the collections. */
  written(): Promise<void> {
    return this.behind.written();
  }

  /** Users active on `day` (lists refreshed as interest decays), recorded by write-behind. */
  noteActive(day: number, userIds: readonly string[]): void {
    this.behind.noteActive(day, userIds);
  }

  /** Runs a write-behind round now; resolves once done. */
  writeBehind(): Promise<void> {
    return this.behind.round();
  }

  /** Stops write-behind after writing what is pending (on shutdown). */
  close(options: { flush: boolean }): Promise<void> {
    return this.behind.close(options);
  }
}
