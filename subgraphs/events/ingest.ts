import { randomUUID } from 'node:crypto';
import { eventKey, validateEvent, type ControlType, type EventInput, type EventRejection, type TrackedEvent } from '@recs/engine';
import {
  canAccessUser,
  isAttributable,
  ErrorCode,
  isUnavailable,
  JOB_NAMES,
  MicroBatches,
  secondsSince,
  serviceUnavailable,
  toQueuedEvent,
  verifyRecommendationId,
  type EventsJob,
  type Identity,
  type Logger,
  type ServedList,
} from '@recs/shared';
import type { Queue } from 'bullmq';
import { GraphQLError } from 'graphql';
import type { IngestMetrics } from './metrics.ts';
import type { EventStore, StoredBatch } from './store.ts';

export const MAX_BATCH = 1_000;
/**
 * Calls of at most this many events are stored together with the other small calls that arrive
 * meanwhile (group commit): one inbox entry, one insert and one job for all of them, so a
 * storefront's one-event calls cost MongoDB and the queue a few writes per group, not per call.
 * Larger calls are stored on their own, concurrently.
 */
export const GROUP_CALL_EVENTS = 50;
/** Events of one group at most. */
export const GROUP_EVENTS = 500;

export interface Rejected {
  readonly index: number;
  /**
   * NOT_STORED: valid, but MongoDB refused to store it (not accepted; the rest of the batch is).
   * INVALID_RECOMMENDATION_ID: a recommendationId on another type, or not one issued for the user.
   */
  readonly code: EventRejection['code'] | 'INVALID_RECOMMENDATION_ID' | 'FORBIDDEN' | 'NOT_STORED';
  readonly message: string;
}

export interface IngestResult {
  readonly accepted: readonly TrackedEvent[];
  /** Client ids of events already recorded for their user (by an earlier call or earlier in this batch). */
  readonly duplicates: readonly string[];
  readonly rejected: readonly Rejected[];
}

export interface IngestorOptions {
  readonly store: EventStore;
  readonly queue: Queue<EventsJob>;
  readonly logger: Logger;
  /** How long to wait for Redis before leaving the batch to the inbox sweeper. */
  readonly enqueueTimeoutMs?: number;
  /**
   * How long to wait for MongoDB to store a batch before answering SERVICE_UNAVAILABLE (retryable).
   * A write that lands after that is not lost: its inbox entry gets it applied, and the client's
   * retry with the same event ids finds them as duplicates.
   */
  readonly storeTimeoutMs?: number;
  /** Where accepted, duplicate, rejected and attributed events, batch sizes and times to durable are counted. */
  readonly metrics?: IngestMetrics;
  /**
   * JWT_SECRET: recommendationIds are checked with the key the recommendations subgraph signs
   * them with, derived from it. Without it every recommendationId is refused.
   */
  readonly jwtSecret?: string;
}

/** An accepted event that follows from a served list. */
export interface AttributedEvent {
  readonly event: TrackedEvent;
  readonly served: ServedList;
}

/** A call's valid events, waiting to be stored with the others of its group. */
interface GroupCall {
  readonly events: readonly TrackedEvent[];
  readonly now: number;
}

/** What storing one call's events came to: its own outcome, and the job queueing its accepted ones. */
type Written =
  | { readonly ok: true; readonly batchId: string; readonly stored: StoredBatch; readonly queued: Promise<void> }
  | { readonly ok: false; readonly error: unknown };

/** `work`, or a rejection made by `onTimeout` once `ms` have passed first. */
async function within<T>(work: Promise<T>, ms: number, onTimeout: () => Error): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      work,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(onTimeout()), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Validates, stores and queues clickstream events. A call returns once its events are durable in
 * MongoDB; queueing them for the workers is best effort within a short timeout, because the
 * inbox entry written first guarantees they are applied later even if Redis is down now.
 */
export class Ingestor {
  private readonly options: IngestorOptions;
  /** Small calls waiting to be stored as one group (one group is written at a time). */
  private readonly groups: MicroBatches<GroupCall, Written>;

  constructor(options: IngestorOptions) {
    this.options = options;
    this.groups = new MicroBatches(
      (waiting) => {
        let events = 0;
        let count = 0;
        for (const call of waiting) {
          if (count > 0 && events + call.events.length > GROUP_EVENTS) break;
          events += call.events.length;
          count++;
        }
        return count;
      },
      (calls) => this.writeGroup(calls),
    );
  }

  async track(inputs: readonly EventInput[], identity: Identity, now = Date.now()): Promise<IngestResult> {
    const started = performance.now();
    const { metrics } = this.options;
    metrics?.batch(inputs.length);
    const result = await this.trackBatch(inputs, identity, now, started);
    metrics?.accepted(result.accepted);
    metrics?.duplicates(result.duplicates.length);
    metrics?.rejected(result.rejected);
    return result;
  }

