import {
  KIND_CODE,
  NEIGHBOUR_KINDS,
  NO_BUYERS,
  ReadOutsideContract,
  type ListReads,
  type Neighbour,
  type ProductBuyers,
  type Ranked,
  type ReadModel,
  type SimilarityKind,
  type UserState,
} from '@recs/engine';
import {
  bestSellersDocId,
  COLLECTIONS,
  ExpiringCache,
  coocDocId,
  fromBestSellersDoc,
  fromListDoc,
  fromUserStateDoc,
  neighboursFromDoc,
  onlyDuplicateKeys,
  toListDoc,
  productBuyersFromDoc,
  type BestSellersDoc,
  type BuyerDaysDoc,
  type CoocDoc,
  type ListDoc,
  type StoredList,
  type UserStateDoc,
} from '@recs/shared';
import type { AnyBulkWriteOperation, Db, UpdateFilter } from 'mongodb';

const MiB = 1024 * 1024;
/** Approximate bytes of a list of [productId, score] (an array and a number per item besides the id). */
const rankedBytes = (items: readonly (readonly [string, number])[]): number => items.reduce((sum, [id]) => sum + id.length + 48, 16);
/** Approximate bytes of a product's buyers: a Map entry per day. */
const buyersBytes = (buyers: ProductBuyers): number => 48 + buyers.days.size * 40;

/**
 * A ReadModel over the values loaded for one ListReads. A read it holds no value for was not in
 * the ListReads, so it throws rather than answer "nothing" (which would silently drop a source
 * from the lists of every worker but the aggregation leader).
 */
class LoadedReadModel implements ReadModel {
  readonly neighbourLists = new Map<string, readonly Neighbour[]>();
  readonly rankings = new Map<string, readonly Ranked[]>();
  readonly buyers = new Map<string, ProductBuyers>();

  productBuyers(productId: string): ProductBuyers {
    return loaded(this.buyers.get(productId), () => `the buyers of ${JSON.stringify(productId)}`);
  }

  neighbours(productId: string, kind: SimilarityKind): readonly Neighbour[] {
    return loaded(this.neighbourLists.get(coocDocId(KIND_CODE[kind], productId)), () => `the ${kind} neighbours of ${JSON.stringify(productId)}`);
  }

  bestSellers(categoryId: string | null, windowDays: number): readonly Ranked[] {
    return loaded(this.rankings.get(bestSellersDocId(categoryId, windowDays)), () => `the ${windowDays}-day best sellers of ${categoryId ?? 'the catalog'}`);
  }
}

function loaded<T>(value: T | undefined, read: () => string): T {
  if (value === undefined) throw new ReadOutsideContract(read());
  return value;
}

/** All MongoDB access of the list workers. */
export class ListStore {
  private readonly db: Db;
  /** Neighbours and best sellers read within `cacheTtlMs` are reused: they move slowly. */
  private readonly neighbourCache = new ExpiringCache<readonly Neighbour[]>({ max: 50_000, maxBytes: 32 * MiB, sizeOf: rankedBytes });
  private readonly rankingCache = new ExpiringCache<readonly Ranked[]>({ max: 50_000, maxBytes: 16 * MiB, sizeOf: rankedBytes });
  /**
   * A product's buyers (all of them, repeat ones, recent ones) weigh a user's past purchase of it;
   * counts over every buyer a product ever had move slower still.
   */
  private readonly buyersCache = new ExpiringCache<ProductBuyers>({ max: 200_000, maxBytes: 64 * MiB, sizeOf: buyersBytes });
  private readonly cacheTtlMs: number;
  private readonly buyersTtlMs: number;

  constructor(db: Db, cacheTtlMs = 2_000, buyersTtlMs = 60_000) {
    this.db = db;
    this.cacheTtlMs = cacheTtlMs;
    this.buyersTtlMs = buyersTtlMs;
  }

  async userStates(userIds: readonly string[]): Promise<Map<string, UserState>> {
    if (userIds.length === 0) return new Map();
    const docs = await this.db
      .collection<UserStateDoc>(COLLECTIONS.users)
      .find({ _id: { $in: [...userIds] } })
      .toArray();
    return new Map(docs.map((doc) => [doc._id, fromUserStateDoc(doc)]));
  }

  async lists(userIds: readonly string[]): Promise<Map<string, StoredList>> {
    if (userIds.length === 0) return new Map();
    const docs = await this.db
      .collection<ListDoc>(COLLECTIONS.lists)
      .find({ _id: { $in: [...userIds] } })
      .toArray();
    return new Map(docs.map((doc) => [doc._id, fromListDoc(doc)]));
  }

