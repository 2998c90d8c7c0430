import type { EventTypeName } from './config.ts';

export const EVENT_TYPES: readonly EventTypeName[] = ['VIEW', 'CLICK', 'ADD_TO_CART', 'REMOVE_FROM_CART', 'PURCHASE'];
export type EventType = EventTypeName;

/**
 * Changes to a user's history view, carried through the same pipeline as events so the
 * aggregator stays the only writer of user state: hide one product's views up to `occurredAt`
 * (removeFromHistory), or every view up to then (clearHistory; productId is '*').
 * They are never counted in any aggregate.
 */
export type ControlType = 'HIDE_PRODUCT' | 'CLEAR_HISTORY';
export const CONTROL_TYPES: readonly ControlType[] = ['HIDE_PRODUCT', 'CLEAR_HISTORY'];

export function isControl(type: EventType | ControlType): type is ControlType {
  return type === 'HIDE_PRODUCT' || type === 'CLEAR_HISTORY';
}

/** One-letter codes used in stored state, to keep per-user documents small. */
export const TYPE_CODE: Readonly<Record<EventType, string>> = {
  VIEW: 'V',
  CLICK: 'C',
  ADD_TO_CART: 'A',
  REMOVE_FROM_CART: 'R',
  PURCHASE: 'P',
};
export const TYPE_OF_CODE: Readonly<Record<string, EventType>> = Object.fromEntries(
  Object.entries(TYPE_CODE).map(([type, code]) => [code, type as EventType]),
);

/** An accepted clickstream event, as stored and processed. Times are epoch milliseconds. */
export interface TrackedEvent {
  readonly eventId: string;
  readonly userId: string;
  readonly productId: string;
  readonly type: EventType | ControlType;
  readonly occurredAt: number;
  readonly receivedAt: number;
  readonly sessionId?: string;
  readonly quantity: number;
  readonly price?: number;
  readonly metadata?: Readonly<Record<string, unknown>>;
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
  return typeof value === 'string' && value.length <= EVENT_LIMITS.idMaxLength && ID_PATTERN.test(value);
}

function reject(code: EventRejection['code'], message: string): EventValidation {
  return { ok: false, rejection: { code, message } };
}

function depthOf(value: unknown, depth = 0): number {
  if (value === null || typeof value !== 'object') return depth;
  let max = depth + 1;
  for (const child of Object.values(value)) max = Math.max(max, depthOf(child, depth + 1));
  return max;
}

/**
 * Validates one event and fills in defaults (occurredAt = now, quantity = 1, a generated eventId).
 * Pure: the caller passes the clock and the id generator.
 */
export function validateEvent(input: EventInput, { now, newId }: { now: number; newId: () => string }): EventValidation {
  const eventId = input.eventId ?? newId();
  if (!isValidId(eventId)) return reject('INVALID_EVENT_ID', `eventId must be 1-${EVENT_LIMITS.idMaxLength} printable characters`);
  if (!isValidId(input.userId)) return reject('INVALID_USER_ID', `userId must be 1-${EVENT_LIMITS.idMaxLength} printable characters`);
  if (!isValidId(input.productId)) {
    return reject('INVALID_PRODUCT_ID', `productId must be 1-${EVENT_LIMITS.idMaxLength} printable characters`);
  }
  if (!(EVENT_TYPES as readonly string[]).includes(input.type)) {
    return reject('INVALID_TYPE', `type must be one of ${EVENT_TYPES.join(', ')}`);
  }
  const sessionId = input.sessionId ?? undefined;
  if (sessionId !== undefined && !isValidId(sessionId)) {
    return reject('INVALID_SESSION_ID', `sessionId must be 1-${EVENT_LIMITS.idMaxLength} printable characters`);
  }

  let occurredAt = now;
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
    const size = Buffer.byteLength(JSON.stringify(input.metadata));
    if (size > EVENT_LIMITS.metadataMaxBytes) {
      return reject('INVALID_METADATA', `metadata is ${size} bytes; the limit is ${EVENT_LIMITS.metadataMaxBytes}`);
    }
    if (depthOf(input.metadata) > EVENT_LIMITS.metadataMaxDepth) {
      return reject('INVALID_METADATA', `metadata nests deeper than ${EVENT_LIMITS.metadataMaxDepth} levels`);
    }
    metadata = input.metadata as Record<string, unknown>;
  }

  return {
    ok: true,
    event: {
      eventId,
      userId: input.userId,
      productId: input.productId,
      type: input.type as EventType,
      occurredAt,
      receivedAt: now,
      quantity,
      ...(sessionId === undefined ? {} : { sessionId }),
      ...(price === undefined ? {} : { price }),
      ...(metadata === undefined ? {} : { metadata }),
    },
  };
}
