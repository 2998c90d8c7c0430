/**
 * Retiring what a fully written plan covered: its events join the applied set (applied_events,
 * keyed by eventKey, so a redelivered copy is recognised) and its ingestion batches leave the
 * inbox (event_inbox, so the sweeper does not queue them again).
 */
import { COLLECTIONS, onlyDuplicateKeys } from '@recs/shared';
import type { Db } from 'mongodb';

interface AppliedDoc {
  _id: string;
  at: Date;
}

const APPLIED_PER_INSERT = 5_000;
const IDS_PER_QUERY = 1_000;

/** Records events (by eventKey) as applied and removes their batches from the inbox; safe to repeat. */
export async function retire(db: Db, eventKeys: readonly string[], batchIds: readonly string[]): Promise<void> {
  const at = new Date();
  const applied = db.collection<AppliedDoc>(COLLECTIONS.applied);
  for (let i = 0; i < eventKeys.length; i += APPLIED_PER_INSERT) {
    try {
      await applied.insertMany(
        eventKeys.slice(i, i + APPLIED_PER_INSERT).map((id) => ({ _id: id, at })),
        { ordered: false },
      );
    } catch (error) {
      // already recorded by an earlier attempt of the same plan
      if (!onlyDuplicateKeys(error)) throw error;
    }
  }
  for (let i = 0; i < batchIds.length; i += IDS_PER_QUERY) {
    await db.collection<{ _id: string }>(COLLECTIONS.inbox).deleteMany({ _id: { $in: batchIds.slice(i, i + IDS_PER_QUERY) } });
  }
}

/** Of these eventKeys, the ones recorded as applied. */
export async function recordedAsApplied(db: Db, eventKeys: readonly string[]): Promise<Set<string>> {
  const found = new Set<string>();
  for (let i = 0; i < eventKeys.length; i += IDS_PER_QUERY) {
    const docs = await db
      .collection<AppliedDoc>(COLLECTIONS.applied)
      .find({ _id: { $in: eventKeys.slice(i, i + IDS_PER_QUERY) } }, { projection: { _id: 1 } })
      .toArray();
    for (const doc of docs) found.add(doc._id);
  }
  return found;
}
