import {
  hiddenOf,
  KIND_CODE,
  LruMap,
  recommend,
  sameItems,
  userSignals,
  weighsRepeat,
  type Aggregator,
  type CatalogView,
  type EngineConfig,
  type Neighbour,
  type ReadModel,
  type SimilarityKind,
  type UserSignals,
  type UserState,
} from '@recs/engine';
import { connectionOf, RedisNames, type ListsJob, type Logger, type RedisClient, type StoredList } from '@recs/shared';
import { Worker } from 'bullmq';
import type { Publisher } from '../publisher.ts';
import type { ListStore } from './store.ts';

export interface ListServiceOptions {
  readonly store: ListStore;
  readonly catalog: CatalogView;
  readonly engine: EngineConfig;
  readonly publisher: Publisher;
  readonly logger: Logger;
  /** The aggregator, when this process leads aggregation: fresher and cheaper than MongoDB. */
  readonly local?: () => Aggregator | undefined;
  /** Users whose last saved list is kept in memory. */
  readonly cacheSize?: number;
  /** Lists computed, saved and announced together at most. */
  readonly maxBatch?: number;
}

export type ListOutcome = { readonly changed: false } | { readonly changed: true; readonly list: StoredList };

interface Pending {
  readonly userId: string;
  readonly queuedAt: number;
  readonly resolve: (outcome: ListOutcome) => void;
  readonly reject: (error: unknown) => void;
}

/**
 * Recomputes users' lists, saving and announcing only the ones that changed. The jobs active at
 * once are handled together: one read of what MongoDB must supply, one bulk save, one round of
 * announcements, so a burst costs a few round trips instead of a few per user.
 */
export class ListService {
  private readonly options: ListServiceOptions;
  private worker: Worker<ListsJob> | undefined;
  /** The last list saved per user; a save that finds a newer version drops the entry. */
  private readonly saved: LruMap<string, StoredList>;
  private waiting: Pending[] = [];
  private running = false;

  constructor(options: ListServiceOptions) {
    this.options = options;
    this.saved = new LruMap(options.cacheSize ?? 100_000);
  }

  /**
   * Exactly what recommend() will read for these users' signals: the neighbours of their anchors
   * and the best sellers of their favourite categories and of the whole catalog. The leader's
   * memory answers first; MongoDB only what it lacks, in one read for all of them.
   */
  private async readModel(signals: readonly UserSignals[], local: Aggregator | undefined): Promise<ReadModel> {
    const { engine, store } = this.options;
    const neighbours = new Map<string, readonly Neighbour[]>();
    const missing = new Set<string>();
    const categories = new Set<string | null>([null]);
    const purchased = new Set<string>();
    for (const user of signals) {
      if (local === undefined && weighsRepeat(engine)) for (const productId of user.repeat.values.keys()) purchased.add(productId);
      for (const [productId] of user.anchors) {
        for (const kind of ['ALSO_VIEWED', 'ALSO_BOUGHT'] as const) {
          const key = `${KIND_CODE[kind]}:${productId}`;
          const cached = local?.coocOf(KIND_CODE[kind], productId);
          if (cached !== undefined) neighbours.set(key, cached.top);
          else missing.add(productId);
        }
      }
      for (const [categoryId] of user.categories) categories.add(categoryId);
    }
    const loaded = await store.readModelFor(missing, local === undefined ? categories : [], engine.listWindowDays, purchased);
    return {
      productBuyers: (productId) => (local !== undefined ? local.productBuyers(productId) : loaded.productBuyers(productId)),
      neighbours: (productId: string, kind: SimilarityKind) => neighbours.get(`${KIND_CODE[kind]}:${productId}`) ?? loaded.neighbours(productId, kind),
      bestSellers: (categoryId, windowDays) => (local !== undefined ? local.bestSellers(categoryId, windowDays) : loaded.bestSellers(categoryId, windowDays)),
    };
  }

  /** Recomputes one user's list now (saved and announced when it changed). */
  async compute(userId: string, now = Date.now()): Promise<ListOutcome> {
    return (await this.computeMany([userId], now)).get(userId)!;
  }

