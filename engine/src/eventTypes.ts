/**
 * What each event type a client may track means, in one table: everything else (validation, the
 * codes in stored state, interest weights, co-views, the browsing history, the cart, purchases,
 * the queue and document types, the simulator) derives from it. Adding an event type is an entry
 * here and a value of `enum EventType` in schema/events.graphql (schema/test checks the two agree;
 * `npm run compose` then regenerates the supergraph).
 */
export interface EventTypeDescriptor {
  /**
   * One character naming the type in stored user state (RingEvent), to keep per-user documents
   * small. Stored for good: never change or reuse one.
   */
  readonly code: string;
  /** Default interest weight (EngineConfig.weights); a negative weight takes interest away. */
  readonly interestWeight: number;
  /**
   * Counts as looking at the product: the user is one of its viewers, and products seen close
   * together in one session are co-viewed (ALSO_VIEWED neighbours).
   */
  readonly countsAsView: boolean;
  /** Shown in the browsing history, and counted in its `views`. */
  readonly entersHistory: boolean;
  /**
   * What the latest such event says about the product's cart: 'in' (left out of the user's
   * list while there), 'out' (taken out or bought), 'none' (says nothing).
   */
  readonly cartEffect: 'in' | 'out' | 'none';
  /**
   * A purchase: it records the day in the user's purchase days, from which distinct buyers, best
   * sellers, co-purchases (ALSO_BOUGHT) and buying again are computed.
   */
  readonly purchase: boolean;
}

export const EVENT_TYPES = {
  VIEW: { code: 'V', interestWeight: 1, countsAsView: true, entersHistory: true, cartEffect: 'none', purchase: false },
  CLICK: { code: 'C', interestWeight: 1.5, countsAsView: true, entersHistory: true, cartEffect: 'none', purchase: false },
  ADD_TO_CART: { code: 'A', interestWeight: 3, countsAsView: true, entersHistory: false, cartEffect: 'in', purchase: false },
  REMOVE_FROM_CART: { code: 'R', interestWeight: -2, countsAsView: false, entersHistory: false, cartEffect: 'out', purchase: false },
  PURCHASE: { code: 'P', interestWeight: 4, countsAsView: false, entersHistory: false, cartEffect: 'out', purchase: true },
} as const satisfies Record<string, EventTypeDescriptor>;

/** An event type a client may track (the SDL's `enum EventType`). */
export type EventType = keyof typeof EVENT_TYPES;

/** Every event type, in the table's order (the SDL's). */
export const EVENT_TYPE_NAMES = Object.keys(EVENT_TYPES) as readonly EventType[];

export function isEventType(value: string): value is EventType {
  return Object.hasOwn(EVENT_TYPES, value);
}

/** The type a stored code stands for; undefined for a code no type has (never written by this version). */
export const TYPE_OF_CODE: ReadonlyMap<string, EventType> = new Map(EVENT_TYPE_NAMES.map((type) => [EVENT_TYPES[type].code, type]));
if (TYPE_OF_CODE.size !== EVENT_TYPE_NAMES.length) throw new Error('two event types share a code in EVENT_TYPES');

/** The codes of the types that have `property`: what a loop over stored events tests against. */
export function codesWhere(property: 'countsAsView' | 'entersHistory' | 'purchase'): ReadonlySet<string> {
  return new Set(EVENT_TYPE_NAMES.filter((type) => EVENT_TYPES[type][property]).map((type) => EVENT_TYPES[type].code));
}

/** The default interest weight of every type (EngineConfig.weights). */
export function defaultInterestWeights(): Record<EventType, number> {
  return Object.fromEntries(EVENT_TYPE_NAMES.map((type) => [type, EVENT_TYPES[type].interestWeight])) as Record<EventType, number>;
}
