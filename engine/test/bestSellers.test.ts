import { describe, expect, it } from 'vitest';
import { rankBestSellers, WindowRanker, type RankingRequest } from '../src/bestSellers.ts';
import { seededRandom as random } from './fixtures.ts';

describe('WindowRanker', () => {
  it('ranks every (category, window) asked for exactly as rankBestSellers does, in one pass, on 20 seeded random catalogs', () => {
    for (let seed = 1; seed <= 20; seed++) {
      const next = random(seed);
      const today = 400;
      const categories = ['kitchen', 'lights', 'garden'];
      const products = Array.from({ length: 60 }, (_, i) => {
        const days = new Map<number, number>();
        const buyingDays = Math.floor(next() * 8);
        // some days in the future or long past: outside every window
        for (let d = 0; d < buyingDays; d++) days.set(today - Math.floor(next() * 420) + (next() < 0.05 ? 3 : 0), 1 + Math.floor(next() * 4));
        return { id: `p${String(i).padStart(2, '0')}`, categoryId: next() < 0.1 ? undefined : categories[Math.floor(next() * categories.length)], days };
      });
      const requests: RankingRequest[] = [
        ...[1, 2, 7, 30, 31, 365].map((windowDays) => ({ categoryId: null, windowDays })),
        ...categories.flatMap((categoryId) => [3, 30, 90].map((windowDays) => ({ categoryId, windowDays }))),
        { categoryId: 'unknown', windowDays: 30 },
      ];
      const limit = 1 + Math.floor(next() * 12);
      const ranker = new WindowRanker(requests, today, limit);
      for (const product of products) ranker.add(product.id, product.categoryId, product.days);
      const byId = new Map(products.map((product) => [product.id, product]));
      const expected = requests.map((request) => {
        const ids = products.filter((product) => request.categoryId === null || product.categoryId === request.categoryId).map((product) => product.id);
        return rankBestSellers(ids, (id) => byId.get(id)!.days, today, request.windowDays, limit);
      });
      expect(ranker.results(), `seed ${seed}`).toEqual(expected);
    }
  });

  it('ranks nothing for products without buyers or outside the categories asked for', () => {
    const ranker = new WindowRanker([{ categoryId: 'kitchen', windowDays: 7 }], 100, 10);
    ranker.add('lamp', 'home', new Map([[100, 5]]));
    ranker.add('mug', 'kitchen', undefined);
    ranker.add(
      'cup',
      'kitchen',
      new Map([
        [90, 2],
        [99, 1],
      ]),
    );
    expect(ranker.results()).toEqual([[['cup', 1]]]);
  });
});