  /** Recomputes these users' lists together; the outcome of each, by user. */
  async computeMany(userIds: readonly string[], now = Date.now()): Promise<Map<string, ListOutcome>> {
    const { store, catalog, engine, publisher } = this.options;
    const unique = [...new Set(userIds)];
    const local = this.options.local?.();
    const states = new Map<string, UserState | undefined>();
    const previous = new Map<string, StoredList | undefined>();
    const unknownStates: string[] = [];
    const unknownLists: string[] = [];
    for (const userId of unique) {
      const state = local?.userState(userId);
      if (state !== undefined) states.set(userId, state);
      else unknownStates.push(userId);
      const list = this.saved.get(userId);
      if (list !== undefined) previous.set(userId, list);
      else unknownLists.push(userId);
    }
    const [loadedStates, loadedLists] = await Promise.all([store.userStates(unknownStates), store.lists(unknownLists)]);
    for (const userId of unknownStates) states.set(userId, loadedStates.get(userId));
    for (const userId of unknownLists) previous.set(userId, loadedLists.get(userId));

    const inputs = unique.map((userId) => {
      const state = states.get(userId);
      const hidden = hiddenOf(state);
      return { userId, state, hidden, signals: userSignals(state, hidden, now, catalog, engine) };
    });
    const read = await this.readModel(
      inputs.map((input) => input.signals),
      local,
    );
    const outcomes = new Map<string, ListOutcome>();
    const toSave: StoredList[] = [];
    for (const { userId, state, hidden, signals } of inputs) {
      const { items, strategy } = recommend({ state, hidden, now, catalog, read, config: engine, signals });
      const before = previous.get(userId);
      if (before !== undefined && before.strategy === strategy && sameItems(before.items, items)) {
        this.saved.set(userId, before);
        outcomes.set(userId, { changed: false });
        continue;
      }
      toSave.push({ userId, items, strategy, generatedAt: now, version: (before?.version ?? 0) + 1 });
    }
    const conflicts = toSave.length === 0 ? new Set<string>() : await store.saveMany(toSave);
    const published: Promise<void>[] = [];
    for (const list of toSave) {
      if (conflicts.has(list.userId)) continue;
      this.saved.set(list.userId, list);
      outcomes.set(list.userId, { changed: true, list });
      published.push(publisher.recommendationsChanged({ userId: list.userId, version: list.version }));
    }
    this.saved.trim();
    await Promise.all(published);
    // another process saved a newer version: start again from it
    for (const userId of conflicts) {
      this.saved.delete(userId);
      outcomes.set(userId, await this.compute(userId, now));
    }
    return outcomes;
  }

  /** Takes a user's list job into the next batch; resolves with its outcome. */
  private submit(userId: string, queuedAt: number): Promise<ListOutcome> {
    return new Promise((resolve, reject) => {
      this.waiting.push({ userId, queuedAt, resolve, reject });
      // let the other jobs BullMQ is activating in this turn join the same batch
      setImmediate(() => void this.drain());
    });
  }

  private async drain(): Promise<void> {
    if (this.running) return;
    this.running = true;
    try {
      while (this.waiting.length > 0) {
        const taken = this.waiting.splice(0, this.options.maxBatch ?? 500);
        const started = Date.now();
        try {
          const outcomes = await this.computeMany(
            taken.map((p) => p.userId),
            started,
          );
          const ms = Date.now() - started;
          let changed = 0;
          for (const pending of taken) {
            const outcome = outcomes.get(pending.userId)!;
            if (outcome.changed) changed++;
            pending.resolve(outcome);
          }
          this.options.logger.debug(
            { lists: taken.length, changed, ms, queuedMs: Math.max(...taken.map((p) => started - p.queuedAt)) },
            'lists',
          );
        } catch (error) {
          for (const pending of taken) pending.reject(error);
        }
      }
    } finally {
      this.running = false;
    }
  }

  start(redis: RedisClient, prefix: string, concurrency: number, jobLockMs = 15_000): void {
    this.worker = new Worker<ListsJob>(RedisNames.queues.lists, async (job) => void (await this.submit(job.data.userId, job.timestamp)), {
      connection: connectionOf(redis),
      prefix,
      concurrency,
      lockDuration: jobLockMs,
      stalledInterval: jobLockMs,
    });
    this.worker.on('error', (error) => this.options.logger.warn({ err: error.message }, 'lists worker error'));
    this.worker.on('failed', (job, error) => this.options.logger.warn({ userId: job?.data.userId, err: error.message }, 'list recomputation failed'));
  }

  async stop(): Promise<void> {
    await this.worker?.close();
  }
}
