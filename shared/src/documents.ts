/**
 * The shapes of the documents one process writes and another reads, with their codecs, in one
 * place. Each is addressed by _id.
 */
import { eventKey, parseEventKey } from '@recs/engine';
import type {
  BestSellersList,
  Neighbour,
  ProductBuyers,
  Ranked,
  RecommendationItem,
  RecommendationStrategy,
  RingEvent,
  TrackedEvent,
  TrackedEventType,
  UserState,
} from '@recs/engine';
import { bestSellersDocId } from './keys.ts';
import type { QueuedEvent } from './queues.ts';

/*
 * The bulky parts of hot documents (a user's events, a product's co-occurrence counts, rankings,
 * plans) are stored as one compact string of tab-separated lines, never as arrays of objects:
 * FerretDB converts every array element and field separately, so a 20 KB user state costs 12 ms
 * to update as objects and 1 ms as a string (MongoDB handles both well). Nothing ever queries
 * inside these fields. Ids cannot hold control characters (see isValidId), so tabs and newlines
 * are safe separators. FerretDB also refuses nested arrays, which this avoids too.
 */

/** Rows of fields as one string: fields joined by tabs, rows by newlines. */
export function encodeRows(rows: Iterable<readonly (string | number)[]>): string {
  const lines: string[] = [];
  for (const row of rows) lines.push(row.join('\t'));
  return lines.join('\n');
}

export function decodeRows(text: string | undefined): string[][] {
  if (text === undefined || text === '') return [];
  return text.split('\n').map((line) => line.split('\t'));
}

/** user_state: a user's recent events and the days they bought each product on (written by the aggregator). */
export interface UserStateDoc {
  _id: string;
  /**
   * rows: the eventId's 11-character hash (shortKey: it only tells this user's events apart),
   * productId, type code, occurredAt (ms, base 36), the sessionId's hash or ''
   */
  ev: string;
  /** rows: productId, then the distinct days it was bought on, newest first */
  lp: string;
  /** rows: productId, when it was removed from the history (ms, base 36) */
  hd?: string;
  /** when the history was last cleared (epoch ms; absent: never) */
  cl?: number;
  v: number;
  /** epoch ms of the write (plans are JSON, so times are numbers) */
  at: number;
}

export function toUserStateDoc(state: UserState, now: Date): UserStateDoc {
  return {
    _id: state.userId,
    ev: encodeRows(state.events.map(([i, p, t, a, s]) => [i, p, t, a.toString(36), s])),
    lp: encodeRows([...state.purchaseDays].map(([p, days]) => [p, ...days])),
    ...(state.hidden.size === 0 ? {} : { hd: encodeRows([...state.hidden].map(([p, at]) => [p, at.toString(36)])) }),
    ...(state.clearedAt === 0 ? {} : { cl: state.clearedAt }),
    v: state.version,
    at: now.getTime(),
  };
}

export function fromUserStateDoc(doc: UserStateDoc): UserState {
  return {
    userId: doc._id,
    events: decodeRows(doc.ev).map(([i, p, t, a, s]): RingEvent => [i!, p!, t!, parseInt(a!, 36), s ?? '']),
    purchaseDays: new Map(decodeRows(doc.lp).map(([p, ...days]) => [p!, days.map(Number)])),
    hidden: new Map(decodeRows(doc.hd).map(([p, at]) => [p!, parseInt(at!, 36)])),
    clearedAt: doc.cl ?? 0,
    version: doc.v,
  };
}

/** cooccurrence: one product's co-view ('v') or co-purchase ('b') counts and best neighbours. */
export interface CoocDoc {
  _id: string;
  k: 'v' | 'b';
  p: string;
  /** users with the product */
  n: number;
  /** rows: other productId, users with both */
  c: string;
  /** rows: productId, score; best first */
  top: string;
}

export function neighboursFromDoc(doc: Pick<CoocDoc, 'top'> | null | undefined): Neighbour[] {
  return decodeRows(doc?.top).map(([p, s]): Neighbour => [p!, Number(s)]);
}

export function neighboursToDoc(top: readonly Neighbour[]): string {
  return encodeRows(top);
}

export function pairsFromDoc(doc: Pick<CoocDoc, 'c'> | null | undefined): Map<string, number> {
  return new Map(decodeRows(doc?.c).map(([p, n]) => [p!, Number(n)]));
}

/** buyer_days: per product, day -> distinct users whose latest purchase fell on it. */
export interface BuyerDaysDoc {
  _id: string;
  /** rows: day, users */
  d: string;
  /** users who bought it on more than one day (absent: none) */
  r?: number;
}

export function buyerDaysFromDoc(doc: Pick<BuyerDaysDoc, 'd'> | null | undefined): Map<number, number> {
  return new Map(decodeRows(doc?.d).map(([day, n]) => [Number(day), Number(n)]));
}

/** A product's buyers as list building weighs them: how many, how many bought it again, and when. */
export function productBuyersFromDoc(doc: Pick<BuyerDaysDoc, 'd' | 'r'> | null | undefined): ProductBuyers {
  const days = buyerDaysFromDoc(doc);
  let total = 0;
  for (const count of days.values()) total += count;
  return { total, repeat: Math.min(total, doc?.r ?? 0), days };
}

