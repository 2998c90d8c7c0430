import { describe, expect, it } from 'vitest';
import { validateEvent, type EventInput } from '../src/event.ts';

const now = Date.parse('2026-05-01T12:00:00Z');
const newId = () => 'generated-id';
const base: EventInput = { userId: 'u1', productId: 'p1', type: 'VIEW' };

function rejection(input: Partial<EventInput>): string | undefined {
  const result = validateEvent({ ...base, ...input }, { now, newId });
  return result.ok ? undefined : result.rejection.code;
}

describe('validateEvent', () => {
  it('fills in defaults: a generated id, now, quantity 1', () => {
    const result = validateEvent(base, { now, newId });
    expect(result).toEqual({
      ok: true,
      event: { eventId: 'generated-id', userId: 'u1', productId: 'p1', type: 'VIEW', occurredAt: now, receivedAt: now, quantity: 1 },
    });
  });

  it('keeps the optional fields it was given', () => {
    const result = validateEvent(
      { ...base, eventId: 'e-1', occurredAt: '2026-05-01T11:00:00Z', sessionId: 's1', quantity: 3, price: 2.5, metadata: { page: '/x' } },
      { now, newId },
    );
    expect(result.ok && result.event).toMatchObject({
      eventId: 'e-1',
      occurredAt: Date.parse('2026-05-01T11:00:00Z'),
      sessionId: 's1',
      quantity: 3,
      price: 2.5,
      metadata: { page: '/x' },
    });
  });

  it('accepts clock skew of up to five minutes and refuses further in the future', () => {
    expect(rejection({ occurredAt: new Date(now + 4 * 60_000) })).toBeUndefined();
    expect(rejection({ occurredAt: new Date(now + 6 * 60_000) })).toBe('FUTURE_TIMESTAMP');
  });

  it('refuses malformed values with a code per field', () => {
    expect(rejection({ occurredAt: 'yesterday' })).toBe('INVALID_TIMESTAMP');
    expect(rejection({ occurredAt: new Date(now - 401 * 86_400_000) })).toBe('TOO_OLD');
    expect(rejection({ userId: '' })).toBe('INVALID_USER_ID');
    expect(rejection({ userId: ' padded' })).toBe('INVALID_USER_ID');
    expect(rejection({ productId: 'x'.repeat(129) })).toBe('INVALID_PRODUCT_ID');
    expect(rejection({ productId: 'a\nb' })).toBe('INVALID_PRODUCT_ID');
    expect(rejection({ eventId: '' })).toBe('INVALID_EVENT_ID');
    expect(rejection({ sessionId: '\t' })).toBe('INVALID_SESSION_ID');
    expect(rejection({ type: 'LIKE' })).toBe('INVALID_TYPE');
    expect(rejection({ quantity: 0 })).toBe('INVALID_QUANTITY');
    expect(rejection({ quantity: 1.5 })).toBe('INVALID_QUANTITY');
    expect(rejection({ price: -1 })).toBe('INVALID_PRICE');
    expect(rejection({ price: Number.NaN })).toBe('INVALID_PRICE');
    expect(rejection({ metadata: [1, 2] })).toBe('INVALID_METADATA');
    expect(rejection({ metadata: { blob: 'x'.repeat(5000) } })).toBe('INVALID_METADATA');
    expect(rejection({ metadata: { a: { b: { c: { d: { e: { f: 1 } } } } } } })).toBe('INVALID_METADATA');
  });
});
