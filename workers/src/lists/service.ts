import {
  candidateList,
  hiddenOf,
  KIND_CODE,
  LruMap,
  modelList,
  NEIGHBOUR_KINDS,
  NO_READS,
  POPULAR_RANK_WINDOW_DAYS,
  rankerContext,
  rankerReads,
  readsFor,
  recommend,
  sameItems,
  userSignals,
  type Aggregator,
  type ListReads,
  type CatalogView,
  type EngineConfig,
  type Neighbour,
  type ReadModel,
  type Recommendations,
  type SimilarityKind,
  type UserSignals,
  type UserState,
} from '@recs/engine';
import {
  connectionOf,
  DEFAULT_JOB_LOCK_MS,
  jobLock,
  MicroBatches,
  RedisNames,
  redisErrorListener,
  type ListsJob,
  type Logger,
  type RankedItems,
  type RedisClient,
  type ServingModel,
  type StoredList,
} from '@recs/shared';
import { Worker, type Job } from 'bullmq';
import type { WorkersMetrics } from '../metrics.ts';
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
  /** Where batches, outcomes and job durations are recorded. */
  readonly metrics?: WorkersMetrics;
  /** The ranking model serving now (CurrentModel): while one does, each list is also saved in its order. */
  readonly model?: ModelSource;
}

/** Where list building finds the serving ranking model. */
export interface ModelSource {
  current(): ServingModel | undefined;
  /** Settles once a reload under way is done (a batch waits, so a promotion's recomputations use the new model). */
  ready?(): Promise<void>;
}

/** A user's list as built: the blend's, and the serving model's when one serves. */
export interface BuiltList {
  readonly blend: Recommendations;
  readonly ranked?: RankedItems;
}

const sameRanked = (a: RankedItems | undefined, b: RankedItems | undefined) =>
  a === undefined || b === undefined ? a === b : a.model === b.model && sameItems(a.items, b.items);

/** `read` with the reads in `extra` answered by `loaded` (the ranker's features, loaded after the candidates). */
function withExtra(read: ReadModel, extra: ListReads, loaded: ReadModel): ReadModel {
  return {
    neighbours: (productId, kind) => read.neighbours(productId, kind),
    productBuyers: (productId) => (extra.productBuyers.has(productId) ? loaded : read).productBuyers(productId),
    bestSellers: (categoryId, windowDays) =>
      (windowDays === POPULAR_RANK_WINDOW_DAYS && categoryId === null ? loaded : read).bestSellers(categoryId, windowDays),
  };
}

/** What an option left out means (LIST_CONCURRENCY and JOB_LOCK_MS default to these, see config.ts). */
export const LIST_DEFAULTS = {
  cacheSize: 100_000,
  maxBatch: 500,
  /** List jobs taken at once per process (start()). */
  concurrency: 128,
  jobLockMs: DEFAULT_JOB_LOCK_MS,
} as const;

export type ListOutcome = { readonly changed: false } | { readonly changed: true; readonly list: StoredList };

interface Pending {
  readonly userId: string;
  readonly queuedAt: number;
  /** See ListsJob.acceptedAt. */
  readonly acceptedAt: number | undefined;
}

/**
 * Recomputes users' lists, saving and announcing only the ones that changed. The jobs active at
 * once are handled together: one read of what MongoDB must supply, one bulk save, one round of
 * announcements, so a burst costs a few round trips instead of a few per user.
 */
export class ListService {
  private readonly options: ListServiceOptions & { readonly cacheSize: number; readonly maxBatch: number };
  private worker: Worker<ListsJob> | undefined;
  /** The last list saved per user; a save that finds a newer version drops the entry. */
  private readonly saved: LruMap<string, StoredList>;
  private readonly batches: MicroBatches<Pending, ListOutcome>;
  constructor(options: ListServiceOptions) {
    this.options = { cacheSize: LIST_DEFAULTS.cacheSize, maxBatch: LIST_DEFAULTS.maxBatch, ...options };
    this.saved = new LruMap(this.options.cacheSize);
    this.batches = new MicroBatches(
      () => this.options.maxBatch,
      (taken) => this.runBatch(taken),
    );
  }

