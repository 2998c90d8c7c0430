import { eventKey, type Aggregator, type FlushResult, type TrackedEvent } from '@recs/engine';

export interface BatchEntry {
  readonly batchId: string;
  readonly events: readonly TrackedEvent[];
  /** Some of these events may already be applied: check before counting them. */
  readonly verify: boolean;
}

interface Waiting {
  readonly entry: BatchEntry | 'tick';
  readonly resolve: () => void;
  readonly reject: (error: unknown) => void;
}

export interface BatcherHooks {
  /** The eventKeys among `keys` that an earlier batch already applied. */
  appliedAmong(keys: readonly string[]): Promise<Set<string>>;
  /**
   * Runs after each successful flush, with the batches it covered. The promise it returns
   * settles the flush's jobs; it may take longer (durable writes) without holding back the
   * next flush.
   */
  afterFlush(result: FlushResult, batches: readonly BatchEntry[]): Promise<{ readonly settled: Promise<void> }>;
  /** Awaited before each flush: backpressure (the next flush waits while this is pending). */
  beforeFlush?(): Promise<void>;
}

export interface FlushStats {
  readonly events: number;
  readonly batches: number;
  readonly ms: number;
  /** How long the oldest event of the flush waited since it was received. */
  readonly oldestEventAgeMs: number;
  /** Milliseconds per stage: verifying redeliveries, the aggregator's stages, follow-ups. */
  readonly stages: Readonly<Record<string, number>>;
}

/**
 * Merges the batches of concurrently active jobs into one aggregator flush: while a flush
 * runs, new batches wait and are flushed together next. Each job's promise settles when the
 * flush holding its events has committed (or failed, so BullMQ retries it).
 */
export class Batcher {
  private readonly aggregator: Aggregator;
  private readonly hooks: BatcherHooks;
  private readonly maxEvents: number;
  private readonly waiting: Waiting[] = [];
  private readonly settling = new Set<Promise<void>>();
  private running = false;
  private lastFlush = 0;
  private readonly onFlush: ((stats: FlushStats) => void) | undefined;
  private readonly storeTimings: () => Readonly<Record<string, number>>;

  constructor(
    aggregator: Aggregator,
    hooks: BatcherHooks,
    maxEvents: number,
    onFlush?: (stats: FlushStats) => void,
    storeTimings: () => Readonly<Record<string, number>> = () => ({}),
  ) {
    this.storeTimings = storeTimings;
    this.aggregator = aggregator;
    this.hooks = hooks;
    this.maxEvents = maxEvents;
    this.onFlush = onFlush;
  }

  submit(entry: BatchEntry): Promise<void> {
    return this.enqueue(entry);
  }

  /** Re-ranks best sellers as time passes, in turn with the batches. */
  tick(): Promise<void> {
    return this.enqueue('tick');
  }

  /** True while batches wait or flush, and for half a second after the last flush. */
  get busy(): boolean {
    return this.running || this.waiting.length > 0 || performance.now() - this.lastFlush < 500;
  }

  /** Resolves once everything submitted so far has been flushed and settled. */
  async idle(): Promise<void> {
    while (this.running || this.waiting.length > 0 || this.settling.size > 0) {
      await Promise.all([...this.settling].map((p) => p.catch(() => undefined)));
      await new Promise((resolve) => setImmediate(resolve));
    }
  }

  private enqueue(entry: BatchEntry | 'tick'): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.waiting.push({ entry, resolve, reject });
      // let the other jobs BullMQ is activating in this turn join the same flush
      setImmediate(() => void this.drain());
    });
  }

  private async drain(): Promise<void> {
    if (this.running) return;
    this.running = true;
    try {
      while (this.waiting.length > 0) {
        const taken: Waiting[] = [];
        let events = 0;
        while (this.waiting.length > 0) {
          const next = this.waiting[0]!;
          const size = next.entry === 'tick' ? 0 : next.entry.events.length;
          if (taken.length > 0 && events + size > this.maxEvents) break;
          taken.push(this.waiting.shift()!);
          events += size;
        }
        await this.flush(taken);
      }
    } finally {
      this.running = false;
    }
  }

  private async flush(taken: Waiting[]): Promise<void> {
    const started = performance.now();
    this.lastFlush = started;
    try {
      await this.hooks.beforeFlush?.();
      const batches = taken.map((w) => w.entry).filter((e): e is BatchEntry => e !== 'tick');
      const toVerify = batches.filter((b) => b.verify).flatMap((b) => b.events.map((e) => eventKey(e.userId, e.eventId)));
      const applied = toVerify.length > 0 ? await this.hooks.appliedAmong(toVerify) : new Set<string>();
      const verified = performance.now();
      const events = batches.flatMap((b) => b.events).filter((e) => applied.size === 0 || !applied.has(eventKey(e.userId, e.eventId)));
      const now = Date.now();
      const result = await this.aggregator.apply(
        events,
        now,
        batches.map((b) => b.batchId),
      );
      const aggregated = performance.now();
      const ticked = taken.some((w) => w.entry === 'tick') ? await this.aggregator.refresh(now) : undefined;
      const merged: FlushResult =
        ticked === undefined ? result : { users: result.users, bestSellers: [...result.bestSellers, ...ticked.bestSellers], applied: result.applied };
      const { settled } = await this.hooks.afterFlush(merged, batches);
      this.settling.add(settled);
      settled.then(
        () => {
          this.settling.delete(settled);
          for (const waiting of taken) waiting.resolve();
        },
        (error: unknown) => {
          this.settling.delete(settled);
          for (const waiting of taken) waiting.reject(error);
        },
      );
      const { load, compute, commit } = this.aggregator.timings;
      const store = this.storeTimings();
      this.onFlush?.({
        events: events.length,
        batches: batches.length,
        ms: performance.now() - started,
        oldestEventAgeMs: events.length === 0 ? 0 : Date.now() - Math.min(...events.map((e) => e.receivedAt)),
        stages: {
          verify: verified - started,
          load,
          compute,
          commit,
          ...Object.fromEntries(Object.entries(store).map(([k, v]) => [`commit.${k}`, v])),
          followUps: performance.now() - aggregated,
        },
      });
    } catch (error) {
      for (const waiting of taken) waiting.reject(error);
    }
  }
}
