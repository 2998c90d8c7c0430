/**
 * The shapes of the documents one process writes and another reads, with their codecs, in one
 * place. Each is addressed by _id.
 */
import type { BestSellersList, HiddenHistory, Neighbour, Ranked, RecommendationItem, RecommendationStrategy, RingEvent, UserState } from '@recs/engine';
import type { TrackedEvent } from '@recs/engine';
import { decodeKey, encodeKey } from './mongo.ts';
import type { QueuedEvent } from './queues.ts';

/*
 * Documents hold arrays of objects, never arrays of arrays: FerretDB does not support nested
 * arrays, and the same documents must work on MongoDB and FerretDB.
 */

/** user_state: a user's recent events and last purchase per product (written by the aggregator). */
export interface UserStateDoc {
  _id: string;
  /** i: eventId, p: productId, t: type code, a: occurredAt (ms), s: sessionId when sent */
  ev: { i: string; p: string; t: string; a: number; s?: string }[];
  /** p: productId, d: day of the latest purchase */
  lp: { p: string; d: number }[];
  v: number;
  at: Date;
}

export function toUserStateDoc(state: UserState, now: Date): UserStateDoc {
  return {
    _id: state.userId,
    ev: state.events.map(([i, p, t, a, s]) => (s === '' ? { i, p, t, a } : { i, p, t, a, s })),
    lp: [...state.lastPurchaseDay].map(([p, d]) => ({ p, d })),
    v: state.version,
    at: now,
  };
}

export function fromUserStateDoc(doc: UserStateDoc): UserState {
  return {
    userId: doc._id,
    events: doc.ev.map(({ i, p, t, a, s }): RingEvent => [i, p, t, a, s ?? '']),
    lastPurchaseDay: new Map(doc.lp.map(({ p, d }) => [p, d])),
    version: doc.v,
  };
}

/** user_hidden: what a user removed from their history (written by the events subgraph). */
export interface HiddenDoc {
  _id: string;
  /** encoded productId -> epoch ms of the removal */
  removed?: Record<string, number>;
  clearedAt?: number;
}

export function fromHiddenDoc(doc: HiddenDoc | null | undefined): HiddenHistory {
  const removed = new Map(Object.entries(doc?.removed ?? {}).map(([key, at]) => [decodeKey(key), at] as const));
  return doc?.clearedAt === undefined ? { removed } : { removed, clearedAt: doc.clearedAt };
}

export function hiddenRemovalUpdate(productId: string, at: number): { $max: Record<string, number> } {
  return { $max: { [`removed.${encodeKey(productId)}`]: at } };
}

/** cooccurrence: one product's co-view ('v') or co-purchase ('b') counts and best neighbours. */
export interface CoocDoc {
  _id: string;
  k: 'v' | 'b';
  p: string;
  /** users with the product */
  n: number;
  /** encoded other productId -> users with both */
  c?: Record<string, number>;
  /** best neighbours: p: productId, s: score */
  top: { p: string; s: number }[];
}

export function neighboursFromDoc(doc: Pick<CoocDoc, 'top'> | null | undefined): Neighbour[] {
  return (doc?.top ?? []).map(({ p, s }): Neighbour => [p, s]);
}

export function neighboursToDoc(top: readonly Neighbour[]): CoocDoc['top'] {
  return top.map(([p, s]) => ({ p, s }));
}

export function coocDocId(kind: 'v' | 'b', productId: string): string {
  return `${kind}:${productId}`;
}

/** best_sellers: a ranking per category ('*' for all) and window. */
export interface BestSellersDoc {
  _id: string;
  c: string | null;
  w: number;
  /** p: productId, n: distinct buyers in the window */
  items: { p: string; n: number }[];
  changedAt: Date;
}

export function bestSellersDocId(categoryId: string | null, windowDays: number): string {
  return `${categoryId ?? '*'}:${windowDays}`;
}

export function toBestSellersDoc(list: BestSellersList): BestSellersDoc {
  return {
    _id: bestSellersDocId(list.categoryId, list.windowDays),
    c: list.categoryId,
    w: list.windowDays,
    items: list.items.map(([p, n]) => ({ p, n })),
    changedAt: new Date(list.changedAt),
  };
}

export function fromBestSellersDoc(doc: BestSellersDoc): BestSellersList {
  return { categoryId: doc.c, windowDays: doc.w, items: doc.items.map(({ p, n }): Ranked => [p, n]), changedAt: doc.changedAt.getTime() };
}

/** recommendation_lists: a user's current list (written by the list workers). */
export interface ListDoc {
  _id: string;
  items: { p: string; s: number; r: string[] }[];
  strategy: RecommendationStrategy;
  generatedAt: Date;
  version: number;
}

export interface StoredList {
  readonly userId: string;
  readonly items: readonly RecommendationItem[];
  readonly strategy: RecommendationStrategy;
  readonly generatedAt: number;
  readonly version: number;
}

export function fromListDoc(doc: ListDoc): StoredList {
  return {
    userId: doc._id,
    items: doc.items.map((item) => ({ productId: item.p, score: item.s, reasons: item.r })),
    strategy: doc.strategy,
    generatedAt: doc.generatedAt.getTime(),
    version: doc.version,
  };
}

export function toListDoc(list: StoredList): ListDoc {
  return {
    _id: list.userId,
    items: list.items.map((item) => ({ p: item.productId, s: item.score, r: [...item.reasons] })),
    strategy: list.strategy,
    generatedAt: new Date(list.generatedAt),
    version: list.version,
  };
}

/** event_inbox: an ingestion batch whose events are stored but not yet applied. */
export interface InboxDoc {
  _id: string;
  ids: string[];
  at: Date;
}

/** events: a raw accepted event, the store of record. */
export interface RawEventDoc {
  _id: string;
  userId: string;
  productId: string;
  type: 'VIEW' | 'CLICK' | 'ADD_TO_CART' | 'REMOVE_FROM_CART' | 'PURCHASE';
  occurredAt: Date;
  receivedAt: Date;
  sessionId?: string;
  quantity: number;
  price?: number;
  metadata?: Record<string, unknown>;
}

export function toRawEventDoc(event: TrackedEvent): RawEventDoc {
  return {
    _id: event.eventId,
    userId: event.userId,
    productId: event.productId,
    type: event.type,
    occurredAt: new Date(event.occurredAt),
    receivedAt: new Date(event.receivedAt),
    quantity: event.quantity,
    ...(event.sessionId === undefined ? {} : { sessionId: event.sessionId }),
    ...(event.price === undefined ? {} : { price: event.price }),
    ...(event.metadata === undefined ? {} : { metadata: { ...event.metadata } }),
  };
}

/** The event as the aggregates need it (metadata stays in MongoDB). */
export function fromRawEventDoc(doc: RawEventDoc): TrackedEvent {
  return {
    eventId: doc._id,
    userId: doc.userId,
    productId: doc.productId,
    type: doc.type,
    occurredAt: doc.occurredAt.getTime(),
    receivedAt: doc.receivedAt.getTime(),
    quantity: doc.quantity,
    ...(doc.sessionId === undefined ? {} : { sessionId: doc.sessionId }),
    ...(doc.price === undefined ? {} : { price: doc.price }),
  };
}

export function toQueuedEvent(event: TrackedEvent): QueuedEvent {
  const { metadata: _metadata, ...queued } = event;
  return queued;
}
