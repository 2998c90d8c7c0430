import { EVENT_TYPE_NAMES, isEventType, type EventType } from './eventTypes.ts';

/**
 * Changes to a user's history view, carried through the same pipeline as events so the
 * aggregator stays the only writer of user state: hide one product's views up to `occurredAt`
 * (removeFromHistory), or every view up to then (clearHistory; productId is '*').
 * They are never counted in any aggregate, and clients cannot send them (they are not EventTypes).
 */
export type ControlType = 'HIDE_PRODUCT' | 'CLEAR_HISTORY';

/** The type of a tracked event: one a client sent, or a control. */
export type TrackedEventType = EventType | ControlType;

export function isControl(type: TrackedEventType): type is ControlType {
  return type === 'HIDE_PRODUCT' || type === 'CLEAR_HISTORY';
}

/** An accepted clickstream event, as stored and processed. Times are epoch milliseconds. */
export interface TrackedEvent {
  readonly eventId: string;
  readonly userId: string;
  readonly productId: string;
  readonly type: TrackedEventType;
  readonly occurredAt: number;
  readonly receivedAt: number;
  readonly sessionId?: string;
  readonly quantity: number;
  readonly price?: number;
  readonly metadata?: Readonly<Record<string, unknown>>;
  /**
   * The served list the event came from (a recommendationId the recommendations subgraph
   * signed, checked by the events subgraph): kept with the raw event for attribution, never
   * read by any aggregate.
   */
  readonly recommendationId?: string;
}

/** What a client sends (trackEvent's TrackEventInput), before validation. */
export interface EventInput {
  readonly eventId?: string | null;
  readonly userId: string;
  readonly productId: string;
  readonly type: string;
  readonly occurredAt?: Date | string | number | null;
  readonly sessionId?: string | null;
  readonly quantity?: number | null;
  readonly price?: number | null;
  readonly metadata?: unknown;
  /** Checked by the events subgraph (it holds the key), not by validateEvent. */
  readonly recommendationId?: string | null;
}

export const EVENT_LIMITS = {
  idMaxLength: 128,
  /** How far ahead of the server clock occurredAt may be (client clock skew). */
  maxFutureSkewMs: 5 * 60 * 1000,
  /** Events older than this are refused: they cannot affect any window or list. */
  maxAgeMs: 400 * 86_400_000,
  maxQuantity: 100_000,
  maxPrice: 10_000_000,
  metadataMaxBytes: 4_096,
  metadataMaxDepth: 5,
  metadataKeyMaxLength: 64,
  metadataMaxArrayLength: 100,
} as const;

/** Why an event was refused; `code` is stable for clients, `message` is for people. */
export interface EventRejection {
  readonly code:
    | 'INVALID_EVENT_ID'
    | 'INVALID_USER_ID'
    | 'INVALID_PRODUCT_ID'
    | 'INVALID_SESSION_ID'
    | 'INVALID_TYPE'
    | 'INVALID_TIMESTAMP'
    | 'FUTURE_TIMESTAMP'
    | 'TOO_OLD'
    | 'INVALID_QUANTITY'
    | 'INVALID_PRICE'
    | 'INVALID_METADATA';
  readonly message: string;
}

export type EventValidation = { readonly ok: true; readonly event: TrackedEvent } | { readonly ok: false; readonly rejection: EventRejection };

// Printable, no surrounding whitespace, no control characters.
const ID_PATTERN = /^[^\s\p{Cc}](?:[^\p{Cc}]*[^\s\p{Cc}])?$/u;

export function isValidId(value: unknown): value is string {
  // well-formed UTF-16 too: a lone surrogate would be stored (as UTF-8) as U+FFFD, another id
  return typeof value === 'string' && value.length <= EVENT_LIMITS.idMaxLength && ID_PATTERN.test(value) && value.isWellFormed();
}

/*
 * The identity of an event is (userId, eventId), never the client's eventId alone: the id is
 * the client's idempotency key for *its* user's events, so one user's id can neither suppress
 * another user's event nor reveal (as "duplicate") that it exists. Per user, not per token
 * subject: a service token tracks events for every user (its subject would merge them all
 * again), and the same user's event retried through another token (the storefront's service
 * token, then the user's own) must still be one event; the user is what the event is about,
 * and every aggregate is a sum over users. This key is the raw event's _id, what an inbox
 * entry lists, and what applied_events records; nothing else may use the bare eventId as an
 * identity.
 */
