import type { TrackedEvent } from '@recs/engine';
import type { HistoryStep } from './trainingSet.ts';

/** Purchases of one customer this close to the basket's first are one basket (one query). */
export const BASKET_WINDOW_MS = 10 * 60_000;
/** Plain events given to the training set per step at most. */
const STEP_EVENTS = 1_000;

interface OpenBasket {
  readonly userId: string;
  readonly at: number;
  readonly id: string;
  readonly products: Set<string>;
  readonly events: TrackedEvent[];
}

type Held = { readonly event: TrackedEvent } | { readonly basket: OpenBasket };

/**
 * A raw event log (in occurredAt order) as training-set steps: a customer's PURCHASE events
 * within `windowMs` of their first make one basket, placed where its first purchase was; every
 * other event passes through in order. A basket is given once its window has passed, so what
 * is held back is at most `windowMs` of events.
 */
export async function* basketSteps(events: Iterable<TrackedEvent> | AsyncIterable<TrackedEvent>, windowMs = BASKET_WINDOW_MS): AsyncGenerator<HistoryStep> {
  const held: Held[] = [];
  const open = new Map<string, OpenBasket>();
  let plain: TrackedEvent[] = [];
  function* release(now: number): Generator<HistoryStep> {
    while (held.length > 0) {
      const head = held[0]!;
      if ('event' in head) {
        plain.push(head.event);
        held.shift();
        if (plain.length >= STEP_EVENTS) {
          yield { events: plain };
          plain = [];
        }
        continue;
      }
      if (now - head.basket.at <= windowMs) return;
      held.shift();
      if (open.get(head.basket.userId) === head.basket) open.delete(head.basket.userId);
      if (plain.length > 0) {
        yield { events: plain };
        plain = [];
      }
      const { userId, at, id, products } = head.basket;
      yield { events: head.basket.events, basket: { userId, at, id, products } };
    }
  }
  for await (const event of events) {
    if (event.type === 'PURCHASE') {
      const basket = open.get(event.userId);
      if (basket !== undefined && event.occurredAt - basket.at <= windowMs) {
        basket.products.add(event.productId);
        basket.events.push(event);
      } else {
        const opened: OpenBasket = { userId: event.userId, at: event.occurredAt, id: event.eventId, products: new Set([event.productId]), events: [event] };
        open.set(event.userId, opened);
        held.push({ basket: opened });
      }
    } else held.push({ event });
    yield* release(event.occurredAt);
  }
  yield* release(Number.POSITIVE_INFINITY);
  if (plain.length > 0) yield { events: plain };
}