  private async trackBatch(inputs: readonly EventInput[], identity: Identity, now: number, started: number): Promise<IngestResult> {
    const rejected: Rejected[] = [];
    const valid: TrackedEvent[] = [];
    const indexOf = new Map<string, number>();
    const duplicates: string[] = [];
    /** What each event with a recommendationId was served, by eventKey. */
    const served = new Map<string, ServedList>();
    inputs.forEach((input, index) => {
      const result = validateEvent(input, { now, newId: randomUUID, position: { index, of: inputs.length } });
      if (!result.ok) {
        rejected.push({ index, ...result.rejection });
        return;
      }
      if (!canAccessUser(identity, result.event.userId)) {
        rejected.push({ index, code: 'FORBIDDEN', message: `not allowed to track events for user ${result.event.userId}` });
        return;
      }
      const recommendationId = input.recommendationId ?? undefined;
      const check = recommendationId === undefined ? undefined : this.checkRecommendationId(recommendationId, result.event);
      if (check?.ok === false) {
        rejected.push({ index, code: 'INVALID_RECOMMENDATION_ID', message: check.message });
        return;
      }
      // an event is its user's: the same eventId for two users is two events (see eventKey)
      const key = eventKey(result.event.userId, result.event.eventId);
      if (indexOf.has(key)) {
        duplicates.push(result.event.eventId);
        return;
      }
      indexOf.set(key, index);
      if (check === undefined) valid.push(result.event);
      else {
        valid.push({ ...result.event, recommendationId: recommendationId! });
        served.set(key, check.served);
      }
    });
    if (valid.length === 0) return { accepted: [], duplicates, rejected };

    const written = valid.length <= GROUP_CALL_EVENTS ? await this.groups.submit({ events: valid, now }) : await this.writeAlone({ events: valid, now });
    if (!written.ok) throw written.error;
    const { batchId, stored, queued } = written;
    this.options.metrics?.durableAfter(secondsSince(started));
    const accepted = valid.filter((event) => stored.inserted.has(eventKey(event.userId, event.eventId)));
    for (const event of valid) {
      const key = eventKey(event.userId, event.eventId);
      if (stored.duplicates.has(key)) duplicates.push(event.eventId);
      const reason = stored.refused.get(key);
      if (reason !== undefined) {
        this.options.logger.warn({ batchId, userId: event.userId, eventId: event.eventId, reason }, 'MongoDB refused to store a valid event');
        rejected.push({ index: indexOf.get(key)!, code: 'NOT_STORED', message: 'the event could not be stored; it was not accepted' });
      }
    }
    rejected.sort((a, b) => a.index - b.index);
    const attributed = accepted.flatMap((event) => {
      const list = served.get(eventKey(event.userId, event.eventId));
      return list === undefined ? [] : [{ event, served: list }];
    });
    await Promise.all([queued, this.attribute(attributed)]);
    return { accepted, duplicates, rejected };
  }

  /** Stores one call's events under an inbox entry of their own, and queues the accepted ones. */
  private async writeAlone(call: GroupCall): Promise<Written> {
    try {
      const batchId = randomUUID();
      const stored = await this.store(batchId, call.events, call.now);
      return { ok: true, batchId, stored, queued: this.queueStored(batchId, call.events, stored) };
    } catch (error) {
      return { ok: false, error };
    }
  }

  /**
   * Stores a group of calls' events as one batch (one inbox entry, one insert, one job) and
   * tells each call its own outcome. An event a call repeats from an earlier call of the group
   * is that call's duplicate, left out of the insert. Should the group fail otherwise than as
   * unavailable (the driver refusing a document before sending anything), each call is stored
   * on its own, so one call's bad document fails that call only.
   */
  private async writeGroup(calls: readonly GroupCall[]): Promise<Written[]> {
    if (calls.length === 1) return [await this.writeAlone(calls[0]!)];
    const keyOf = (event: TrackedEvent) => eventKey(event.userId, event.eventId);
    // per call, the keys an earlier call of the group already holds
    const seen = new Set<string>();
    const again = calls.map((call) => {
      const repeats = new Set<string>();
      for (const key of call.events.map(keyOf)) {
        if (seen.has(key)) repeats.add(key);
        else seen.add(key);
      }
      return repeats;
    });
    const events = calls.flatMap((call, i) => call.events.filter((event) => !again[i]!.has(keyOf(event))));
    const batchId = randomUUID();
    let stored: StoredBatch;
    try {
      stored = await this.store(batchId, events, calls[0]!.now);
    } catch (error) {
      const unavailable = isUnavailable(error) || (error instanceof GraphQLError && error.extensions['code'] === ErrorCode.SERVICE_UNAVAILABLE);
      if (unavailable) return calls.map(() => ({ ok: false, error }));
      return Promise.all(calls.map((call) => this.writeAlone(call)));
    }
    const queued = this.queueStored(batchId, events, stored);
    return calls.map((call, i): Written => {
      const own = new Set(call.events.map(keyOf));
      const mine = (key: string) => own.has(key) && !again[i]!.has(key);
      return {
        ok: true,
        batchId,
        queued,
        stored: {
          inserted: new Set([...stored.inserted].filter(mine)),
          duplicates: new Set([...[...stored.duplicates].filter(mine), ...again[i]!]),
          refused: new Map([...stored.refused].filter(([key]) => mine(key))),
        },
      };
    });
  }