  /**
   * A ReadModel holding everything recommend() will read for these users' signals (readsFor).
   * The leader's memory answers what it holds; MongoDB the rest, in one load for all of them.
   */
  private async readModel(signals: readonly UserSignals[], local: Aggregator | undefined): Promise<ReadModel> {
    const { engine, store } = this.options;
    const reads = readsFor(signals, engine);
    if (local === undefined) return store.load(reads);
    // the leader holds every product's buyers and every ranking, and the neighbours of the products it has cached
    const held: Record<SimilarityKind, Map<string, readonly Neighbour[]>> = { ALSO_BOUGHT: new Map(), ALSO_VIEWED: new Map() };
    const missing: Record<SimilarityKind, Set<string>> = { ALSO_BOUGHT: new Set(), ALSO_VIEWED: new Set() };
    for (const kind of NEIGHBOUR_KINDS) {
      for (const productId of reads.neighbours[kind]) {
        const cached = local.coocOf(KIND_CODE[kind], productId);
        if (cached !== undefined) held[kind].set(productId, cached.top);
        else missing[kind].add(productId);
      }
    }
    const loaded = await store.load({ ...NO_READS, neighbours: missing });
    return {
      neighbours: (productId, kind) => held[kind].get(productId) ?? loaded.neighbours(productId, kind),
      productBuyers: (productId) => local.productBuyers(productId),
      bestSellers: (categoryId, windowDays) => local.bestSellers(categoryId, windowDays),
    };
  }

  /**
   * These users' lists as they would be saved now, saving nothing: recommend()'s (the blend), and
   * with a serving model its order of the user's candidates (engine/src/ranker) as well. The
   * candidates are the blend's own list, so the model's features read only the candidates' buyers
   * and the catalog's best sellers beyond it: from memory on the leader, one more load elsewhere.
   */
  async build(userIds: readonly string[], now = Date.now()): Promise<Map<string, BuiltList>> {
    const { store, catalog, engine } = this.options;
    const unique = [...new Set(userIds)];
    const local = this.options.local?.();
    const states = new Map<string, UserState | undefined>();
    const unknown: string[] = [];
    for (const userId of unique) {
      const state = local?.userState(userId);
      if (state !== undefined) states.set(userId, state);
      else unknown.push(userId);
    }
    const loaded = await store.userStates(unknown);
    for (const userId of unknown) states.set(userId, loaded.get(userId));
    const inputs = unique.map((userId) => {
      const state = states.get(userId);
      const hidden = hiddenOf(state);
      return { userId, state, hidden, signals: userSignals(state, hidden, now, catalog, engine) };
    });
    const read = await this.readModel(
      inputs.map((input) => input.signals),
      local,
    );
    const serving = this.options.model?.current();
    if (serving === undefined) {
      return new Map(
        inputs.map(({ userId, state, hidden, signals }) => [userId, { blend: recommend({ state, hidden, now, catalog, read, config: engine, signals }) }]),
      );
    }
    const price = (productId: string) => catalog.product(productId)?.price;
    const lists = inputs.map(({ userId, state, hidden, signals }) => ({
      userId,
      state,
      list: candidateList({ state, now, catalog, read, config: engine, hidden, signals }),
    }));
    const extra = rankerReads(lists.flatMap(({ list }) => list.candidates.map((candidate) => candidate.productId)));
    const featureRead = local === undefined ? withExtra(read, extra, await store.load(extra)) : read;
    return new Map(
      lists.map(({ userId, state, list }) => {
        const user = rankerContext({ state, now, catalog, read: featureRead, config: engine, price }, list.signals, list.hidden);
        const blend: Recommendations = { items: list.items.slice(0, engine.listSize), strategy: list.strategy };
        return [userId, { blend, ranked: { model: serving.version, items: modelList(list, user, serving.model, engine.listSize) } }];
      }),
    );
  }

  /** Recomputes one user's list now (saved and announced when it changed). */
  async compute(userId: string, now = Date.now()): Promise<ListOutcome> {
    return (await this.computeMany([userId], now)).get(userId)!;
  }

