import type { Document } from 'mongodb';
import type { PlanOp } from './planLog.ts';

/** A committed plan whose deferred documents may not all be written yet. */
export interface CommittedPlan {
  readonly seq: number;
  readonly eventIds: readonly string[];
  readonly batchIds: readonly string[];
}

/** Where write-behind writes to (MongoDB; see mongoStore.ts). */
export interface WriteBehindTarget {
  /** Throws when this writer may no longer write (the lease was taken over). */
  fence(): Promise<void>;
  write(ops: readonly PlanOp[]): Promise<void>;
  /** Records the users active on each day. */
  recordActive(active: ReadonlyMap<number, ReadonlySet<string>>): Promise<void>;
  /** These plans, oldest first, are fully written: retire them. */
  finish(plans: readonly CommittedPlan[]): Promise<void>;
}

export interface WriteBehindOptions {
  /** How long write-behind waits between rounds, in milliseconds. */
  readonly writeBehindMs?: number;
  /**
   * While this answers true (the aggregator is busy with live traffic), a round writes the
   * longest-waiting quarter of the documents waiting (at least `busyBudget`), so background
   * writes do not crowd out the writes a fresh list waits for, yet keep up with a sustained
   * load. Idle, a round writes everything.
   */
  readonly busy?: () => boolean;
  readonly busyBudget?: number;
  /** Told after each round: documents written, plans retired. */
  readonly onWrittenBehind?: (round: { documents: number; plans: number; ms: number; waiting: number }) => void;
}

interface Waiting {
  readonly op: PlanOp;
  /** The plan the value came from: a plan is finished once no document of it or older waits. */
  readonly seq: number;
}

/** How many of `waiting` documents a round writes. */
export function roundBudget(waiting: number, busy: boolean, busyBudget = 75): number {
  return busy ? Math.max(busyBudget, Math.ceil(waiting / 4)) : Infinity;
}

const keyOf = (collection: string, id: string): string => `${collection}\u0000${id}`;

/**
 * The write-behind queue: the latest value of each document committed but not yet written, so a
 * document many commits changed is written once. Rounds run on a timer; after each, the plans
 * none of whose documents wait any more are finished.
 */
export class WriteBehind {
  private readonly target: WriteBehindTarget;
  private readonly options: WriteBehindOptions;
  private waiting = new Map<string, Waiting>();
  /** The documents the running round is writing: until it is done, MongoDB may not have them yet. */
  private inFlight = new Map<string, Waiting>();
  /** eventKeys of plans not finished yet (they count as applied already). */
  private readonly events = new Set<string>();
  private active = new Map<number, Set<string>>();
  /** Committed plans not finished yet, oldest first. */
  private plans: CommittedPlan[] = [];
  private writing: Promise<void> | undefined;
  private timer: NodeJS.Timeout | undefined;
  /** Plans added so far; rounds settle waiters up to the generation they covered. */
  private generation = 0;
  private waiters: { generation: number; resolve: () => void }[] = [];
  private stopped = false;
  /** Plans whose follow-ups are still running, by seq (how many holds each): none of them or later finishes. */
  private readonly held = new Map<number, number>();
  private resets = 0;
  /** Milliseconds the last round took. */
  lastRoundMs = 0;

  constructor(target: WriteBehindTarget, options: WriteBehindOptions = {}) {
    this.target = target;
    this.options = options;
  }

  /** Documents committed but not written yet. */
  get backlog(): number {
    return this.waiting.size;
  }

  get closed(): boolean {
    return this.stopped;
  }

  /** The value waiting to be written for this document, if any: it wins over the stored one. */
  pending(collection: string, id: string): Document | undefined {
    const key = keyOf(collection, id);
    return (this.waiting.get(key) ?? this.inFlight.get(key))?.op.set;
  }

  /** Whether an event of a plan not finished yet has this key. */
  holdsEvent(eventKey: string): boolean {
    return this.events.has(eventKey);
  }

  /** Queues the deferred documents of a committed plan. */
  add(plan: CommittedPlan, ops: readonly PlanOp[]): void {
    for (const op of ops) this.waiting.set(keyOf(op.c, op.id), { op, seq: plan.seq });
    for (const id of plan.eventIds) this.events.add(id);
    this.plans.push(plan);
    this.generation++;
    this.schedule();
  }

