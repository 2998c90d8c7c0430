import { describe, expect, it } from 'vitest';
import { ClickstreamSimulator, seededRandom } from '../src/simulator.ts';

const products = Array.from({ length: 40 }, (_, i) => ({ id: `p${i}`, categoryId: `c${i % 4}`, price: 1 + i }));

describe('ClickstreamSimulator', () => {
  it('gives the same sessions for the same seed and different ones for another seed', () => {
    const a = new ClickstreamSimulator({ seed: 7, users: 10, products });
    const b = new ClickstreamSimulator({ seed: 7, users: 10, products });
    const c = new ClickstreamSimulator({ seed: 8, users: 10, products });
    const run = (sim: ClickstreamSimulator) => Array.from({ length: 20 }, () => sim.session());
    const first = run(a);
    expect(run(b)).toEqual(first);
    expect(run(c)).not.toEqual(first);
  });

  it('keeps a session in one category, starts with a view, and only buys what was put in the cart', () => {
    const sim = new ClickstreamSimulator({ seed: 1, users: 50, products });
    for (let i = 0; i < 200; i++) {
      const session = sim.session();
      expect(session[0]?.type).toBe('VIEW');
      expect(new Set(session.map((e) => products.find((p) => p.id === e.productId)!.categoryId)).size).toBe(1);
      const carted = new Set(session.filter((e) => e.type === 'ADD_TO_CART').map((e) => e.productId));
      for (const event of session.filter((e) => e.type === 'PURCHASE')) expect(carted.has(event.productId)).toBe(true);
    }
  });

  it('makes popular products much more popular than the rest', () => {
    const sim = new ClickstreamSimulator({ seed: 3, users: 100, products });
    const views = new Map<string, number>();
    for (let i = 0; i < 2_000; i++) for (const e of sim.session()) if (e.type === 'VIEW') views.set(e.productId, (views.get(e.productId) ?? 0) + 1);
    const counts = [...views.values()].sort((x, y) => y - x);
    expect(counts[0]!).toBeGreaterThan(4 * counts.at(-1)!);
  });

  it('draws uniform numbers in [0, 1)', () => {
    const random = seededRandom(42);
    const draws = Array.from({ length: 10_000 }, random);
    expect(Math.min(...draws)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...draws)).toBeLessThan(1);
    expect(draws.reduce((s, x) => s + x, 0) / draws.length).toBeCloseTo(0.5, 1);
  });
});
