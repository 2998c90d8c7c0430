import { rankerModel, type LightgbmModel } from '@recs/engine';
import type { Db } from 'mongodb';
import { COLLECTIONS } from './mongo.ts';

/** A ranking it was measured against on the holdout: mean Recall@k and NDCG@k over its baskets. */
export interface HoldoutScore {
  readonly recall: number;
  readonly ndcg: number;
}

/**
 * ranker_models: one document per model the training job fitted, promoted or not. At most one
 * is `serving` (a promotion retires the one before); `refused` ones keep the reason.
 */
export interface RankerModelDoc {
  /** The version: when it was trained and a digest of the model. */
  _id: string;
  status: 'serving' | 'retired' | 'refused';
  /** Why it serves or was refused, for people (the promotion verdict). */
  reason: string;
  trainedAt: Date;
  promotedAt?: Date;
  retiredAt?: Date;
  /** RANKER_FEATURE_NAMES when it was trained: a model over other columns is never loaded. */
  features: string[];
  lightgbm: string;
  rounds: number;
  trees: number;
  bytes: number;
  /** The training baskets and the events replayed for them. */
  trainedOn: { from: Date; until: Date; queries: number; rows: number; events: number; validNdcg: number; candidateRecall: number };
  /**
   * The popularity penalty chosen on the holdout (stored in the dump too, which is what scoring
   * reads) and each weight tried: its holdout NDCG and Recall, and the distinct products its lists held.
   */
  penalty?: { feature: string; weight: number; tried: { weight: number; ndcg: number; recall: number; products: number }[] };
  /**
   * When the model stored was fitted once more after its promotion: the same rounds on the
   * baskets from `from` to `until`, `holdout` of them the holdout's (the figures below are of the
   * model judged, fitted without them).
   */
  finalFit?: { from: Date; until: Date; queries: number; holdout: number; rows: number; seconds: number };
  /** The latest weeks, not trained on: this model, the blend and the model serving then, at k. */
  holdout: {
    from: Date;
    until: Date;
    k: number;
    queries: number;
    model: HoldoutScore;
    blend: HoldoutScore;
    serving?: HoldoutScore & { version: string };
  };
  /** Each feature's share of the total gain, largest first (objects: FerretDB stores no nested arrays). */
  importance: { feature: string; share: number }[];
  seconds: { set: number; fit: number; total: number };
  /** LightGBM's dump_model() JSON (what the TypeScript scorer reads). */
  dump: string;
}

/** What a model's summary shows (everything but the dump). */
export type RankerModelSummary = Omit<RankerModelDoc, 'dump'>;

/** The model serving now, ready to score. */
export interface ServingModel {
  readonly version: string;
  readonly model: LightgbmModel;
}

/** The ranker_models collection: recording what the training job fitted, promoting, reading what serves. */
export class RankerModels {
  private readonly db: Db;

  constructor(db: Db) {
    this.db = db;
  }

  private get collection() {
    return this.db.collection<RankerModelDoc>(COLLECTIONS.rankerModels);
  }

  /** The serving model's version (the latest promoted, should two say `serving` after a crash mid-promotion). */
  async servingVersion(): Promise<string | undefined> {
    const doc = await this.collection.findOne({ status: 'serving' }, { sort: { promotedAt: -1 }, projection: { _id: 1 } });
    return doc?._id;
  }

  /** The serving model, loaded; undefined when none serves. A stored model the scorer refuses throws (ModelFormatError). */
  async serving(): Promise<(ServingModel & { readonly doc: RankerModelDoc }) | undefined> {
    const doc = await this.collection.findOne({ status: 'serving' }, { sort: { promotedAt: -1 } });
    if (doc === null) return undefined;
    return { version: doc._id, model: rankerModel(doc.dump), doc };
  }

  /** Records a refused model. */
  async refuse(doc: Omit<RankerModelDoc, 'status'>): Promise<void> {
    await this.collection.insertOne({ ...doc, status: 'refused' });
  }

  /** Records a model as the one serving and retires the one before (the latest promotion wins in between). */
  async promote(doc: Omit<RankerModelDoc, 'status' | 'promotedAt'>, now = new Date()): Promise<void> {
    await this.collection.insertOne({ ...doc, status: 'serving', promotedAt: now });
    await this.collection.updateMany({ status: 'serving', _id: { $ne: doc._id } }, { $set: { status: 'retired', retiredAt: now } });
  }

  /** The latest models, newest first, without their dumps. */
  async latest(limit = 20): Promise<RankerModelSummary[]> {
    return this.collection.find({}, { sort: { trainedAt: -1 }, limit, projection: { dump: 0 } }).toArray();
  }
}
