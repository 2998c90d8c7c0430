import { MicroBatches } from '@recs/shared';
import { eventKey, type Aggregator, type FlushResult, type TrackedEvent } from '@recs/engine';

export interface BatchEntry {
  readonly batchId: string;
  readonly events: readonly TrackedEvent[];
  /** Some of these events may already be applied: check before counting them. */
  readonly verify: boolean;
}

/** A batch of events, or a request to re-rank best sellers as time passes. */
type Entry = BatchEntry | 'tick';

export interface BatcherHooks {
  /** The eventKeys among `keys` that an earlier batch already applied. */
  appliedAmong(keys: readonly string[]): Promise<Set<string>>;
  /**
   * Runs after each successful flush, with the batches it covered and the events it applied
   * (redelivered ones left out); the flush's jobs settle once it resolves.
   */
  afterFlush(result: FlushResult, batches: readonly BatchEntry[], events: readonly TrackedEvent[]): Promise<void>;
  /** Awaited before each flush: backpressure (the next flush waits while this is pending). */
  beforeFlush?(): Promise<void>;
  /** The events a flush applies (redelivered ones left out), just before the aggregator applies them. */
  applying?(events: readonly TrackedEvent[]): void;
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
  private readonly flushes: MicroBatches<Entry, void>;
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
    this.flushes = new MicroBatches<Entry, void>(
      (waiting) => this.eventsFit(waiting),
      async (taken) => {
        await this.flush(taken);
        return taken.map(() => undefined);
      },
    );
  }

  submit(entry: BatchEntry): Promise<void> {
    return this.flushes.submit(entry);
  }

  /** Re-ranks best sellers as time passes, in turn with the batches. */
  tick(): Promise<void> {
    return this.flushes.submit('tick');
  }

  /** True while batches wait or flush, and for half a second after the last flush. */
  get busy(): boolean {
    return this.flushes.active || performance.now() - this.lastFlush < 500;
  }

  /** Resolves once everything submitted so far has been flushed and its jobs settled. */
  idle(): Promise<void> {
    return this.flushes.idle();
  }

  /** How many of the waiting entries one flush takes: up to maxEvents events (at least one entry). */
  private eventsFit(waiting: readonly Entry[]): number {
    let events = 0;
    let count = 0;
    for (const entry of waiting) {
      const size = entry === 'tick' ? 0 : entry.events.length;
      if (count > 0 && events + size > this.maxEvents) break;
      events += size;
      count++;
    }
    return count;
  }

  private async flush(taken: readonly Entry[]): Promise<void> {
    const started = performance.now();
    this.lastFlush = started;
    await this.hooks.beforeFlush?.();
    const batches = taken.filter((e): e is BatchEntry => e !== 'tick');
    const toVerify = batches.filter((b) => b.verify).flatMap((b) => b.events.map((e) => eventKey(e.userId, e.eventId)));
    const applied = toVerify.length > 0 ? await this.hooks.appliedAmong(toVerify) : new Set<string>();
    const verified = performance.now();
    const events = batches.flatMap((b) => b.events).filter((e) => applied.size === 0 || !applied.has(eventKey(e.userId, e.eventId)));
    const now = Date.now();
    this.hooks.applying?.(events);
    const result = await this.aggregator.apply(
      events,
      now,
      batches.map((b) => b.batchId),
    );
    const aggregated = performance.now();
    const ticked = taken.includes('tick') ? await this.aggregator.refresh(now) : undefined;
    const merged: FlushResult =
      ticked === undefined ? result : { users: result.users, bestSellers: [...result.bestSellers, ...ticked.bestSellers], applied: result.applied };
    await this.hooks.afterFlush(merged, batches, events);
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
  }
}
