import type { AggregateSnapshot, BuyerDays, Cooc, KindCode, Universe, UserState } from '@recs/engine';
import {
  buyerDaysFromDoc,
  COLLECTIONS,
  fromBestSellersDoc,
  fromUserStateDoc,
  neighboursFromDoc,
  pairsFromDoc,
  UNIVERSE_ID,
  type BestSellersDoc,
  type BuyerDaysDoc,
  type CoocDoc,
  type UserStateDoc,
} from '@recs/shared';
import type { Db, Document } from 'mongodb';

interface UniverseDoc {
  _id: typeof UNIVERSE_ID;
  viewers: number;
  buyers: number;
}

/** The value of a document committed but not written yet (see WriteBehind.pending). */
export type PendingValue = (collection: string, id: string) => Document | undefined;

const coocFromDoc = (doc: Pick<CoocDoc, 'n' | 'c' | 'top'>): Cooc => ({ users: doc.n, pairs: pairsFromDoc(doc), top: neighboursFromDoc(doc) });

/**
 * What the aggregator loads from MongoDB. Documents it loads while their latest value still
 * waits for write-behind come from that value: MongoDB holds an older one.
 */
export class AggregateLoads {
  private readonly db: Db;
  private readonly pending: PendingValue;

  constructor(db: Db, pending: PendingValue) {
    this.db = db;
    this.pending = pending;
  }

  /**
   * The state the aggregator keeps whole in memory, read when it starts (after recovery, when
   * nothing waits for write-behind).
   */
  async snapshot(): Promise<AggregateSnapshot> {
    const buyerDays = new Map<string, BuyerDays>();
    const rebuyers = new Map<string, number>();
    for await (const doc of this.db.collection<BuyerDaysDoc>(COLLECTIONS.buyerDays).find()) {
      buyerDays.set(doc._id, buyerDaysFromDoc(doc));
      if ((doc.r ?? 0) > 0) rebuyers.set(doc._id, doc.r!);
    }
    const coocUsers: Record<KindCode, Map<string, number>> = { v: new Map(), b: new Map() };
    for await (const doc of this.db.collection<CoocDoc>(COLLECTIONS.cooc).find({}, { projection: { k: 1, p: 1, n: 1 } })) coocUsers[doc.k].set(doc.p, doc.n);
    const universeDoc = await this.db.collection<UniverseDoc>(COLLECTIONS.aggregator).findOne({ _id: UNIVERSE_ID });
    const universe: Universe = { viewers: universeDoc?.viewers ?? 0, buyers: universeDoc?.buyers ?? 0 };
    const bestSellers = (await this.db.collection<BestSellersDoc>(COLLECTIONS.bestSellers).find().toArray()).map(fromBestSellersDoc);
    return { buyerDays, rebuyers, coocUsers, universe, bestSellers };
  }

  /** User states are written at commit (see planOps.ts), so MongoDB holds the latest. */
  async users(userIds: readonly string[]): Promise<Map<string, UserState>> {
    const docs = await this.db
      .collection<UserStateDoc>(COLLECTIONS.users)
      .find({ _id: { $in: [...userIds] } })
      .toArray();
    return new Map(docs.map((doc) => [doc._id, fromUserStateDoc(doc)]));
  }

  /** Co-occurrence entries by coocDocId. */
  async cooc(ids: readonly string[]): Promise<Map<string, Cooc>> {
    const found = new Map<string, Cooc>();
    const missing: string[] = [];
    for (const id of ids) {
      const pending = this.pending(COLLECTIONS.cooc, id) as Omit<CoocDoc, '_id'> | undefined;
      if (pending !== undefined) found.set(id, coocFromDoc(pending));
      else missing.push(id);
    }
    if (missing.length > 0) {
      for (const doc of await this.db
        .collection<CoocDoc>(COLLECTIONS.cooc)
        .find({ _id: { $in: missing } })
        .toArray())
        found.set(doc._id, coocFromDoc(doc));
    }
    return found;
  }
}