const KEY_SEPARATOR = '\t';

/** The identity of a user's event. Ids hold no control characters, so the tab is unambiguous. */
export function eventKey(userId: string, eventId: string): string {
  return `${userId}${KEY_SEPARATOR}${eventId}`;
}

/** The parts of an eventKey; undefined for a bare id (a raw event stored before keys were scoped). */
export function parseEventKey(key: string): { userId: string; eventId: string } | undefined {
  const at = key.indexOf(KEY_SEPARATOR);
  return at < 0 ? undefined : { userId: key.slice(0, at), eventId: key.slice(at + 1) };
}

function reject(code: EventRejection['code'], message: string): EventValidation {
  return { ok: false, rejection: { code, message } };
}

// No control characters (NUL above all: BSON keys are C strings), no '.', no leading '$'.
const METADATA_KEY_PATTERN = /^(?!\$)[^.\p{Cc}]+$/u;

function isPlainObject(value: object): boolean {
  const prototype = Object.getPrototypeOf(value) as unknown;
  return prototype === Object.prototype || prototype === null;
}

/**
 * Why a metadata value cannot be stored as it is, or undefined when it can. MongoDB and
 * FerretDB refuse field names with '.' or a leading '$' (and BSON keys with NUL); FerretDB
 * refuses arrays directly inside arrays. Refused here, per event, such a value would otherwise
 * fail the batch's insert after its inbox entry was written. Only plain JSON is kept: strings,
 * finite numbers, booleans, null, objects and arrays of those.
 */
function metadataProblem(value: unknown, path: string, inArray: boolean, level: number): string | undefined {
  if (value === null || typeof value === 'boolean') return undefined;
  // a lone surrogate cannot be stored as UTF-8: it would come back as U+FFFD, not as sent
  if (typeof value === 'string') return value.isWellFormed() ? undefined : `${path} is not well-formed Unicode (a lone surrogate)`;
  if (typeof value === 'number') return Number.isFinite(value) ? undefined : `${path} must be a finite number`;
  if (typeof value !== 'object') return `${path} is not a JSON value`;
  if (level > EVENT_LIMITS.metadataMaxDepth) return `metadata nests deeper than ${EVENT_LIMITS.metadataMaxDepth} levels`;
  if (Array.isArray(value)) {
    if (inArray) return `${path} is an array inside an array; arrays inside arrays cannot be stored`;
    if (value.length > EVENT_LIMITS.metadataMaxArrayLength)
      return `${path} has ${value.length} elements; at most ${EVENT_LIMITS.metadataMaxArrayLength} elements`;
    for (let i = 0; i < value.length; i++) {
      const problem = metadataProblem(value[i], `${path}[${i}]`, true, level + 1);
      if (problem !== undefined) return problem;
    }
    return undefined;
  }
  if (!isPlainObject(value)) return `${path} is not a JSON value`;
  for (const [key, child] of Object.entries(value)) {
    if (key.length === 0 || key.length > EVENT_LIMITS.metadataKeyMaxLength) {
      return `${path} key ${JSON.stringify(key.slice(0, 80))} must be 1-${EVENT_LIMITS.metadataKeyMaxLength} characters`;
    }
    if (!METADATA_KEY_PATTERN.test(key)) {
      return `${path} key ${JSON.stringify(key)} must not contain '.' or control characters, nor start with '$'`;
    }
    if (!key.isWellFormed()) return `${path} key ${JSON.stringify(key)} is not well-formed Unicode (a lone surrogate)`;
    const problem = metadataProblem(child, `${path}.${key}`, false, level + 1);
    if (problem !== undefined) return problem;
  }
  return undefined;
}

/** Where an event is in its batch, so events without occurredAt keep the order they were sent in. */
export interface BatchPosition {
  readonly index: number;
  readonly of: number;
}

