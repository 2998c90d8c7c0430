import type { ExecutionResult } from 'graphql';

/** When the changes a result answers happened (epoch ms), for the freshness metrics. */
export interface ChangeTimes {
  /** The oldest event behind them was accepted. */
  readonly acceptedAt?: number | undefined;
  /** The oldest of them was published on Redis. */
  readonly publishedAt?: number | undefined;
}

const min = (a: number | undefined, b: number | undefined) => (a === undefined ? b : b === undefined ? a : Math.min(a, b));

/**
 * The times of results merged into one: the earliest of each, since the later result answers the
 * earlier changes too and is the first the subscriber sees of them.
 */
export function earliest(a: ChangeTimes | undefined, b: ChangeTimes | undefined): ChangeTimes | undefined {
  if (a === undefined) return b;
  if (b === undefined) return a;
  return { acceptedAt: min(a.acceptedAt, b.acceptedAt), publishedAt: min(a.publishedAt, b.publishedAt) };
}

/** What an outbox tells its owner, for metrics. */
export interface OutboxObserver {
  /** An undelivered result was replaced by a newer one. */
  readonly dropped?: () => void;
  /** A result was handed to the subscriber (graphql-ws sends it on the socket right away). */
  readonly delivered?: (times: ChangeTimes | undefined) => void;
}

/**
 * One subscriber's outbox: it holds at most one undelivered result. A newer result replaces an
 * undelivered older one, so a slow consumer gets the latest list and memory stays bounded.
 */
export class LatestResult implements AsyncIterableIterator<ExecutionResult> {
  private pending: ExecutionResult | undefined;
  private pendingTimes: ChangeTimes | undefined;
  private waiting: ((result: IteratorResult<ExecutionResult>) => void) | undefined;
  private closed = false;
  private readonly onClose: () => void;
  private readonly observer: OutboxObserver;
  /** Results replaced before they were delivered. */
  dropped = 0;

  constructor(onClose: () => void, observer: OutboxObserver = {}) {
    this.onClose = onClose;
    this.observer = observer;
  }

  push(result: ExecutionResult, times?: ChangeTimes): void {
    if (this.closed) return;
    if (this.waiting !== undefined) {
      const resolve = this.waiting;
      this.waiting = undefined;
      this.observer.delivered?.(times);
      resolve({ value: result, done: false });
      return;
    }
    if (this.pending !== undefined) {
      this.dropped++;
      this.observer.dropped?.();
    }
    this.pending = result;
    this.pendingTimes = earliest(this.pendingTimes, times);
  }

  next(): Promise<IteratorResult<ExecutionResult>> {
    if (this.pending !== undefined) {
      const value = this.pending;
      this.pending = undefined;
      this.observer.delivered?.(this.pendingTimes);
      this.pendingTimes = undefined;
      return Promise.resolve({ value, done: false });
    }
    if (this.closed) return Promise.resolve({ value: undefined, done: true });
    return new Promise((resolve) => {
      this.waiting = resolve;
    });
  }

  return(): Promise<IteratorResult<ExecutionResult>> {
    if (!this.closed) {
      this.closed = true;
      this.pending = undefined;
      this.pendingTimes = undefined;
      this.waiting?.({ value: undefined, done: true });
      this.waiting = undefined;
      this.onClose();
    }
    return Promise.resolve({ value: undefined, done: true });
  }

  [Symbol.asyncIterator](): this {
    return this;
  }
}
