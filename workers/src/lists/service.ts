import { recommend, sameItems, type Aggregator, type CatalogView, type EngineConfig, type ReadModel, type UserState } from '@recs/engine';
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
}

export type ListOutcome = { readonly changed: false } | { readonly changed: true; readonly list: StoredList };

/** Recomputes users' lists, saving and announcing only the ones that changed. */
export class ListService {
  private readonly options: ListServiceOptions;
  private worker: Worker<ListsJob> | undefined;

  constructor(options: ListServiceOptions) {
    this.options = options;
  }

  private async readModel(state: UserState | undefined, local: Aggregator | undefined): Promise<ReadModel> {
    const { catalog, engine, store } = this.options;
    const products = new Set<string>();
    for (const [, productId] of state?.events ?? []) products.add(productId);
    for (const productId of state?.lastPurchaseDay.keys() ?? []) products.add(productId);
    const categories = new Set<string | null>([null]);
    for (const productId of products) {
      const categoryId = catalog.product(productId)?.categoryId;
      if (categoryId !== undefined) categories.add(categoryId);
    }
    const loaded = await store.readModelFor(products, categories, engine.defaultWindowDays);
    if (local === undefined) return loaded;
    // the leader's own rankings are always current; its neighbours only for products it holds
    return {
      neighbours: (productId, kind) => {
        const fresh = local.neighbours(productId, kind);
        return fresh.length > 0 ? fresh : loaded.neighbours(productId, kind);
      },
      bestSellers: (categoryId, windowDays) => local.bestSellers(categoryId, windowDays),
    };
  }

  async compute(userId: string, now = Date.now()): Promise<ListOutcome> {
    const { store, catalog, engine, publisher } = this.options;
    const local = this.options.local?.();
    const [state, hidden, previous] = await Promise.all([
      local?.userState(userId) ?? store.userState(userId),
      store.hidden(userId),
      store.list(userId),
    ]);
    const read = await this.readModel(state, local);
    const { items, strategy } = recommend({ state, hidden, now, catalog, read, config: engine });
    if (previous !== undefined && previous.strategy === strategy && sameItems(previous.items, items)) return { changed: false };
    const list: StoredList = { userId, items, strategy, generatedAt: now, version: (previous?.version ?? 0) + 1 };
    if (!(await store.save(list))) return { changed: false };
    await publisher.recommendationsChanged({ userId, version: list.version });
    return { changed: true, list };
  }

  start(redis: RedisClient, prefix: string, concurrency: number, jobLockMs = 15_000): void {
    this.worker = new Worker<ListsJob>(RedisNames.queues.lists, async (job) => void (await this.compute(job.data.userId)), {
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
