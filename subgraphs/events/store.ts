import {
  ATTRIBUTED_TALLIES,
  COLLECTIONS,
  ExperimentTallies,
  fromRawEventDoc,
  fromUserStateDoc,
  isDuplicateKeyWrite,
  serviceUnavailable,
  toRawEventDoc,
  writeErrorsOf,
  type TallyIncrement,
  type UserMarkInput,
  type InboxDoc,
  type RawEventDoc,
  type UserStateDoc,
} from '@recs/shared';
import { emptyUserState, eventKey, mergeEvents, type EngineConfig, type TrackedEvent, type UserState } from '@recs/engine';
import type { AttributedEvent } from './ingest.ts';
import { MongoBulkWriteError, type Collection, type Db } from 'mongodb';

export interface StoredBatch {
  /** Keys (eventKey) of the events newly stored: the batch's to apply. */
  readonly inserted: ReadonlySet<string>;
  /** Keys of events already stored (sent before). */
  readonly duplicates: ReadonlySet<string>;
  /** Keys of events MongoDB refused to store, with its reason (for the logs): not accepted. */
  readonly refused: ReadonlyMap<string, string>;
}

/** How far back a history read looks for the user's events the aggregation may not have applied yet, and how many at most. */
const RECENT_MS = 15 * 60_000;
const RECENT_EVENTS = 200;

/** All MongoDB access of the events subgraph. */
export class EventStore {
  private readonly events: Collection<RawEventDoc>;
  private readonly inbox: Collection<InboxDoc>;
  private readonly users: Collection<UserStateDoc>;
  private readonly tallies: ExperimentTallies;

  constructor(db: Db) {
    this.events = db.collection<RawEventDoc>(COLLECTIONS.events);
    this.inbox = db.collection<InboxDoc>(COLLECTIONS.inbox);
    this.users = db.collection<UserStateDoc>(COLLECTIONS.users);
    this.tallies = new ExperimentTallies(db);
  }

  /**
   * Stores a batch durably. The inbox entry goes first, so a batch whose events are stored is
   * always either applied or still listed for the workers to pick up, whatever fails next.
   * Events whose key is already stored are reported as duplicates and left as they were.
   *
   * What the caller is told always matches what will be applied (the stored events its inbox
   * entry lists), however the insert fails:
   * - MongoDB answered per event (write errors, no write-concern error): the events it refused
   *   are not stored, so they are reported `refused` (not accepted) and the others are inserted
   *   or duplicates as usual. The only unique index of `events` is _id, so a duplicate-key error
   *   is an event stored before.
   * - The insert was sent and then failed otherwise (the connection dropped, a timeout, a
   *   write-concern error; the driver wraps all of them in a MongoBulkWriteError without write
   *   errors): some events may be stored and nobody can tell which. The answer is
   *   SERVICE_UNAVAILABLE, retryable. The inbox entry stays, so the sweeper applies whatever was
   *   stored; the client's retry with the same event ids finds those as duplicates and stores
   *   the rest, so each event is accepted once and applied once. (An event sent without an
   *   eventId gets a new one on the retry: clients that retry must send their own ids.)
   * - Any other error is the driver refusing the documents before sending anything (nothing
   *   is stored; the sweeper drops the empty inbox entry): it is thrown as it is.
   */
  async storeBatch(batchId: string, events: readonly TrackedEvent[], now: Date): Promise<StoredBatch> {
    const keys = events.map((e) => eventKey(e.userId, e.eventId));
    await this.inbox.insertOne({ _id: batchId, ids: keys, at: now });
    const duplicates = new Set<string>();
    const refused = new Map<string, string>();
    try {
      await this.events.insertMany(events.map(toRawEventDoc), { ordered: false });
    } catch (error) {
      if (!(error instanceof MongoBulkWriteError)) throw error;
      const writeErrors = writeErrorsOf(error);
      if (writeErrors.length === 0 || error.result?.getWriteConcernError() !== undefined) {
        throw serviceUnavailable('MongoDB did not confirm storing the events; retry with the same event ids (those stored already are reported as duplicates)');
      }
      for (const writeError of writeErrors) {
        const key = keys[writeError.index]!;
        if (isDuplicateKeyWrite(writeError)) duplicates.add(key);
        else refused.set(key, writeError.errmsg ?? `code ${writeError.code}`);
      }
    }
    const inserted = new Set(keys.filter((key) => !duplicates.has(key) && !refused.has(key)));
    if (inserted.size > 0 && inserted.size < keys.length) {
      // the entry lists only this batch's events, so a sweep never re-queues another batch's
      // (still pending) events; if this fails the extra ones are still checked as applied
      await this.inbox.updateOne({ _id: batchId }, { $set: { ids: [...inserted] } }).catch(() => undefined);
    }
    return { inserted, duplicates, refused };
  }

  /**
   * Adds events newly stored with a recommendationId to their experiment's tallies: the event
   * counts, and their users the first time each clicked, added to the cart or bought. Events
   * served outside an experiment are in the metrics only.
   */
  async addAttributed(attributed: readonly AttributedEvent[], now = new Date()): Promise<void> {
    const increments: TallyIncrement[] = [];
    const marks: UserMarkInput[] = [];
    for (const { event, served } of attributed) {
      const tally = ATTRIBUTED_TALLIES[event.type as keyof typeof ATTRIBUTED_TALLIES];
      if (served.experiment === undefined || tally === undefined) continue;
      const { experiment, variant } = served;
      increments.push({ experiment, variant, field: tally.count, count: 1 });
      marks.push({ experiment, variant, userId: event.userId, mark: tally.mark });
    }
    await this.tallies.add(increments, marks, now);
  }

  /** Forgets an inbox entry that turned out to hold no new event. */
  async dropInboxEntry(batchId: string): Promise<void> {
    await this.inbox.deleteOne({ _id: batchId });
  }

  async userState(userId: string): Promise<UserState | undefined> {
    const doc = await this.users.findOne({ _id: userId });
    return doc === null ? undefined : fromUserStateDoc(doc);
  }

  /**
   * The user's state as the aggregator will have it once it applied what this subgraph stored:
   * the stored state with the user's raw events of the last RECENT_MS merged in (at most
   * RECENT_EVENTS; mergeEvents skips the ones already applied). So a history read right after
   * trackEvent answered shows the view, however far the aggregation lags (read-your-writes).
   */
  async userStateWithRecent(userId: string, config: EngineConfig, now = Date.now()): Promise<UserState | undefined> {
    const [state, recent] = await Promise.all([
      this.userState(userId),
      this.events
        .find({ userId, occurredAt: { $gte: new Date(now - RECENT_MS) } }, { projection: { metadata: 0, recommendationId: 0 } })
        .sort({ occurredAt: -1 })
        .limit(RECENT_EVENTS)
        .toArray(),
    ]);
    if (recent.length === 0) return state;
    return mergeEvents(state ?? emptyUserState(userId), recent.map(fromRawEventDoc), config).state;
  }
}
