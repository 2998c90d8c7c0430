import { dayOf, WindowRanker, type BestSellersList, type CatalogProduct, type Neighbour, type Ranked, type UserState } from '@recs/engine';
import {
  bestSellersDocId,
  CatalogReader,
  buyerDaysFromDoc,
  COLLECTIONS,
  ExperimentTallies,
  ExpiringCache,
  fromBestSellersDoc,
  fromListDoc,
  RankerModels,
  fromUserStateDoc,
  neighboursFromDoc,
  rateLimited,
  type BestSellersDoc,
  type BuyerDaysDoc,
  type CoocDoc,
  type ListDoc,
  type ProductDoc,
  type RankerModelSummary,
  type StoredList,
  type UserStateDoc,
} from '@recs/shared';
import type { Db } from 'mongodb';
import { rankingBytes, type BestSellersCache } from './bestSellersCache.ts';
import type { ListCache } from './listCache.ts';

/** Best sellers kept per computed ranking, as the workers keep per materialized one. */
const RANKING_SIZE = 100;
/** Rankings one scan of the catalog computes at most; more wait for the next scan. */
const MAX_RANKINGS_PER_SCAN = 64;
/** Rankings waiting for a scan at most; beyond, a request is refused (RATE_LIMITED) rather than queued. */
const MAX_WAITING = 2_000;
/** Products whose buyer days are read per query during a scan. */
const SCAN_CHUNK = 1_000;

interface Waiting {
  readonly key: string;
  readonly categoryId: string | null;
  readonly windowDays: number;
  readonly now: number;
  readonly resolve: (list: BestSellersList) => void;
  readonly reject: (error: unknown) => void;
}

/** What the serving controls and the ranker read of a catalog row: category, stock and price. */
export function catalogProductOf(doc: ProductDoc): CatalogProduct {
  return {
    inStock: doc.inStock ?? true,
    ...(doc.categoryId === undefined ? {} : { categoryId: doc.categoryId }),
    ...(doc.price === undefined ? {} : { price: doc.price }),
  };
}

/** All MongoDB access of the recommendations subgraph. */
export class RecommendationStore {
  private readonly db: Db;
  private readonly materialized: ReadonlySet<number>;
  /** Windows that are not materialized, computed here: bounded, whatever categories and windows clients ask for. */
  private readonly computed = new ExpiringCache<BestSellersList>({ max: 10_000, maxBytes: 16 * 1024 * 1024, sizeOf: rankingBytes });
  private readonly computedTtlMs: number;
  /** Rankings asked for and not computed yet, by key: every request for one shares its computation. */
  private readonly pending = new Map<string, Promise<BestSellersList>>();
  private waiting: Waiting[] = [];
  private scanning = false;
  /** Scans of the catalog's buyer days done so far (diagnostics and tests). */
  scans = 0;

  /** Lists in memory, dropped when the workers announce newer ones (see ListCache); none: every read goes to MongoDB. */
  private readonly lists: ListCache | undefined;
  private readonly rankings: BestSellersCache | undefined;
  /** Products and categories by id: the catalog fields this subgraph provides, category and stock for the serving controls. */
  readonly catalogReader: CatalogReader;
  /** The experiments' per-variant figures (experiment_tallies, experiment_users). */
  readonly tallies: ExperimentTallies;

  /** `materializedWindows` are kept current by the workers; other windows are computed here. */
  constructor(
    db: Db,
    materializedWindows: readonly number[],
    computedTtlMs = 60_000,
    options: { readonly lists?: ListCache; readonly bestSellers?: BestSellersCache; readonly catalog?: CatalogReader } = {},
  ) {
    this.db = db;
    // one that follows no change message must not cache
    this.catalogReader = options.catalog ?? new CatalogReader(db, { ttlMs: 0 });
    this.lists = options.lists;
    this.rankings = options.bestSellers;
    this.tallies = new ExperimentTallies(db);
    this.materialized = new Set(materializedWindows);
    this.computedTtlMs = computedTtlMs;
  }

  /** The latest ranking models, newest first, without their dumps (admins' rankerModels). */
  rankerModels(limit: number): Promise<RankerModelSummary[]> {
    return new RankerModels(this.db).latest(limit);
  }

  /** The user's stored list; `fresh`: from MongoDB even when cached (the cache then takes it). */
  async list(userId: string, fresh = false): Promise<StoredList | undefined> {
    const read = async () => {
      const doc = await this.db.collection<ListDoc>(COLLECTIONS.lists).findOne({ _id: userId });
      return doc === null ? undefined : fromListDoc(doc);
    };
    if (this.lists === undefined) return read();
    return fresh ? this.lists.refresh(userId, read) : this.lists.get(userId, read);
  }

  /** A user's recent events and removed history (what decides their cart and what they hid), or undefined; purchase days are not read (empty). */
  async userState(userId: string): Promise<UserState | undefined> {
    const doc = await this.db.collection<UserStateDoc>(COLLECTIONS.users).findOne({ _id: userId }, { projection: { ev: 1, hd: 1, cl: 1, v: 1 } });
    return doc === null ? undefined : fromUserStateDoc(doc);
  }

