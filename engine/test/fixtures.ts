import type { EventType, TrackedEvent } from '../src/event.ts';

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

/** Deterministic shuffle (mulberry32) so order-independence tests are repeatable. */
export function shuffled<T>(items: readonly T[], seed: number): T[] {
  const out = [...items];
  let a = seed >>> 0;
  const random = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}
