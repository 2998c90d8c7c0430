import { dayOf, rankBestSellers, type BestSellersList, type Neighbour } from '@recs/engine';
import {
  bestSellersDocId,
  buyerDaysFromDoc,
  COLLECTIONS,
  fromBestSellersDoc,
  fromListDoc,
  neighboursFromDoc,
  type BestSellersDoc,
  type BuyerDaysDoc,
  type CoocDoc,
  type ListDoc,
  type StoredList,
} from '@recs/shared';
import type { Db } from 'mongodb';

interface ComputedRanking {
  readonly list: BestSellersList;
  readonly until: number;
}

/** All MongoDB access of the recommendations subgraph. */
export class RecommendationStore {
  private readonly db: Db;
  private readonly materialized: ReadonlySet<number>;
  private readonly computed = new Map<string, ComputedRanking>();
  private readonly computedTtlMs: number;

  /** `materializedWindows` are kept current by the workers; other windows are computed here. */
  constructor(db: Db, materializedWindows: readonly number[], computedTtlMs = 60_000) {
    this.db = db;
    this.materialized = new Set(materializedWindows);
    this.computedTtlMs = computedTtlMs;
  }

  async list(userId: string): Promise<StoredList | undefined> {
    const doc = await this.db.collection<ListDoc>(COLLECTIONS.lists).findOne({ _id: userId });
    return doc === null ? undefined : fromListDoc(doc);
  }

  /** Neighbour lists by co-occurrence document id (`v:<product>` / `b:<product>`), in one query. */
  async neighbours(ids: readonly string[]): Promise<Map<string, Neighbour[]>> {
    const docs = await this.db.collection<CoocDoc>(COLLECTIONS.cooc).find({ _id: { $in: [...ids] } }, { projection: { top: 1 } }).toArray();
    return new Map(docs.map((doc) => [doc._id, neighboursFromDoc(doc)]));
  }

  async bestSellers(categoryId: string | null, windowDays: number, now = Date.now()): Promise<BestSellersList> {
    if (this.materialized.has(windowDays)) {
      const doc = await this.db.collection<BestSellersDoc>(COLLECTIONS.bestSellers).findOne({ _id: bestSellersDocId(categoryId, windowDays) });
      return doc === null ? { categoryId, windowDays, items: [], changedAt: 0 } : fromBestSellersDoc(doc);
    }
    const key = bestSellersDocId(categoryId, windowDays);
    const cached = this.computed.get(key);
    if (cached !== undefined && cached.until > now) return cached.list;
    const list = await this.computeBestSellers(categoryId, windowDays, now);
    if (this.computed.size > 1_000) this.computed.clear();
    this.computed.set(key, { list, until: now + this.computedTtlMs });
    return list;
  }

  /** Ranks a window that is not materialized, from the per-product distinct-buyer days. */
  private async computeBestSellers(categoryId: string | null, windowDays: number, now: number): Promise<BestSellersList> {
    const products = this.db.collection<{ _id: string; categoryId?: string }>(COLLECTIONS.products);
    const ids = (await products.find(categoryId === null ? {} : { categoryId }, { projection: { _id: 1 } }).toArray()).map((p) => p._id);
    const days = new Map<string, Map<number, number>>();
    for (let i = 0; i < ids.length; i += 1_000) {
      const docs = await this.db.collection<BuyerDaysDoc>(COLLECTIONS.buyerDays).find({ _id: { $in: ids.slice(i, i + 1_000) } }).toArray();
      for (const doc of docs) days.set(doc._id, buyerDaysFromDoc(doc));
    }
    const items = rankBestSellers(ids, (id) => days.get(id), dayOf(now), windowDays, 100);
    return { categoryId, windowDays, items, changedAt: now };
  }
}
