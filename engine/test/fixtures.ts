import type { TrackedEvent } from '../src/event.ts';
import { seededRandom } from '../src/random.ts';
import type { EventType } from '../src/eventTypes.ts';

export const T0 = Date.parse('2026-03-01T00:00:00Z');
export const MINUTE = 60_000;
export const DAY = 86_400_000;

let sequence = 0;

/** An accepted event; `at` is milliseconds after T0. */
export function event(
  userId: string,
  productId: string,
  type: EventType,
  at: number,
  extra: { eventId?: string; sessionId?: string; quantity?: number; price?: number } = {},
): TrackedEvent {
  return {
    eventId: extra.eventId ?? `e${++sequence}`,
    userId,
    productId,
    type,
    occurredAt: T0 + at,
    receivedAt: T0 + at,
    quantity: extra.quantity ?? 1,
    ...(extra.sessionId === undefined ? {} : { sessionId: extra.sessionId }),
    ...(extra.price === undefined ? {} : { price: extra.price }),
  };
}

export { seededRandom };

/** Deterministic shuffle so order-independence tests are repeatable. */
export function shuffled<T>(items: readonly T[], seed: number): T[] {
  const out = [...items];
  const random = seededRandom(seed);
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}
