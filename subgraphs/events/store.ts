import { COLLECTIONS, fromUserStateDoc, toRawEventDoc, type InboxDoc, type RawEventDoc, type UserStateDoc } from '@recs/shared';
import type { TrackedEvent, UserState } from '@recs/engine';
import { MongoBulkWriteError, type Collection, type Db } from 'mongodb';

const DUPLICATE_KEY = 11000;

export interface StoredBatch {
  /** Ids of the events newly stored. */
  readonly inserted: ReadonlySet<string>;
  /** Ids that were already stored (sent before). */
  readonly duplicates: ReadonlySet<string>;
}

/** All MongoDB access of the events subgraph. */
export class EventStore {
  private readonly events: Collection<RawEventDoc>;
  private readonly inbox: Collection<InboxDoc>;
  private readonly users: Collection<UserStateDoc>;

  constructor(db: Db) {
    this.events = db.collection<RawEventDoc>(COLLECTIONS.events);
    this.inbox = db.collection<InboxDoc>(COLLECTIONS.inbox);
    this.users = db.collection<UserStateDoc>(COLLECTIONS.users);
  }

  /**
   * Stores a batch durably. The inbox entry goes first, so a batch whose events are stored is
   * always either applied or still listed for the workers to pick up, whatever fails next.
   * Events whose id is already stored are reported as duplicates and left as they were.
   */
  async storeBatch(batchId: string, events: readonly TrackedEvent[], now: Date): Promise<StoredBatch> {
    await this.inbox.insertOne({ _id: batchId, ids: events.map((e) => e.eventId), at: now });
    const duplicates = new Set<string>();
    try {
      await this.events.insertMany(events.map(toRawEventDoc), { ordered: false });
    } catch (error) {
      if (!(error instanceof MongoBulkWriteError)) throw error;
      const writeErrors = Array.isArray(error.writeErrors) ? error.writeErrors : [error.writeErrors];
      for (const writeError of writeErrors) {
        if (writeError.code !== DUPLICATE_KEY) throw error;
        duplicates.add(events[writeError.index]!.eventId);
      }
    }
    return { inserted: new Set(events.map((e) => e.eventId).filter((id) => !duplicates.has(id))), duplicates };
  }

  /** Forgets an inbox entry that turned out to hold no new event. */
  async dropInboxEntry(batchId: string): Promise<void> {
    await this.inbox.deleteOne({ _id: batchId });
  }

  async userState(userId: string): Promise<UserState | undefined> {
    const doc = await this.users.findOne({ _id: userId });
    return doc === null ? undefined : fromUserStateDoc(doc);
  }
}