  /**
   * Saves new versions of lists in one bulk write, each unless another writer saved that version
   * first; returns the users whose save lost that race. One list job per user runs at a time
   * (BullMQ deduplication), so a lost race is a safety net, not the common case.
   */
  async saveMany(lists: readonly StoredList[]): Promise<Set<string>> {
    const collection = this.db.collection<ListDoc>(COLLECTIONS.lists);
    const writes: AnyBulkWriteOperation<ListDoc>[] = lists.map((list) => {
      const doc = toListDoc(list);
      const { _id, ...fields } = doc;
      // a list saved without the model's order drops the one before (no model serves now)
      const update: UpdateFilter<ListDoc> = list.ranked === undefined ? { $set: fields, $unset: { model: '', ranked: '' } as const } : { $set: fields };
      return list.version === 1 ? { insertOne: { document: doc } } : { updateOne: { filter: { _id, version: list.version - 1 }, update } };
    });
    let lost = false;
    try {
      const result = await collection.bulkWrite(writes, { ordered: false });
      lost = result.insertedCount + result.matchedCount < lists.length;
    } catch (error) {
      // a first version someone else inserted first is a duplicate key; anything else is a failure
      if (!onlyDuplicateKeys(error)) throw error;
      lost = true;
    }
    if (!lost) return new Set();
    // which ones: the stored version is not the one written here
    const stored = await collection.find({ _id: { $in: lists.map((l) => l.userId) } }, { projection: { version: 1, generatedAt: 1 } }).toArray();
    const byId = new Map(stored.map((doc) => [doc._id, doc]));
    return new Set(
      lists
        .filter((list) => {
          const doc = byId.get(list.userId);
          return doc === undefined || doc.version !== list.version || doc.generatedAt.getTime() !== list.generatedAt;
        })
        .map((list) => list.userId),
    );
  }

  /**
   * Loads everything `reads` lists (what recommend() will read, see readsFor): cached values when
   * fresh, the rest in one query per collection; what MongoDB does not have is empty.
   */
  async load(reads: ListReads, now = Date.now()): Promise<ReadModel> {
    const model = new LoadedReadModel();
    const buyerIds: string[] = [];
    for (const productId of reads.productBuyers) {
      const cached = this.buyersCache.get(productId, now);
      if (cached !== undefined) model.buyers.set(productId, cached);
      else buyerIds.push(productId);
    }
    const coocIds: string[] = [];
    for (const kind of NEIGHBOUR_KINDS) {
      for (const productId of reads.neighbours[kind]) {
        const id = coocDocId(KIND_CODE[kind], productId);
        const cached = this.neighbourCache.get(id, now);
        if (cached !== undefined) model.neighbourLists.set(id, cached);
        else coocIds.push(id);
      }
    }
    const rankingIds: string[] = [];
    for (const [windowDays, categoryIds] of reads.bestSellers) {
      for (const categoryId of categoryIds) {
        const id = bestSellersDocId(categoryId, windowDays);
        const cached = this.rankingCache.get(id, now);
        if (cached !== undefined) model.rankings.set(id, cached);
        else rankingIds.push(id);
      }
    }
    const [coocDocs, rankingDocs, buyerDocs] = await Promise.all([
      coocIds.length === 0
        ? []
        : this.db
            .collection<CoocDoc>(COLLECTIONS.cooc)
            .find({ _id: { $in: coocIds } }, { projection: { top: 1 } })
            .toArray(),
      rankingIds.length === 0
        ? []
        : this.db
            .collection<BestSellersDoc>(COLLECTIONS.bestSellers)
            .find({ _id: { $in: rankingIds } })
            .toArray(),
      buyerIds.length === 0
        ? []
        : this.db
            .collection<BuyerDaysDoc>(COLLECTIONS.buyerDays)
            .find({ _id: { $in: buyerIds } })
            .toArray(),
    ]);
    const buyers = new Map(buyerDocs.map((doc) => [doc._id, productBuyersFromDoc(doc)]));
    for (const id of buyerIds) {
      const found = buyers.get(id) ?? NO_BUYERS;
      model.buyers.set(id, found);
      this.buyersCache.set(id, found, now + this.buyersTtlMs);
    }
    const found = new Map(coocDocs.map((doc) => [doc._id, neighboursFromDoc(doc)]));
    for (const id of coocIds) {
      const neighbours = found.get(id) ?? [];
      model.neighbourLists.set(id, neighbours);
      this.neighbourCache.set(id, neighbours, now + this.cacheTtlMs);
    }
    const rankings = new Map(rankingDocs.map((doc) => [doc._id, fromBestSellersDoc(doc).items]));
    for (const id of rankingIds) {
      const items = rankings.get(id) ?? [];
      model.rankings.set(id, items);
      this.rankingCache.set(id, items, now + this.cacheTtlMs);
    }
    return model;
  }
}
