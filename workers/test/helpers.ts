import { randomUUID } from 'node:crypto';
import { deferred } from '@recs/devkit';
import { eventKey, MemoryStore, type FlushChanges, type TrackedEvent, type EventType } from '@recs/engine';
import { COLLECTIONS, JOB_NAMES, toQueuedEvent, toRawEventDoc, type EventsJob, type RedisClient } from '@recs/shared';
import type { Job, Queue } from 'bullmq';
import type { Db } from 'mongodb';

let sequence = 0;

export function event(userId: string, productId: string, type: EventType, minutesAgo = 0, extra: Partial<TrackedEvent> = {}): TrackedEvent {
  const at = Date.now() - minutesAgo * 60_000;
  return { eventId: `ev-${++sequence}-${randomUUID().slice(0, 6)}`, userId, productId, type, occurredAt: at, receivedAt: at, quantity: 1, ...extra };
}

/** Stores and queues a batch the way the events subgraph does (inbox entry, raw events, job). */
export async function ingest(db: Db, queue: Queue<EventsJob>, events: readonly TrackedEvent[]): Promise<Job<EventsJob>> {
  const batchId = randomUUID();
  await db.collection(COLLECTIONS.inbox).insertOne({ _id: batchId as never, ids: events.map((e) => eventKey(e.userId, e.eventId)), at: new Date() });
  await db.collection(COLLECTIONS.events).insertMany(events.map(toRawEventDoc) as never[]);
  return queue.add(JOB_NAMES.batch, { batchId, events: events.map(toQueuedEvent) }, { jobId: batchId });
}

export async function insertCatalog(db: Db, products: readonly { id: string; categoryId: string; inStock?: boolean; price?: number }[]): Promise<void> {
  await db.collection(COLLECTIONS.products).insertMany(
    products.map((p) => ({
      _id: p.id as never,
      name: p.id,
      categoryId: p.categoryId,
      currency: 'GBP',
      inStock: p.inStock ?? true,
      ...(p.price === undefined ? {} : { price: p.price }),
      updatedAt: new Date(),
    })),
  );
}

/** A memory store that keeps the last changeset, to stage a crashed commit by hand. */
export class CapturingStore extends MemoryStore {
  last: FlushChanges | undefined;
  override async commit(changes: FlushChanges): Promise<void> {
    this.last = changes;
  }
}

/** Resolves with the first message published on `channel`, heard on `subscriber` (a connection of its own). */
export async function nextMessage(subscriber: RedisClient, channel: string): Promise<Record<string, unknown>> {
  const message = deferred<Record<string, unknown>>();
  await subscriber.subscribe(channel, (text) => message.resolve(JSON.parse(text) as Record<string, unknown>));
  return message.promise.finally(() => subscriber.unsubscribe(channel));
}