  /** Queues a stored batch's newly stored events; with none, drops its inbox entry. Never rejects. */
  private async queueStored(batchId: string, events: readonly TrackedEvent[], stored: StoredBatch): Promise<void> {
    const accepted = events.filter((event) => stored.inserted.has(eventKey(event.userId, event.eventId)));
    if (accepted.length > 0) return this.enqueue({ batchId, events: accepted.map(toQueuedEvent) });
    // nothing new: the entry would only be swept and dropped later
    await this.options.store.dropInboxEntry(batchId).catch((error: unknown) => {
      this.options.logger.warn({ batchId, err: (error as Error).message }, 'could not drop an empty inbox entry; the sweeper will');
    });
  }

  /** Whether the event may carry this recommendationId: an attributable type, and an id issued for its user (see verifyRecommendationId). */
  private checkRecommendationId(id: string, event: TrackedEvent): { ok: true; served: ServedList } | { ok: false; message: string } {
    if (!isAttributable(event.type)) return { ok: false, message: 'recommendationId is accepted on CLICK, ADD_TO_CART and PURCHASE events only' };
    if (this.options.jwtSecret === undefined) return { ok: false, message: 'recommendationIds cannot be checked here' };
    return verifyRecommendationId(id, event.userId, this.options.jwtSecret, event.occurredAt, event.receivedAt);
  }

  /**
   * Counts events newly stored with a recommendationId (never duplicates): the metric, and the
   * experiment's tallies. The events are durable already, so a tally that cannot be written (or
   * not within the queueing timeout: the answer does not wait longer) is logged, not refused.
   */
  private async attribute(attributed: readonly AttributedEvent[]): Promise<void> {
    if (attributed.length === 0) return;
    this.options.metrics?.attributed(attributed);
    const timeoutMs = this.options.enqueueTimeoutMs ?? 1_000;
    try {
      await within(this.options.store.addAttributed(attributed), timeoutMs, () => new Error(`MongoDB did not answer within ${timeoutMs} ms`));
    } catch (error) {
      this.options.logger.warn({ events: attributed.length, err: (error as Error).message }, 'could not add attributed events to the experiment tallies');
    }
  }

  /**
   * Records a change to a user's history view (see ControlType) through the same durable path
   * as events, so the aggregator applies it. Returns the control event.
   */
  async trackControl(userId: string, type: ControlType, productId: string, now = Date.now()): Promise<TrackedEvent> {
    const event: TrackedEvent = { eventId: randomUUID(), userId, productId, type, occurredAt: now, receivedAt: now, quantity: 1 };
    const batchId = randomUUID();
    const started = performance.now();
    await this.store(batchId, [event], now);
    this.options.metrics?.durableAfter(secondsSince(started));
    this.options.metrics?.accepted([event]);
    await this.enqueue({ batchId, events: [toQueuedEvent(event)] });
    return event;
  }

  private store(batchId: string, events: readonly TrackedEvent[], now: number) {
    const timeoutMs = this.options.storeTimeoutMs ?? 10_000;
    return within(this.options.store.storeBatch(batchId, events, new Date(now)), timeoutMs, () =>
      serviceUnavailable(`MongoDB did not store the events within ${timeoutMs} ms; retry with the same event ids`),
    );
  }

  private async enqueue(job: EventsJob): Promise<void> {
    const timeoutMs = this.options.enqueueTimeoutMs ?? 1_000;
    try {
      await within(
        this.options.queue.add(JOB_NAMES.batch, job, { jobId: job.batchId }),
        timeoutMs,
        () => new Error(`Redis did not answer within ${timeoutMs} ms`),
      );
    } catch (error) {
      this.options.logger.warn(
        { batchId: job.batchId, events: job.events.length, err: (error as Error).message },
        'could not queue a stored batch now; the inbox sweeper will queue it',
      );
    }
  }
}
