import { describe, expect, it } from 'vitest';
import { coocKey } from '@recs/engine';
import { bestSellersDocId, coocDocId, leaseDocId, parseCoocDocId, planChunkId } from '../src/keys.ts';

describe('storage keys', () => {
  it('parses a cooccurrence id back into its kind and product, whatever the product id holds', () => {
    for (const productId of ['mug', 'a:b', ':', 'v:x', '85123A']) {
      for (const kind of ['v', 'b'] as const) expect(parseCoocDocId(coocDocId(kind, productId))).toEqual({ kind, productId });
    }
    expect(() => parseCoocDocId('x:mug')).toThrow(/not a cooccurrence id/);
    expect(() => parseCoocDocId('mug')).toThrow(/not a cooccurrence id/);
  });

  it('addresses co-occurrence documents by the engine’s own keys', () => {
    expect(coocDocId('b', 'mug')).toBe(coocKey('b', 'mug'));
  });

  it('keeps the formats stored documents already have', () => {
    expect(coocDocId('v', 'mug')).toBe('v:mug');
    expect(bestSellersDocId(null, 30)).toBe('*:30');
    expect(bestSellersDocId('home', 7)).toBe('home:7');
    expect(planChunkId(12, 0)).toBe('12:0');
    expect(leaseDocId('aggregator')).toBe('lease:aggregator');
  });
});
