import { describe, expect, it } from 'vitest';
import { eventKey, parseEventKey, validateEvent, type EventInput } from '../src/event.ts';

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
    // a lone surrogate would be stored as U+FFFD, not as sent
    expect(rejection({ sessionId: 'a\ud801' })).toBe('INVALID_SESSION_ID');
    expect(rejection({ eventId: '\udc00x' })).toBe('INVALID_EVENT_ID');
    expect(rejection({ metadata: { page: 'a\ud801' } })).toBe('INVALID_METADATA');
    expect(rejection({ metadata: { ['k\ud801']: 1 } })).toBe('INVALID_METADATA');
    expect(rejection({ sessionId: 'emoji 🛒' })).toBeUndefined();
    expect(rejection({ type: 'LIKE' })).toBe('INVALID_TYPE');
    expect(rejection({ quantity: 0 })).toBe('INVALID_QUANTITY');
    expect(rejection({ quantity: 1.5 })).toBe('INVALID_QUANTITY');
    expect(rejection({ price: -1 })).toBe('INVALID_PRICE');
    expect(rejection({ price: Number.NaN })).toBe('INVALID_PRICE');
    expect(rejection({ metadata: [1, 2] })).toBe('INVALID_METADATA');
    expect(rejection({ metadata: { blob: 'x'.repeat(5000) } })).toBe('INVALID_METADATA');
    expect(rejection({ metadata: { a: { b: { c: { d: { e: { f: 1 } } } } } } })).toBe('INVALID_METADATA');
  });

  it('refuses metadata MongoDB-wire servers cannot store, or that is not plain JSON, with INVALID_METADATA and why', () => {
    const bad: [unknown, RegExp][] = [
      [{ 'a.b': 1 }, /"a\.b".*'\.'/],
      [{ $where: 1 }, /"\$where".*'\$'/],
      [{ nested: { $gt: 1 } }, /metadata\.nested.*'\$'/],
      [{ ['a\u0000b']: 1 }, /control characters/],
      [{ ['tab\there']: 1 }, /control characters/],
      [{ '': 1 }, /1-64 characters/],
      [{ ['k'.repeat(65)]: 1 }, /1-64 characters/],
      [{ a: [[1]] }, /metadata\.a\[0\].*arrays inside arrays/],
      [{ a: [{ b: [[1]] }] }, /metadata\.a\[0\]\.b\[0\]/],
      [{ a: [{ 'b.c': 1 }] }, /"b\.c"/],
      [{ a: Array.from({ length: 101 }, () => 1) }, /at most 100 elements/],
      [{ a: Number.NaN }, /finite number/],
      [{ a: Number.POSITIVE_INFINITY }, /finite number/],
      [{ a: new Date(now) }, /JSON/],
      [{ a: undefined }, /JSON/],
      [{ a: 10n }, /JSON/],
    ];
    for (const [metadata, reason] of bad) {
      const result = validateEvent({ ...base, metadata }, { now, newId });
      expect(result.ok, JSON.stringify(Object.keys(metadata as object))).toBe(false);
      if (!result.ok) {
        expect(result.rejection.code).toBe('INVALID_METADATA');
        expect(result.rejection.message).toMatch(reason);
      }
    }
  });

  it('accepts metadata of JSON scalars, objects and flat arrays, with any other key', () => {
    const metadata = { page: '/p', a$b: 1, 'é 😀': true, none: null, tags: ['x', 2, false, null, { deep: [1, 2] }], empty: [], obj: {}, zero: -0 };
    const result = validateEvent({ ...base, metadata }, { now, newId });
    expect(result.ok && result.event.metadata).toEqual(metadata);
  });

  it('keeps the order of a batch: an event without occurredAt at index i of n is n - 1 - i ms before now', () => {
    const at = (index: number, input: Partial<EventInput> = {}) => {
      const result = validateEvent({ ...base, ...input }, { now, newId, position: { index, of: 3 } });
      return result.ok ? result.event : undefined;
    };
    expect([0, 1, 2].map((i) => at(i)?.occurredAt)).toEqual([now - 2, now - 1, now]);
    expect([0, 1, 2].map((i) => at(i)?.receivedAt)).toEqual([now, now, now]);
    expect(at(0, { occurredAt: new Date(now - 60_000) })?.occurredAt).toBe(now - 60_000);
  });
});

describe('eventKey', () => {
  it('scopes a client event id to its user, and parses back', () => {
    expect(eventKey('alice', 'order-1')).not.toBe(eventKey('bob', 'order-1'));
    expect(eventKey('alice', 'order-1')).toBe(eventKey('alice', 'order-1'));
    // ids hold no control characters, so the key is unambiguous where a printable separator is not
    expect(eventKey('a b', 'c')).not.toBe(eventKey('a', 'b c'));
    expect(parseEventKey(eventKey('u:1', 'e 1'))).toEqual({ userId: 'u:1', eventId: 'e 1' });
    expect(parseEventKey('legacy-id')).toBeUndefined();
  });
});
