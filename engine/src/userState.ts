import type { EngineConfig } from './config.ts';
import { TYPE_CODE, type TrackedEvent } from './event.ts';
import { dayOf } from './time.ts';

/** A user's event as kept in their state: [eventId, productId, type code, occurredAt ms, sessionId or ''] */
export type RingEvent = readonly [eventId: string, productId: string, type: string, at: number, session: string];

/**
 * Everything the engine remembers about one user. Both parts are functions of the *set* of
 * events seen, whatever order they arrive in:
 * - `events`: the user's `ringSize` most recent events, newest first;
 * - `lastPurchaseDay`: per product, the day of its latest purchase (capped to the most recent
 *   `lastPurchaseCap` products).
 * So a retried batch, events arriving out of order, and a rebuild from the raw events all give
 * the same state.
 */
export interface UserState {
  readonly userId: string;
  readonly events: readonly RingEvent[];
  readonly lastPurchaseDay: ReadonlyMap<string, number>;
  /** Increments on every change. */
  readonly version: number;
}

export function emptyUserState(userId: string): UserState {
  return { userId, events: [], lastPurchaseDay: new Map(), version: 0 };
}

/** Newest first; equal times ordered by eventId so the order is total. */
export function compareRingEvents(a: RingEvent, b: RingEvent): number {
  return b[3] - a[3] || (a[0] < b[0] ? 1 : a[0] > b[0] ? -1 : 0);
}

export function toRingEvent(event: TrackedEvent): RingEvent {
  return [event.eventId, event.productId, TYPE_CODE[event.type], event.occurredAt, event.sessionId ?? ''];
}

/** Latest purchase first; ties by product id, so the kept set is the same in any order. */
function capLastPurchases(map: Map<string, number>, cap: number): Map<string, number> {
  if (map.size <= cap) return map;
  const kept = [...map].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)).slice(0, cap);
  return new Map(kept);
}

export interface MergeResult {
  readonly state: UserState;
  readonly changed: boolean;
}

/**
 * Adds events to a user's state. An event already in the ring is a duplicate; one older than
 * every event of a full ring could never be among the most recent `ringSize` and is left out
 * (it still counts towards lastPurchaseDay, where the latest day wins anyway).
 */
export function mergeEvents(state: UserState, events: readonly TrackedEvent[], config: EngineConfig): MergeResult {
  const known = new Set(state.events.map((e) => e[0]));
  const oldest = state.events.length >= config.ringSize ? state.events[state.events.length - 1] : undefined;
  const added: RingEvent[] = [];
  let lastPurchaseDay: Map<string, number> | undefined;

  for (const event of events) {
    if (event.type === 'PURCHASE') {
      const day = dayOf(event.occurredAt);
      const current = (lastPurchaseDay ?? state.lastPurchaseDay).get(event.productId);
      if (current === undefined || current < day) {
        lastPurchaseDay ??= new Map(state.lastPurchaseDay);
        lastPurchaseDay.set(event.productId, day);
      }
    }
    if (known.has(event.eventId)) continue;
    known.add(event.eventId);
    const ring = toRingEvent(event);
    if (oldest !== undefined && compareRingEvents(ring, oldest) > 0) continue;
    added.push(ring);
  }

  const capped = lastPurchaseDay === undefined ? undefined : capLastPurchases(lastPurchaseDay, config.lastPurchaseCap);
  const purchasesChanged = capped !== undefined && !sameEntries(capped, state.lastPurchaseDay);
  if (added.length === 0 && !purchasesChanged) return { state, changed: false };

  const ring = added.length === 0 ? state.events : [...state.events, ...added].sort(compareRingEvents).slice(0, config.ringSize);
  return {
    state: {
      userId: state.userId,
      events: ring,
      lastPurchaseDay: purchasesChanged ? capped : state.lastPurchaseDay,
      version: state.version + 1,
    },
    changed: true,
  };
}

function sameEntries(a: ReadonlyMap<string, number>, b: ReadonlyMap<string, number>): boolean {
  if (a.size !== b.size) return false;
  for (const [key, value] of a) if (b.get(key) !== value) return false;
  return true;
}
