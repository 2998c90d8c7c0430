/**
 * Durable per-variant figures of online experiments, for the admin report (Prometheus counters
 * are per process and not queryable by the API). The recommendations subgraph adds lists served
 * and users served, the events subgraph the events attributed to a served list; both with `$inc`
 * on one document per (experiment, variant), so writers on any replica commute.
 *
 * Distinct users are counted by marking each (experiment, user, what) once in experiment_users
 * (an insert, unique by _id) and adding to the tally only for marks that were new: one small
 * document per user and mark, read by nobody, so the report stays one read of a few documents.
 */
import { MongoBulkWriteError, type AnyBulkWriteOperation, type Collection, type Db } from 'mongodb';
import { experimentTallyDocId, experimentUserDocId } from './keys.ts';
import { COLLECTIONS } from './mongo.ts';
import { isDuplicateKeyWrite, writeErrorsOf } from './mongoErrors.ts';
import type { AttributableType } from './recommendationId.ts';

export const TALLY_FIELDS = ['impressions', 'users', 'clicks', 'addToCarts', 'purchases', 'clickingUsers', 'addingUsers', 'purchasingUsers'] as const;
export type TallyField = (typeof TALLY_FIELDS)[number];
export type TallyCounts = Readonly<Record<TallyField, number>>;

/** What a user did, counted once per experiment; and the tally field that counts such users. */
export const USER_MARKS = { served: 'users', clicked: 'clickingUsers', addedToCart: 'addingUsers', purchased: 'purchasingUsers' } as const satisfies Record<
  string,
  TallyField
>;
export type UserMark = keyof typeof USER_MARKS;

/** What an attributed event adds: the event count, and the user mark. */
export const ATTRIBUTED_TALLIES = {
  CLICK: { count: 'clicks', mark: 'clicked' },
  ADD_TO_CART: { count: 'addToCarts', mark: 'addedToCart' },
  PURCHASE: { count: 'purchases', mark: 'purchased' },
} as const satisfies Record<AttributableType, { count: TallyField; mark: UserMark }>;

/** experiment_tallies: one experiment's variant. Counts absent until first added. */
export type ExperimentTallyDoc = { _id: string; experiment: string; variant: string; updatedAt: Date } & Partial<Record<TallyField, number>>;

/** experiment_users: a user's mark in an experiment, written once. */
export interface ExperimentUserDoc {
  _id: string;
  experiment: string;
  /** The variant of the list that led to it. */
  variant: string;
  mark: UserMark;
  at: Date;
}

/** Something to add to one variant's tally. */
export interface TallyIncrement {
  readonly experiment: string;
  readonly variant: string;
  readonly field: TallyField;
  readonly count: number;
}

/** A user to mark, counted in USER_MARKS[mark] of the variant when the mark is new. */
export interface UserMarkInput {
  readonly experiment: string;
  readonly variant: string;
  readonly userId: string;
  readonly mark: UserMark;
}

export interface VariantTally {
  readonly variant: string;
  readonly counts: TallyCounts;
}

/** A variant's figures when nothing was added yet. */
export const EMPTY_TALLY: TallyCounts = Object.fromEntries(TALLY_FIELDS.map((field) => [field, 0])) as Record<TallyField, number>;

export class ExperimentTallies {
  private readonly tallies: Collection<ExperimentTallyDoc>;
  private readonly users: Collection<ExperimentUserDoc>;

  constructor(db: Db) {
    this.tallies = db.collection<ExperimentTallyDoc>(COLLECTIONS.experimentTallies);
    this.users = db.collection<ExperimentUserDoc>(COLLECTIONS.experimentUsers);
  }

  /**
   * Marks the users (the new marks are counted) and adds the increments: two writes whatever
   * the number of users and variants. Not atomic: a crash between them loses the new marks'
   * counts (never counts twice). Throws when MongoDB fails (the caller logs; the events or
   * lists are served regardless).
   */
  async add(increments: readonly TallyIncrement[], marks: readonly UserMarkInput[], now = new Date()): Promise<void> {
    const all = [...increments, ...(await this.newMarks(marks, now))];
    const byVariant = new Map<string, { experiment: string; variant: string; inc: Partial<Record<TallyField, number>> }>();
    for (const { experiment, variant, field, count } of all) {
      if (count === 0) continue;
      const id = experimentTallyDocId(experiment, variant);
      let entry = byVariant.get(id);
      if (entry === undefined) byVariant.set(id, (entry = { experiment, variant, inc: {} }));
      entry.inc[field] = (entry.inc[field] ?? 0) + count;
    }
    if (byVariant.size === 0) return;
    const writes: AnyBulkWriteOperation<ExperimentTallyDoc>[] = [...byVariant].map(([id, { experiment, variant, inc }]) => ({
      updateOne: {
        filter: { _id: id },
        update: { $inc: inc, $set: { updatedAt: now }, $setOnInsert: { experiment, variant } },
        upsert: true,
      },
    }));
    await this.tallies.bulkWrite(writes, { ordered: false });
  }

  /** Inserts the marks; one increment per (variant, mark) for those that were not there yet. */
  private async newMarks(marks: readonly UserMarkInput[], now: Date): Promise<TallyIncrement[]> {
    const docs = new Map<string, ExperimentUserDoc>();
    for (const { experiment, variant, userId, mark } of marks) {
      const id = experimentUserDocId(experiment, userId, mark);
      if (!docs.has(id)) docs.set(id, { _id: id, experiment, variant, mark, at: now });
    }
    if (docs.size === 0) return [];
    const list = [...docs.values()];
    const taken = new Set<number>();
    try {
      await this.users.insertMany(list, { ordered: false });
    } catch (error) {
      // only "already marked" is an answer; anything else leaves the marks unknown
      if (!(error instanceof MongoBulkWriteError) || error.result?.getWriteConcernError() !== undefined) throw error;
      const writeErrors = writeErrorsOf(error);
      if (writeErrors.length === 0 || !writeErrors.every(isDuplicateKeyWrite)) throw error;
      for (const writeError of writeErrors) taken.add(writeError.index);
    }
    const counts = new Map<string, TallyIncrement>();
    list.forEach((doc, i) => {
      if (taken.has(i)) return;
      const field = USER_MARKS[doc.mark];
      const key = `${doc.experiment}\t${doc.variant}\t${field}`;
      const known = counts.get(key);
      counts.set(key, { experiment: doc.experiment, variant: doc.variant, field, count: (known?.count ?? 0) + 1 });
    });
    return [...counts.values()];
  }

  /** The experiment's variants with their figures (zeros for counts never added), by variant name. */
  async read(experiment: string): Promise<VariantTally[]> {
    const docs = await this.tallies.find({ experiment }).toArray();
    return docs
      .map((doc) => ({
        variant: doc.variant,
        counts: Object.fromEntries(TALLY_FIELDS.map((field) => [field, doc[field] ?? EMPTY_TALLY[field]])) as TallyCounts,
      }))
      .sort((a, b) => (a.variant < b.variant ? -1 : a.variant > b.variant ? 1 : 0));
  }
}
