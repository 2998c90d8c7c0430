/**
 * Jobs submitted one by one, run in batches: the jobs BullMQ activates in one turn of the event
 * loop join the same batch (a `setImmediate` lets them arrive), one batch runs at a time, and
 * jobs submitted meanwhile form the next. `take` says how many of the waiting jobs the next batch
 * holds (at least one); `run` gives each job of a batch its result, in order, or throws, which
 * fails every job of that batch.
 */
export class MicroBatches<T, R> {
  private readonly waiting: { item: T; resolve: (result: R) => void; reject: (error: unknown) => void }[] = [];
  private readonly take: (waiting: readonly T[]) => number;
  private readonly run: (batch: readonly T[]) => Promise<readonly R[]>;
  private draining = false;

  constructor(take: (waiting: readonly T[]) => number, run: (batch: readonly T[]) => Promise<readonly R[]>) {
    this.take = take;
    this.run = run;
  }

  /** Resolves with the job's result once its batch has run. */
  submit(item: T): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      this.waiting.push({ item, resolve, reject });
      setImmediate(() => void this.drain());
    });
  }

  /** Jobs waiting for a batch (not counting the running one). */
  get waitingCount(): number {
    return this.waiting.length;
  }

  /** True while jobs wait or a batch runs. */
  get active(): boolean {
    return this.draining || this.waiting.length > 0;
  }

  /** Resolves once everything submitted so far has run. */
  async idle(): Promise<void> {
    while (this.active) await new Promise((resolve) => setImmediate(resolve));
  }

  private async drain(): Promise<void> {
    if (this.draining) return;
    this.draining = true;
    try {
      while (this.waiting.length > 0) {
        const count = Math.max(1, Math.min(this.waiting.length, this.take(this.waiting.map((w) => w.item))));
        const taken = this.waiting.splice(0, count);
        try {
          const results = await this.run(taken.map((w) => w.item));
          taken.forEach((w, i) => {
            w.resolve(results[i]!);
          });
        } catch (error) {
          for (const w of taken) w.reject(error);
        }
      }
    } finally {
      this.draining = false;
    }
  }
}
