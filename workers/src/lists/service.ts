import {
  hiddenOf,
  KIND_CODE,
  LruMap,
  recommend,
  sameItems,
  userSignals,
  type Aggregator,
  type CatalogView,
  type EngineConfig,
  type Neighbour,
  type ReadModel,
  type SimilarityKind,
  type UserSignals,
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
}

export type ListOutcome = { readonly changed: false } | { readonly changed: true; readonly list: StoredList };

/** Recomputes users' lists, saving and announcing only the ones that changed. */
export class ListService {
  private readonly options: ListServiceOptions;
  private worker: Worker<ListsJob> | undefined;
  /** The last list saved per user; a save that finds a newer version drops the entry. */
  private readonly saved: LruMap<string, StoredList>;

  constructor(options: ListServiceOptions) {
    this.options = options;
    this.saved = new LruMap(options.cacheSize ?? 100_000);
  }

  /**
   * Exactly what recommend() will read for these signals: the neighbours of the anchors and the
   * best sellers of the favourite categories and of the whole catalog. The leader's memory
   * answers first; MongoDB only what it lacks.
   */
  private async readModel(signals: UserSignals, local: Aggregator | undefined): Promise<ReadModel> {
    const { engine, store } = this.options;
    const neighbours = new Map<string, readonly Neighbour[]>();
    const missing: string[] = [];
    for (const [productId] of signals.anchors) {
      for (const kind of ['ALSO_VIEWED', 'ALSO_BOUGHT'] as const) {
        const key = `${KIND_CODE[kind]}:${productId}`;
        const cached = local?.coocOf(KIND_CODE[kind], productId);
        if (cached !== undefined) neighbours.set(key, cached.top);
        else missing.push(productId);
      }
    }
    const categories: (string | null)[] = [null, ...signals.categories.map(([id]) => id)];
    const loaded = await store.readModelFor(new Set(missing), local === undefined ? categories : [], engine.defaultWindowDays);
    return {
      neighbours: (productId: string, kind: SimilarityKind) => neighbours.get(`${KIND_CODE[kind]}:${productId}`) ?? loaded.neighbours(productId, kind),
      bestSellers: (categoryId, windowDays) => (local !== undefined ? local.bestSellers(categoryId, windowDays) : loaded.bestSellers(categoryId, windowDays)),
    };
  }

  async compute(userId: string, now = Date.now()): Promise<ListOutcome> {
    const { store, catalog, engine, publisher } = this.options;
    const local = this.options.local?.();
    const [state, previous] = await Promise.all([local?.userState(userId) ?? store.userState(userId), this.saved.get(userId) ?? store.list(userId)]);
    const hidden = hiddenOf(state);
    const signals = userSignals(state, hidden, now, catalog, engine);
    const read = await this.readModel(signals, local);
    const { items, strategy } = recommend({ state, hidden, now, catalog, read, config: engine, signals });
    if (previous !== undefined && previous.strategy === strategy && sameItems(previous.items, items)) {
      this.saved.set(userId, previous);
      return { changed: false };
    }
    const list: StoredList = { userId, items, strategy, generatedAt: now, version: (previous?.version ?? 0) + 1 };
    if (!(await store.save(list))) {
      // another process saved a newer version: start again from it
      this.saved.delete(userId);
      return this.compute(userId, now);
    }
    this.saved.set(userId, list);
    this.saved.trim();
    await publisher.recommendationsChanged({ userId, version: list.version });
    return { changed: true, list };
  }

  start(redis: RedisClient, prefix: string, concurrency: number, jobLockMs = 15_000): void {
    this.worker = new Worker<ListsJob>(
      RedisNames.queues.lists,
      async (job) => {
        const started = Date.now();
        const outcome = await this.compute(job.data.userId, started);
        this.options.logger.debug({ userId: job.data.userId, queuedMs: started - job.timestamp, ms: Date.now() - started, changed: outcome.changed }, 'list');
      },
      {
      connection: connectionOf(redis),
      prefix,
      concurrency,
        lockDuration: jobLockMs,
        stalledInterval: jobLockMs,
      },
    );
    this.worker.on('error', (error) => this.options.logger.warn({ err: error.message }, 'lists worker error'));
    this.worker.on('failed', (job, error) => this.options.logger.warn({ userId: job?.data.userId, err: error.message }, 'list recomputation failed'));
  }

  async stop(): Promise<void> {
    await this.worker?.close();
  }
}
