import { createHash } from 'node:crypto';
import type { EngineConfig } from './config.ts';
import { isControl, type TrackedEvent } from './event.ts';
import { EVENT_TYPES, type EventType } from './eventTypes.ts';
import { dayOf } from './time.ts';

/**
 * A user's event as kept in their state: [event key, productId, type code (EVENT_TYPES[type].code), occurredAt ms, session key or ''].
 * Keys are 64-bit hashes of the eventId and sessionId (11 characters): they only have to tell
 * the events of one user apart (a collision among a user's kept events has odds around 1e-15)
 * and keep per-user documents small.
 */
export type RingEvent = readonly [eventKey: string, productId: string, type: string, at: number, session: string];

/** The 64-bit hash of an id, as 11 base64url characters. */
export function shortKey(id: string): string {
  return createHash('sha256').update(id).digest('base64url').slice(0, 11);
}

/**
 * Everything the engine remembers about one user. Every part is a function of the *set* of
 * events seen, whatever order they arrive in:
 * - `events`: the user's `ringSize` most recent events, newest first;
 * - `purchaseDays`: per product, the distinct days it was bought on, newest first (the latest
 *   `purchaseDaysKept`; capped to the `lastPurchaseCap` products bought most recently);
 * - `hidden` / `clearedAt`: what they removed from their history and when (the latest time wins).
 * So a retried batch, events arriving out of order, and a rebuild from the raw events all give
 * the same state.
 */
export interface UserState {
  readonly userId: string;
  readonly events: readonly RingEvent[];
  readonly purchaseDays: ReadonlyMap<string, readonly number[]>;
  /** productId -> when the user removed it from their history (epoch ms). */
  readonly hidden: ReadonlyMap<string, number>;
  /** When the user last cleared their history (epoch ms; 0: never). */
  readonly clearedAt: number;
  /** Increments on every change. */
  readonly version: number;
}

export function emptyUserState(userId: string): UserState {
  return { userId, events: [], purchaseDays: new Map(), hidden: new Map(), clearedAt: 0, version: 0 };
}

/** Newest first; equal times ordered by event key so the order is total. */
export function compareRingEvents(a: RingEvent, b: RingEvent): number {
  return b[3] - a[3] || (a[0] < b[0] ? 1 : a[0] > b[0] ? -1 : 0);
}

export function toRingEvent(event: TrackedEvent & { type: EventType }): RingEvent {
  return [
    shortKey(event.eventId),
    event.productId,
    EVENT_TYPES[event.type].code,
    event.occurredAt,
    event.sessionId === undefined ? '' : shortKey(event.sessionId),
  ];
}

/** The day a product was last bought on (days are kept newest first). */
export function lastPurchaseDay(days: readonly number[]): number {
  return days[0]!;
}

/** Latest purchase first; ties by product id, so the kept set is the same in any order. */
function capPurchases(map: Map<string, readonly number[]>, cap: number): Map<string, readonly number[]> {
  if (map.size <= cap) return map;
  const kept = [...map].sort((a, b) => lastPurchaseDay(b[1]) - lastPurchaseDay(a[1]) || (a[0] < b[0] ? -1 : 1)).slice(0, cap);
  return new Map(kept);
}

/** `day` added to distinct days kept newest first, at most `keep`; the same list when it changes nothing. */
function withDay(days: readonly number[], day: number, keep: number): readonly number[] {
  if (days.includes(day)) return days;
  if (days.length >= keep && day < days[days.length - 1]!) return days;
  return [...days, day].sort((a, b) => b - a).slice(0, keep);
}

export interface MergeResult {
  readonly state: UserState;
  readonly changed: boolean;
}

/**
 * Adds events to a user's state. An event already in the ring is a duplicate; one older than
 * every event of a full ring could never be among the most recent `ringSize` and is left out
 * (it still counts towards purchaseDays, a set of days).
 */
export function mergeEvents(state: UserState, events: readonly TrackedEvent[], config: EngineConfig): MergeResult {
  const known = new Set(state.events.map((e) => e[0]));
  const oldest = state.events.length >= config.ringSize ? state.events[state.events.length - 1] : undefined;
  const added: RingEvent[] = [];
  let purchaseDays: Map<string, readonly number[]> | undefined;
  let hidden: Map<string, number> | undefined;
  let clearedAt = state.clearedAt;

  for (const event of events) {
    if (isControl(event.type)) {
      switch (event.type) {
        case 'CLEAR_HISTORY':
          clearedAt = Math.max(clearedAt, event.occurredAt);
          break;
        case 'HIDE_PRODUCT': {
          const current = (hidden ?? state.hidden).get(event.productId);
          if (current === undefined || current < event.occurredAt) {
            hidden ??= new Map(state.hidden);
            hidden.set(event.productId, event.occurredAt);
          }
          break;
        }
        default:
          event.type satisfies never;
      }
      continue;
    }
    if (EVENT_TYPES[event.type].purchase) {
      const day = dayOf(event.occurredAt);
      const current = (purchaseDays ?? state.purchaseDays).get(event.productId) ?? [];
      const next = withDay(current, day, config.purchaseDaysKept);
      if (next !== current) {
        purchaseDays ??= new Map(state.purchaseDays);
        purchaseDays.set(event.productId, next);
      }
    }
    const ring = toRingEvent(event as TrackedEvent & { type: EventType });
    if (known.has(ring[0])) continue;
    known.add(ring[0]);
    if (oldest !== undefined && compareRingEvents(ring, oldest) > 0) continue;
    added.push(ring);
  }

  const capped = purchaseDays === undefined ? undefined : capPurchases(purchaseDays, config.lastPurchaseCap);
  const purchasesChanged = capped !== undefined && !sameEntries(capped, state.purchaseDays);
  const hiddenChanged = hidden !== undefined || clearedAt !== state.clearedAt;
  if (added.length === 0 && !purchasesChanged && !hiddenChanged) return { state, changed: false };

  const ring = added.length === 0 ? state.events : [...state.events, ...added].sort(compareRingEvents).slice(0, config.ringSize);
  return {
    state: {
      userId: state.userId,
      events: ring,
      purchaseDays: purchasesChanged ? capped : state.purchaseDays,
      hidden: hidden ?? state.hidden,
      clearedAt,
      version: state.version + 1,
    },
    changed: true,
  };
}

function sameEntries(a: ReadonlyMap<string, readonly number[]>, b: ReadonlyMap<string, readonly number[]>): boolean {
  if (a.size !== b.size) return false;
  for (const [key, days] of a) {
    const other = b.get(key);
    if (other === undefined || other.length !== days.length || days.some((day, i) => other[i] !== day)) return false;
  }
  return true;
}
