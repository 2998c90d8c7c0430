import { KIND_CODE, type Neighbour, type Ranked, type ReadModel, type SimilarityKind, type UserState } from '@recs/engine';
import {
  bestSellersDocId,
  COLLECTIONS,
  coocDocId,
  fromBestSellersDoc,
  fromListDoc,
  fromUserStateDoc,
  neighboursFromDoc,
  toListDoc,
  type BestSellersDoc,
  type CoocDoc,
  type ListDoc,
  type StoredList,
  type UserStateDoc,
} from '@recs/shared';
import type { Db } from 'mongodb';

/** Entries read within `ttlMs` are reused: neighbours and best sellers move slowly. */
class TtlCache<V> {
  private readonly entries = new Map<string, { value: V; until: number }>();
  private readonly ttlMs: number;
  private readonly max: number;

  constructor(ttlMs: number, max = 50_000) {
    this.ttlMs = ttlMs;
    this.max = max;
  }

  get(key: string, now: number): V | undefined {
    const entry = this.entries.get(key);
    return entry !== undefined && entry.until > now ? entry.value : undefined;
  }

  set(key: string, value: V, now: number): void {
    if (this.entries.size >= this.max) this.entries.clear();
    this.entries.set(key, { value, until: now + this.ttlMs });
  }
}

/** A ReadModel over values loaded beforehand for one list computation. */
class LoadedReadModel implements ReadModel {
  readonly neighbourLists = new Map<string, readonly Neighbour[]>();
  readonly rankings = new Map<string, readonly Ranked[]>();

  neighbours(productId: string, kind: SimilarityKind): readonly Neighbour[] {
    return this.neighbourLists.get(coocDocId(KIND_CODE[kind], productId)) ?? [];
  }

  bestSellers(categoryId: string | null, windowDays: number): readonly Ranked[] {
    return this.rankings.get(bestSellersDocId(categoryId, windowDays)) ?? [];
  }
}

/** All MongoDB access of the list workers. */
export class ListStore {
  private readonly db: Db;
  private readonly neighbourCache: TtlCache<readonly Neighbour[]>;
  private readonly rankingCache: TtlCache<readonly Ranked[]>;

  constructor(db: Db, cacheTtlMs = 2_000) {
    this.db = db;
    this.neighbourCache = new TtlCache(cacheTtlMs);
    this.rankingCache = new TtlCache(cacheTtlMs);
  }

  async userState(userId: string): Promise<UserState | undefined> {
    const doc = await this.db.collection<UserStateDoc>(COLLECTIONS.users).findOne({ _id: userId });
    return doc === null ? undefined : fromUserStateDoc(doc);
  }

  async list(userId: string): Promise<StoredList | undefined> {
    const doc = await this.db.collection<ListDoc>(COLLECTIONS.lists).findOne({ _id: userId });
    return doc === null ? undefined : fromListDoc(doc);
  }

  /**
   * Saves a new version of a list unless another writer saved that version first (then false).
   * One list job per user runs at a time, so this is a safety net.
   */
  async save(list: StoredList): Promise<boolean> {
    const { _id, ...doc } = toListDoc(list);
    const lists = this.db.collection<ListDoc>(COLLECTIONS.lists);
    if (list.version === 1) {
      try {
        await lists.insertOne({ _id, ...doc });
        return true;
      } catch {
        return false;
      }
    }
    const result = await lists.updateOne({ _id, version: list.version - 1 }, { $set: doc });
    return result.matchedCount === 1;
  }

  /** Loads every neighbour list and ranking a list for this user can ask for. */
  async readModelFor(productIds: Iterable<string>, categoryIds: Iterable<string | null>, windowDays: number, now = Date.now()): Promise<ReadModel> {
    const model = new LoadedReadModel();
    const coocIds: string[] = [];
    for (const productId of productIds) {
      for (const kind of ['v', 'b'] as const) {
        const id = coocDocId(kind, productId);
        const cached = this.neighbourCache.get(id, now);
        if (cached !== undefined) model.neighbourLists.set(id, cached);
        else coocIds.push(id);
      }
    }
    const rankingIds: string[] = [];
    for (const categoryId of new Set(categoryIds)) {
      const id = bestSellersDocId(categoryId, windowDays);
      const cached = this.rankingCache.get(id, now);
      if (cached !== undefined) model.rankings.set(id, cached);
      else rankingIds.push(id);
    }
    const [coocDocs, rankingDocs] = await Promise.all([
      coocIds.length === 0 ? [] : this.db.collection<CoocDoc>(COLLECTIONS.cooc).find({ _id: { $in: coocIds } }, { projection: { top: 1 } }).toArray(),
      rankingIds.length === 0 ? [] : this.db.collection<BestSellersDoc>(COLLECTIONS.bestSellers).find({ _id: { $in: rankingIds } }).toArray(),
    ]);
    const found = new Map(coocDocs.map((doc) => [doc._id, neighboursFromDoc(doc)]));
    for (const id of coocIds) {
      const neighbours = found.get(id) ?? [];
      model.neighbourLists.set(id, neighbours);
      this.neighbourCache.set(id, neighbours, now);
    }
    const rankings = new Map(rankingDocs.map((doc) => [doc._id, fromBestSellersDoc(doc).items]));
    for (const id of rankingIds) {
      const items = rankings.get(id) ?? [];
      model.rankings.set(id, items);
      this.rankingCache.set(id, items, now);
    }
    return model;
  }
}
