import { describe, expect, it } from 'vitest';
import { reasonProductIds, reasonsInWords, type Names } from '../web/reasons.ts';

const names: Names = {
  product: (id) => ({ k2: 'Blue teapot', l1: 'Beeswax candle' })[id],
  category: (id) => ({ kitchen: 'Kitchen & Dining' })[id],
};

describe('reasons in words', () => {
  it('says each reason kind the way a shopper reads it, strongest first, at most two', () => {
    expect(reasonsInWords(['BUY_AGAIN', 'ALSO_BOUGHT:l1', 'POPULAR'], names)).toEqual(['You bought this before', 'Bought with Beeswax candle']);
    expect(reasonsInWords(['ALSO_VIEWED:k2', 'TOP_IN_CATEGORY:kitchen'], names)).toEqual(['Viewed with Blue teapot', 'Popular in Kitchen & Dining']);
    expect(reasonsInWords(['POPULAR'], names)).toEqual(['Popular right now']);
    expect(reasonsInWords(['BUY_AGAIN', 'ALSO_BOUGHT:l1', 'POPULAR'], names, 3)).toHaveLength(3);
  });

  it('names what it cannot name generically, says a repeated phrase once and leaves unknown kinds out', () => {
    expect(reasonsInWords(['ALSO_BOUGHT:zz', 'TOP_IN_CATEGORY:toys'], names)).toEqual(['Bought with something you bought', 'Popular in a category you like']);
    expect(reasonsInWords(['ALSO_BOUGHT:zz', 'ALSO_BOUGHT:yy', 'POPULAR'], names)).toEqual(['Bought with something you bought', 'Popular right now']);
    expect(reasonsInWords(['SOMETHING_NEW:1', 'POPULAR'], names)).toEqual(['Popular right now']);
    expect(reasonsInWords([], names)).toEqual([]);
  });

  it('finds the products a list of reasons points at, ids with colons included', () => {
    expect(reasonProductIds(['BUY_AGAIN', 'ALSO_BOUGHT:l1', 'ALSO_VIEWED:sku:9', 'TOP_IN_CATEGORY:kitchen', 'POPULAR'])).toEqual(['l1', 'sku:9']);
  });
});
