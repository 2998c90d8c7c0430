import { describe, expect, it } from 'vitest';
import { DEFAULT_CACHE_BYTES, ExpiringCache } from '../src/cache.ts';
import { MAX_IDS_PER_ARGUMENT, optionalId, requireId, requireIds } from '../src/ids.ts';

const codeOf = (fn: () => unknown) => {
  try {
    fn();
  } catch (error) {
    return (error as { extensions?: { code?: string } }).extensions?.code;
  }
  return undefined;
};

describe('ExpiringCache', () => {
  it('never holds more than its byte budget, however many and however long the keys and values', () => {
    const cache = new ExpiringCache<string>({ max: 1_000_000, maxBytes: 1_000_000 });
    const until = Date.now() + 60_000;
    for (let i = 0; i < 2_000; i++) {
      cache.set(`${i}:${'k'.repeat(10_000)}`, 'v'.repeat(5_000), until);
      expect(cache.bytes).toBeLessThanOrEqual(1_000_000);
    }
    // each entry weighs over 15,000 bytes: at most 66 fit
    expect(cache.size).toBeLessThanOrEqual(66);
    expect(cache.size).toBeGreaterThan(0);
    // the most recent are kept, the oldest went first
    expect(cache.get(`1999:${'k'.repeat(10_000)}`, Date.now())).toBe('v'.repeat(5_000));
    expect(cache.get(`0:${'k'.repeat(10_000)}`, Date.now())).toBeUndefined();
  });

  it('never holds more than its entry bound, and keeps the most recently used', () => {
    const cache = new ExpiringCache<number>(100);
    const until = Date.now() + 60_000;
    for (let i = 0; i < 10_000; i++) cache.set(`key-${i}`, i, until);
    expect(cache.size).toBe(100);
    expect(cache.bytes).toBeLessThanOrEqual(DEFAULT_CACHE_BYTES);
    expect(cache.get('key-9999', Date.now())).toBe(9999);
    expect(cache.get('key-0', Date.now())).toBeUndefined();
  });

  it('weighs values with the cache’s own sizeOf and refuses one larger than the whole budget', () => {
    const cache = new ExpiringCache<number[]>({ max: 1_000, maxBytes: 10_000, sizeOf: (value) => value.length * 8 });
    const until = Date.now() + 60_000;
    cache.set('small', [1, 2, 3], until);
    cache.set('huge', new Array(2_000).fill(0), until);
    expect(cache.get('huge', Date.now())).toBeUndefined();
    expect(cache.get('small', Date.now())).toEqual([1, 2, 3]);
    for (let i = 0; i < 100; i++) cache.set(`list-${i}`, new Array(100).fill(i), until);
    expect(cache.bytes).toBeLessThanOrEqual(10_000);
    expect(cache.size).toBeLessThan(12);
  });

  it('expires entries at their own time, by the caller’s clock', () => {
    const cache = new ExpiringCache<string>(10);
    const now = Date.now();
    cache.set('a', 'A', now + 1_000);
    cache.set('b', 'B', now + 5_000);
    expect(cache.get('a', now + 999)).toBe('A');
    expect(cache.get('a', now + 1_000)).toBeUndefined();
    expect(cache.size).toBe(1);
    expect(cache.get('b', now + 4_999)).toBe('B');
    // a clock of the caller's own, far from the wall clock
    cache.set('old', 'O', Date.parse('2020-01-01T00:00:30Z'));
    expect(cache.get('old', Date.parse('2020-01-01T00:00:00Z'))).toBe('O');
    expect(cache.get('old', Date.parse('2020-01-01T00:00:30Z'))).toBeUndefined();
    cache.clear();
    expect(cache.size).toBe(0);
    expect(cache.bytes).toBe(0);
  });
});

describe('id arguments', () => {
  it('accept 1-128 printable characters and refuse anything else with BAD_USER_INPUT', () => {
    expect(requireId('mug-1', 'id')).toBe('mug-1');
    expect(requireId('x'.repeat(128), 'id')).toHaveLength(128);
    for (const bad of ['', 'x'.repeat(129), 'x'.repeat(900_000), 'a\u0000b', 'line\nbreak', ' padded', 'tab\t', 42, null]) {
      expect(codeOf(() => requireId(bad, 'id'))).toBe('BAD_USER_INPUT');
    }
    expect(optionalId(null, 'categoryId')).toBeUndefined();
    expect(optionalId(undefined, 'categoryId')).toBeUndefined();
    expect(codeOf(() => optionalId('', 'categoryId'))).toBe('BAD_USER_INPUT');
  });

  it('bound lists of ids', () => {
    expect(requireIds(['a', 'b'], 'ids')).toEqual(['a', 'b']);
    expect(
      codeOf(() =>
        requireIds(
          Array.from({ length: MAX_IDS_PER_ARGUMENT + 1 }, (_, i) => `p${i}`),
          'ids',
        ),
      ),
    ).toBe('BAD_USER_INPUT');
    expect(codeOf(() => requireIds(['ok', 'x'.repeat(200)], 'ids'))).toBe('BAD_USER_INPUT');
  });
});