/**
 * Validates one event and fills in defaults (occurredAt = now, quantity = 1, a generated eventId).
 * Pure: the caller passes the clock and the id generator.
 *
 * Events of one batch share `now`; without their own occurredAt they would share a timestamp
 * too, and every list ordered by time (the browsing history, the user's ring) would then order
 * them by an arbitrary tie-break. So the event at `position.index` of `position.of` gets
 * now - (of - 1 - index) ms: the last one sent is the newest, at most a second earlier for the
 * first of a full batch, well inside every limit on occurredAt.
 */
export function validateEvent(input: EventInput, { now, newId, position }: { now: number; newId: () => string; position?: BatchPosition }): EventValidation {
  const eventId = input.eventId ?? newId();
  if (!isValidId(eventId)) return reject('INVALID_EVENT_ID', `eventId must be 1-${EVENT_LIMITS.idMaxLength} printable characters`);
  if (!isValidId(input.userId)) return reject('INVALID_USER_ID', `userId must be 1-${EVENT_LIMITS.idMaxLength} printable characters`);
  if (!isValidId(input.productId)) {
    return reject('INVALID_PRODUCT_ID', `productId must be 1-${EVENT_LIMITS.idMaxLength} printable characters`);
  }
  const type = input.type;
  if (!isEventType(type)) return reject('INVALID_TYPE', `type must be one of ${EVENT_TYPE_NAMES.join(', ')}`);
  const sessionId = input.sessionId ?? undefined;
  if (sessionId !== undefined && !isValidId(sessionId)) {
    return reject('INVALID_SESSION_ID', `sessionId must be 1-${EVENT_LIMITS.idMaxLength} printable characters`);
  }

  let occurredAt = position === undefined ? now : now - (position.of - 1 - position.index);
  if (input.occurredAt !== undefined && input.occurredAt !== null) {
    occurredAt = input.occurredAt instanceof Date ? input.occurredAt.getTime() : new Date(input.occurredAt).getTime();
    if (!Number.isFinite(occurredAt)) return reject('INVALID_TIMESTAMP', 'occurredAt is not a valid date-time');
    if (occurredAt > now + EVENT_LIMITS.maxFutureSkewMs) {
      return reject('FUTURE_TIMESTAMP', 'occurredAt is more than 5 minutes in the future');
    }
    if (occurredAt < now - EVENT_LIMITS.maxAgeMs) return reject('TOO_OLD', 'occurredAt is more than 400 days in the past');
  }

  const quantity = input.quantity ?? 1;
  if (!Number.isInteger(quantity) || quantity < 1 || quantity > EVENT_LIMITS.maxQuantity) {
    return reject('INVALID_QUANTITY', `quantity must be an integer from 1 to ${EVENT_LIMITS.maxQuantity}`);
  }
  const price = input.price ?? undefined;
  if (price !== undefined && (!Number.isFinite(price) || price < 0 || price > EVENT_LIMITS.maxPrice)) {
    return reject('INVALID_PRICE', `price must be a number from 0 to ${EVENT_LIMITS.maxPrice}`);
  }

  let metadata: Record<string, unknown> | undefined;
  if (input.metadata !== undefined && input.metadata !== null) {
    if (typeof input.metadata !== 'object' || Array.isArray(input.metadata)) {
      return reject('INVALID_METADATA', 'metadata must be a JSON object');
    }
    // the shape first: it bounds the depth, so serializing below is safe
    const problem = metadataProblem(input.metadata, 'metadata', false, 1);
    if (problem !== undefined) return reject('INVALID_METADATA', problem);
    const size = Buffer.byteLength(JSON.stringify(input.metadata));
    if (size > EVENT_LIMITS.metadataMaxBytes) {
      return reject('INVALID_METADATA', `metadata is ${size} bytes; the limit is ${EVENT_LIMITS.metadataMaxBytes}`);
    }
    metadata = input.metadata as Record<string, unknown>;
  }

  return {
    ok: true,
    event: {
      eventId,
      userId: input.userId,
      productId: input.productId,
      type,
      occurredAt,
      receivedAt: now,
      quantity,
      ...(sessionId === undefined ? {} : { sessionId }),
      ...(price === undefined ? {} : { price }),
      ...(metadata === undefined ? {} : { metadata }),
    },
  };
}
