import { COLLECTIONS, isDuplicateKey, leaseDocId } from '@recs/shared';
import type { Collection, Db } from 'mongodb';

interface LeaseDoc {
  _id: string;
  owner: string;
  until: Date;
  since: Date;
}

/**
 * A named lease in MongoDB: at most one owner at a time, kept by renewing before `ttlMs`
 * passes. Processes that do not hold it stand by and take over when it lapses.
 */
export class Lease {
  private readonly leases: Collection<LeaseDoc>;
  readonly name: string;
  readonly owner: string;
  readonly ttlMs: number;

  constructor(db: Db, name: string, owner: string, ttlMs: number) {
    this.leases = db.collection<LeaseDoc>(COLLECTIONS.aggregator);
    this.name = leaseDocId(name);
    this.owner = owner;
    this.ttlMs = ttlMs;
  }

  /** Takes the lease if it is free, lapsed, or already ours. */
  async tryAcquire(now = Date.now()): Promise<boolean> {
    try {
      const result = await this.leases.updateOne(
        { _id: this.name, $or: [{ until: { $lt: new Date(now) } }, { owner: this.owner }] },
        { $set: { owner: this.owner, until: new Date(now + this.ttlMs), since: new Date(now) } },
        { upsert: true },
      );
      return result.matchedCount + result.upsertedCount === 1;
    } catch (error) {
      // someone else holds it: the upsert tried to insert a second lease document
      if (isDuplicateKey(error)) return false;
      throw error;
    }
  }

  /** Takes the lease whoever holds it: the holder finds out at its next renewal and stands by. */
  async takeOver(now = Date.now()): Promise<void> {
    await this.leases.updateOne({ _id: this.name }, { $set: { owner: this.owner, until: new Date(now + this.ttlMs), since: new Date(now) } }, { upsert: true });
  }

  /** Extends the lease; false when it was lost (taken over after lapsing). */
  async renew(now = Date.now()): Promise<boolean> {
    const result = await this.leases.updateOne({ _id: this.name, owner: this.owner }, { $set: { until: new Date(now + this.ttlMs) } });
    return result.matchedCount === 1;
  }

  /** Whether this owner holds the lease now (one read). */
  async holds(now = Date.now()): Promise<boolean> {
    const doc = await this.leases.findOne({ _id: this.name });
    return doc !== null && doc.owner === this.owner && doc.until.getTime() > now;
  }

  async release(): Promise<void> {
    await this.leases.updateOne({ _id: this.name, owner: this.owner }, { $set: { until: new Date(0) } });
  }
}
