import type { ExecutionResult } from 'graphql';

/**
 * One subscriber's outbox: it holds at most one undelivered result. A newer result replaces an
 * undelivered older one, so a slow consumer gets the latest list and memory stays bounded.
 */
export class LatestResult implements AsyncIterableIterator<ExecutionResult> {
  private pending: ExecutionResult | undefined;
  private waiting: ((result: IteratorResult<ExecutionResult>) => void) | undefined;
  private closed = false;
  private readonly onClose: () => void;
  /** Results replaced before they were delivered. */
  dropped = 0;

  constructor(onClose: () => void) {
    this.onClose = onClose;
  }

  push(result: ExecutionResult): void {
    if (this.closed) return;
    if (this.waiting !== undefined) {
      const resolve = this.waiting;
      this.waiting = undefined;
      resolve({ value: result, done: false });
      return;
    }
    if (this.pending !== undefined) this.dropped++;
    this.pending = result;
  }

  next(): Promise<IteratorResult<ExecutionResult>> {
    if (this.pending !== undefined) {
      const value = this.pending;
      this.pending = undefined;
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