  /** Neighbour lists by co-occurrence document id (`v:<product>` / `b:<product>`), in one query. */
  async neighbours(ids: readonly string[]): Promise<Map<string, Neighbour[]>> {
    const docs = await this.db
      .collection<CoocDoc>(COLLECTIONS.cooc)
      .find({ _id: { $in: [...ids] } }, { projection: { top: 1 } })
      .toArray();
    return new Map(docs.map((doc) => [doc._id, neighboursFromDoc(doc)]));
  }

  /** A best-seller ranking; `fresh`: a stored window from MongoDB unless the cache holds the newest change heard of. */
  async bestSellers(categoryId: string | null, windowDays: number, fresh = false, now = Date.now()): Promise<BestSellersList> {
    if (this.materialized.has(windowDays)) {
      const read = async (): Promise<BestSellersList> => {
        const doc = await this.db.collection<BestSellersDoc>(COLLECTIONS.bestSellers).findOne({ _id: bestSellersDocId(categoryId, windowDays) });
        return doc === null ? { categoryId, windowDays, items: [], changedAt: 0 } : fromBestSellersDoc(doc);
      };
      return this.rankings === undefined ? read() : this.rankings.get(categoryId, windowDays, read, fresh, now);
    }
    // the day is part of the key: a ranking computed yesterday is not today's
    const key = `${dayOf(now)}:${bestSellersDocId(categoryId, windowDays)}`;
    const cached = this.computed.get(key, now);
    if (cached !== undefined) return cached;
    const shared = this.pending.get(key);
    if (shared !== undefined) return shared;
    if (this.waiting.length >= MAX_WAITING) throw rateLimited('Too many best-seller rankings are being computed; retry shortly', 1);
    const computation = new Promise<BestSellersList>((resolve, reject) => this.waiting.push({ key, categoryId, windowDays, now, resolve, reject }));
    this.pending.set(key, computation);
    this.scanSoon();
    return computation;
  }

  /**
   * Computes what is waiting, one scan at a time: a scan ranks every waiting (category, window)
   * at once (up to MAX_RANKINGS_PER_SCAN), so a query with thirty windows costs one scan, and
   * however many are asked for, they cannot take more than one MongoDB query and one share of
   * the event loop at a time from other requests.
   */
  private scanSoon(): void {
    if (this.scanning || this.waiting.length === 0) return;
    this.scanning = true;
    // the other fields of the same operation ask within this tick: they join this scan
    setImmediate(() => {
      const batch = this.waiting.splice(0, MAX_RANKINGS_PER_SCAN);
      void this.scan(batch).finally(() => {
        this.scanning = false;
        this.scanSoon();
      });
    });
  }

  private async scan(batch: readonly Waiting[]): Promise<void> {
    try {
      const lists = await this.rankWindows(batch);
      batch.forEach((waiting, i) => {
        this.computed.set(waiting.key, lists[i]!, waiting.now + this.computedTtlMs);
        waiting.resolve(lists[i]!);
      });
    } catch (error) {
      for (const waiting of batch) waiting.reject(error);
    } finally {
      for (const waiting of batch) this.pending.delete(waiting.key);
    }
  }

  /** Ranks windows that are not materialized, in one pass over the products' distinct-buyer days. */
  private async rankWindows(batch: readonly Waiting[]): Promise<BestSellersList[]> {
    this.scans++;
    // one ranker per day asked for (a scan spans midnight rarely)
    const byDay = new Map<number, { ranker?: WindowRanker; members: number[] }>();
    batch.forEach((waiting, i) => {
      const day = dayOf(waiting.now);
      let group = byDay.get(day);
      if (group === undefined) byDay.set(day, (group = { members: [] }));
      group.members.push(i);
    });
    for (const [day, group] of byDay)
      group.ranker = new WindowRanker(
        group.members.map((i) => batch[i]!),
        day,
        RANKING_SIZE,
      );
    const rankers = [...byDay.values()].map((group) => group.ranker!);

    const categories = new Set(batch.map((waiting) => waiting.categoryId));
    const products = this.db.collection<{ _id: string; categoryId?: string }>(COLLECTIONS.products);
    const filter = categories.has(null) ? {} : { categoryId: { $in: [...categories] as string[] } };
    const cursor = products.find(filter, { projection: { _id: 1, categoryId: 1 }, batchSize: SCAN_CHUNK });
    let chunk: { _id: string; categoryId?: string }[] = [];
    const feed = async () => {
      if (chunk.length === 0) return;
      const docs = await this.db
        .collection<BuyerDaysDoc>(COLLECTIONS.buyerDays)
        .find({ _id: { $in: chunk.map((p) => p._id) } }, { projection: { d: 1 } })
        .toArray();
      const days = new Map(docs.map((doc) => [doc._id, buyerDaysFromDoc(doc)]));
      for (const product of chunk) for (const ranker of rankers) ranker.add(product._id, product.categoryId, days.get(product._id));
      chunk = [];
    };
    for await (const product of cursor) {
      chunk.push(product);
      if (chunk.length >= SCAN_CHUNK) await feed();
    }
    await feed();

    const lists: BestSellersList[] = new Array(batch.length);
    for (const group of byDay.values()) {
      const results: Ranked[][] = group.ranker!.results();
      group.members.forEach((i, j) => {
        const waiting = batch[i]!;
        lists[i] = { categoryId: waiting.categoryId, windowDays: waiting.windowDays, items: results[j]!, changedAt: waiting.now };
      });
    }
    return lists;
  }
}