  /**
   * Recomputes these users' lists together; the outcome of each, by user. A changed list's
   * announcement carries its user's `acceptedAt` when given (see ListsJob.acceptedAt).
   */
  async computeMany(userIds: readonly string[], now = Date.now(), acceptedAt: ReadonlyMap<string, number> = new Map()): Promise<Map<string, ListOutcome>> {
    const { store, publisher } = this.options;
    const unique = [...new Set(userIds)];
    const previous = new Map<string, StoredList | undefined>();
    const unknownLists: string[] = [];
    for (const userId of unique) {
      const list = this.saved.get(userId);
      if (list !== undefined) previous.set(userId, list);
      else unknownLists.push(userId);
    }
    const [built, loadedLists] = await Promise.all([this.build(unique, now), store.lists(unknownLists)]);
    for (const userId of unknownLists) previous.set(userId, loadedLists.get(userId));

    const outcomes = new Map<string, ListOutcome>();
    const toSave: StoredList[] = [];
    for (const [userId, { blend, ranked }] of built) {
      const { items, strategy } = blend;
      const before = previous.get(userId);
      if (before !== undefined && before.strategy === strategy && sameItems(before.items, items) && sameRanked(before.ranked, ranked)) {
        this.saved.set(userId, before);
        outcomes.set(userId, { changed: false });
        continue;
      }
      toSave.push({ userId, items, strategy, generatedAt: now, version: (before?.version ?? 0) + 1, ...(ranked === undefined ? {} : { ranked }) });
    }
    const conflicts = toSave.length === 0 ? new Set<string>() : await store.saveMany(toSave);
    const published: Promise<void>[] = [];
    for (const list of toSave) {
      if (conflicts.has(list.userId)) continue;
      this.saved.set(list.userId, list);
      outcomes.set(list.userId, { changed: true, list });
      const accepted = acceptedAt.get(list.userId);
      published.push(
        publisher.publish('recommendationsChanged', {
          userId: list.userId,
          version: list.version,
          ...(accepted === undefined ? {} : { acceptedAt: accepted }),
          list,
        }),
      );
    }
    this.saved.trim();
    await Promise.all(published);
    // another process saved a newer version: start again from it
    for (const userId of conflicts) {
      this.saved.delete(userId);
      outcomes.set(userId, (await this.computeMany([userId], now, acceptedAt)).get(userId)!);
    }
    return outcomes;
  }

  /**
   * The live path (see LiveLists): recomputes these users' lists in this process's next batches,
   * with its list jobs; resolves once each is saved and announced (or unchanged), rejects when a
   * batch failed.
   */
  async recompute(userIds: readonly string[], acceptedAt: ReadonlyMap<string, number> = new Map()): Promise<void> {
    const queuedAt = Date.now();
    await Promise.all(userIds.map((userId) => this.batches.submit({ userId, queuedAt, acceptedAt: acceptedAt.get(userId) })));
  }

  /** Users waiting for a batch of this process (live path and jobs). */
  get waiting(): number {
    return this.batches.waitingCount;
  }

  /** Takes a user's list job into the next batch; resolves with its outcome. */
  private submit({ userId, timestamp, acceptedAt }: { userId: string; timestamp: number; acceptedAt: number | undefined }): Promise<ListOutcome> {
    return this.batches.submit({ userId, queuedAt: timestamp, acceptedAt });
  }

  private async runBatch(taken: readonly Pending[]): Promise<ListOutcome[]> {
    await this.options.model?.ready?.();
    const started = Date.now();
    const timer = performance.now();
    // a user twice in a batch: the older acceptance is the honest bound
    const acceptedAt = new Map<string, number>();
    for (const { userId, acceptedAt: at } of taken) {
      if (at !== undefined) acceptedAt.set(userId, Math.min(at, acceptedAt.get(userId) ?? at));
    }
    const outcomes = await this.computeMany(
      taken.map((p) => p.userId),
      started,
      acceptedAt,
    );
    const results = taken.map((pending) => outcomes.get(pending.userId)!);
    const ms = performance.now() - timer;
    // per distinct user: a user twice in the batch was recomputed once
    const changed = [...outcomes.values()].filter((o) => o.changed).length;
    this.options.metrics?.listBatch(outcomes.size, changed, ms / 1000);
    this.options.logger.debug({ lists: taken.length, changed, ms: Math.round(ms), queuedMs: Math.max(...taken.map((p) => started - p.queuedAt)) }, 'lists');
    return results;
  }

  start(redis: RedisClient, prefix: string, concurrency: number = LIST_DEFAULTS.concurrency, jobLockMs: number = LIST_DEFAULTS.jobLockMs): void {
    const processJob = async (job: Job<ListsJob>) =>
      void (await this.submit({ userId: job.data.userId, timestamp: job.timestamp, acceptedAt: job.data.acceptedAt }));
    this.worker = new Worker<ListsJob>(RedisNames.queues.lists, this.options.metrics?.timed('lists', processJob) ?? processJob, {
      connection: connectionOf(redis),
      prefix,
      concurrency,
      ...jobLock(jobLockMs),
    });
    this.worker.on('error', redisErrorListener(this.options.logger, 'lists worker'));
    this.worker.on('failed', (job, error) => this.options.logger.warn({ userId: job?.data.userId, err: error.message }, 'list recomputation failed'));
  }

  async stop(): Promise<void> {
    await this.worker?.close();
  }
}