/** best_sellers: a ranking per category ('*' for all) and window. */
export interface BestSellersDoc {
  _id: string;
  c: string | null;
  w: number;
  /** rows: productId, distinct buyers in the window; best first */
  items: string;
  /** epoch ms (plans are JSON, so times are numbers) */
  changedAt: number;
}

export function toBestSellersDoc(list: BestSellersList): BestSellersDoc {
  return {
    _id: bestSellersDocId(list.categoryId, list.windowDays),
    c: list.categoryId,
    w: list.windowDays,
    items: encodeRows(list.items),
    changedAt: list.changedAt,
  };
}

export function fromBestSellersDoc(doc: BestSellersDoc): BestSellersList {
  return {
    categoryId: doc.c,
    windowDays: doc.w,
    items: decodeRows(doc.items).map(([p, n]): Ranked => [p!, Number(n)]),
    changedAt: new Date(doc.changedAt).getTime(),
  };
}

/** recommendation_lists: a user's current list (written by the list workers). */
export interface ListDoc {
  _id: string;
  /** JSON of [{ p: productId, s: score, r: reasons }] */
  items: string;
  strategy: RecommendationStrategy;
  generatedAt: Date;
  version: number;
  /** The learned model's list (StoredList.ranked): its version, and JSON as `items`. */
  model?: string;
  ranked?: string;
}

/** The ranking model's list of a user: the same candidates as the blend's, in the model's order. */
export interface RankedItems {
  /** The model's version (ranker_models' _id). */
  readonly model: string;
  readonly items: readonly RecommendationItem[];
}

export interface StoredList {
  readonly userId: string;
  /** The blend's list (recommend()). */
  readonly items: readonly RecommendationItem[];
  readonly strategy: RecommendationStrategy;
  readonly generatedAt: number;
  readonly version: number;
  /** The current ranking model's list, saved with the blend's under the same version; none when no model serves. */
  readonly ranked?: RankedItems;
}

const itemsFromJson = (json: string): RecommendationItem[] =>
  (JSON.parse(json) as { p: string; s: number; r: string[] }[]).map((item) => ({ productId: item.p, score: item.s, reasons: item.r }));
const itemsToJson = (items: readonly RecommendationItem[]): string =>
  JSON.stringify(items.map((item) => ({ p: item.productId, s: item.score, r: item.reasons })));

export function fromListDoc(doc: ListDoc): StoredList {
  return {
    userId: doc._id,
    items: itemsFromJson(doc.items),
    strategy: doc.strategy,
    generatedAt: doc.generatedAt.getTime(),
    version: doc.version,
    ...(doc.model === undefined || doc.ranked === undefined ? {} : { ranked: { model: doc.model, items: itemsFromJson(doc.ranked) } }),
  };
}

export function toListDoc(list: StoredList): ListDoc {
  return {
    _id: list.userId,
    items: itemsToJson(list.items),
    strategy: list.strategy,
    generatedAt: new Date(list.generatedAt),
    version: list.version,
    ...(list.ranked === undefined ? {} : { model: list.ranked.model, ranked: itemsToJson(list.ranked.items) }),
  };
}

/** event_inbox: an ingestion batch whose events are stored but not yet applied. */
export interface InboxDoc {
  _id: string;
  /** The eventKeys (raw events' _ids) of the batch's events. */
  ids: string[];
  at: Date;
}

/** events: a raw accepted event, the store of record. */
export interface RawEventDoc {
  /** eventKey(userId, eventId): unique per user, not per client id (see eventKey). */
  _id: string;
  userId: string;
  productId: string;
  type: TrackedEventType;
  occurredAt: Date;
  receivedAt: Date;
  sessionId?: string;
  quantity: number;
  price?: number;
  metadata?: Record<string, unknown>;
  /** The served list the event came from, as sent (checked at ingestion); never read by the aggregates. */
  recommendationId?: string;
}

export function toRawEventDoc(event: TrackedEvent): RawEventDoc {
  return {
    _id: eventKey(event.userId, event.eventId),
    userId: event.userId,
    productId: event.productId,
    type: event.type,
    occurredAt: new Date(event.occurredAt),
    receivedAt: new Date(event.receivedAt),
    quantity: event.quantity,
    ...(event.sessionId === undefined ? {} : { sessionId: event.sessionId }),
    ...(event.price === undefined ? {} : { price: event.price }),
    ...(event.metadata === undefined ? {} : { metadata: { ...event.metadata } }),
    ...(event.recommendationId === undefined ? {} : { recommendationId: event.recommendationId }),
  };
}

/** The client's eventId of a raw event; a bare _id is one stored before ids were scoped per user. */
function eventIdOf(doc: Pick<RawEventDoc, '_id'>): string {
  return parseEventKey(doc._id)?.eventId ?? doc._id;
}

/** The eventKey of a raw event (what applied_events records), whenever it was stored. */
export function rawEventKey(doc: Pick<RawEventDoc, '_id' | 'userId'>): string {
  return eventKey(doc.userId, eventIdOf(doc));
}

/** The event as the aggregates need it (metadata and recommendationId stay in MongoDB). */
export function fromRawEventDoc(doc: RawEventDoc): TrackedEvent {
  return {
    eventId: eventIdOf(doc),
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
  const { metadata: _metadata, recommendationId: _recommendationId, ...queued } = event;
  return queued;
}