  /**
   * Keeps the plan `seq` and every later one unfinished (their events still count as pending,
   * recovery still replays them) until the returned function runs: the lists the live path
   * computes after a commit are recomputed by recovery should the process die first.
   */
  hold(seq: number): () => void {
    this.held.set(seq, (this.held.get(seq) ?? 0) + 1);
    const resets = this.resets;
    let released = false;
    return () => {
      // a reset forgot every hold (recovery replays the plans they held)
      if (released || resets !== this.resets) return;
      released = true;
      const left = (this.held.get(seq) ?? 1) - 1;
      if (left > 0) this.held.set(seq, left);
      else this.held.delete(seq);
      if (this.plans.length > 0) this.schedule();
    };
  }

  /** Users active on `day` (lists refreshed as interest decays), recorded by the next round. */
  noteActive(day: number, userIds: readonly string[]): void {
    let set = this.active.get(day);
    if (set === undefined) this.active.set(day, (set = new Set()));
    for (const id of userIds) set.add(id);
  }

  /** Resolves once everything added (and noted) so far is written. */
  written(): Promise<void> {
    const generation = this.generation;
    return new Promise((resolve) => {
      this.waiters.push({ generation, resolve });
      this.schedule();
    });
  }

  /** Waits for a running round, then forgets everything waiting (recovery rewrites it from the log). */
  async reset(): Promise<void> {
    // a round still running would write older values over the replayed ones
    while (this.writing !== undefined) await this.writing.catch(() => undefined);
    clearTimeout(this.timer);
    this.timer = undefined;
    this.waiting.clear();
    this.active.clear();
    this.events.clear();
    this.held.clear();
    this.resets++;
    this.plans = [];
  }

  /** Stops the rounds after writing what is waiting when `flush` (on shutdown). */
  async close({ flush }: { flush: boolean }): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (flush) await this.round().catch(() => undefined);
    this.stopped = true;
  }

  private schedule(): void {
    if (this.timer !== undefined || (this.stopped && this.waiters.length === 0)) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.round().catch(() => {
        // kept for the next round; a lost lease or an outage surfaces at the next commit
        this.schedule();
      });
    }, this.options.writeBehindMs ?? 300);
  }

  private settle(generation: number): void {
    const ready = this.waiters.filter((w) => w.generation <= generation);
    this.waiters = this.waiters.filter((w) => w.generation > generation);
    for (const waiter of ready) waiter.resolve();
  }

  /** One round: writes the documents its budget allows, then finishes the plans it completed. */
  async round(): Promise<void> {
    while (this.writing !== undefined) await this.writing;
    const generation = this.generation;
    if (this.waiting.size === 0 && this.plans.length === 0 && this.active.size === 0) {
      this.settle(generation);
      return;
    }
    const budget = roundBudget(this.waiting.size, this.options.busy?.() === true, this.options.busyBudget);
    let taken: Map<string, Waiting>;
    if (this.waiting.size <= budget) {
      taken = this.waiting;
      this.waiting = new Map();
    } else {
      const oldest = [...this.waiting].sort((a, b) => a[1].seq - b[1].seq).slice(0, budget);
      taken = new Map(oldest);
      for (const [key] of oldest) this.waiting.delete(key);
    }
    this.inFlight = taken;
    const active = this.active;
    this.active = new Map();
    const started = performance.now();
    this.writing = (async () => {
      try {
        await this.target.fence();
        await this.target.write([...taken.values()].map((entry) => entry.op));
        if (active.size > 0) await this.target.recordActive(active);
      } catch (error) {
        // put back what was not written, without overriding newer values
        for (const [key, entry] of taken) if (!this.waiting.has(key)) this.waiting.set(key, entry);
        for (const [day, users] of active) this.noteActive(day, [...users]);
        throw error;
      }
      // plans older than every document still waiting (and every plan held) are fully written
      let oldestWaiting = Infinity;
      for (const { seq } of this.waiting.values()) oldestWaiting = Math.min(oldestWaiting, seq);
      for (const seq of this.held.keys()) oldestWaiting = Math.min(oldestWaiting, seq);
      const done = this.plans.filter((plan) => plan.seq < oldestWaiting);
      if (done.length > 0) {
        await this.target.finish(done);
        const through = done.at(-1)!.seq;
        this.plans = this.plans.filter((plan) => plan.seq > through);
        for (const plan of done) for (const id of plan.eventIds) this.events.delete(id);
      }
      this.lastRoundMs = performance.now() - started;
      this.options.onWrittenBehind?.({ documents: taken.size, plans: done.length, ms: this.lastRoundMs, waiting: this.waiting.size });
      if (this.waiting.size > 0) this.schedule();
      else this.settle(generation);
    })();
    try {
      await this.writing;
    } finally {
      this.writing = undefined;
      this.inFlight = new Map();
    }
  }
}
