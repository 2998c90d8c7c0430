import { associationScore } from './llr.ts';

export type SimilarityKind = 'ALSO_VIEWED' | 'ALSO_BOUGHT';
export const KIND_CODE: Readonly<Record<SimilarityKind, 'v' | 'b'>> = { ALSO_VIEWED: 'v', ALSO_BOUGHT: 'b' };

/** A neighbour of a product and how strongly they go together. */
export type Neighbour = readonly [productId: string, score: number];

/**
 * One product's co-occurrence counts of one kind: `users` users viewed (bought) it, and
 * `pairs.get(other)` of them also viewed (bought) `other`. `top` is its best neighbours.
 */
export interface Cooc {
  users: number;
  readonly pairs: Map<string, number>;
  top: readonly Neighbour[];
}

export function emptyCooc(): Cooc {
  return { users: 0, pairs: new Map(), top: [] };
}

/**
 * The pairs of one Cooc ordered weakest first (lowest count, ties by the highest id), so the pair
 * to drop is found without reading every pair: a binary min-heap of [count, id] entries, pushed on
 * every change. An entry whose count is no longer the pair's is stale and skipped when it comes
 * up; every pair has an entry with its current count. Built the first time a product holds more
 * than `maxPairs` pairs and kept up by addToPair, the only writer of `Cooc.pairs`.
 */
class WeakestPairs {
  private counts: number[] = [];
  private ids: string[] = [];

  constructor(pairs: ReadonlyMap<string, number>) {
    this.rebuild(pairs);
  }

  get length(): number {
    return this.ids.length;
  }

  /** Every pair once, heapified: after stale entries outgrow the pairs. */
  rebuild(pairs: ReadonlyMap<string, number>): void {
    this.counts = [...pairs.values()];
    this.ids = [...pairs.keys()];
    for (let i = (this.ids.length >>> 1) - 1; i >= 0; i--) this.down(i);
  }

  push(id: string, count: number): void {
    this.counts.push(count);
    this.ids.push(id);
    this.up(this.ids.length - 1);
  }

  /** Takes out and returns the weakest pair still held, or undefined when none is. */
  popWeakest(pairs: ReadonlyMap<string, number>): string | undefined {
    while (this.ids.length > 0) {
      const id = this.ids[0]!;
      const current = pairs.get(id) === this.counts[0];
      this.removeTop();
      if (current) return id;
    }
    return undefined;
  }

  /** Entry i goes before entry j: a lower count, or the same count and a higher id. */
  private before(i: number, j: number): boolean {
    const a = this.counts[i]!;
    const b = this.counts[j]!;
    return a < b || (a === b && this.ids[i]! > this.ids[j]!);
  }

  private swap(i: number, j: number): void {
    const count = this.counts[i]!;
    this.counts[i] = this.counts[j]!;
    this.counts[j] = count;
    const id = this.ids[i]!;
    this.ids[i] = this.ids[j]!;
    this.ids[j] = id;
  }

  private removeTop(): void {
    const last = this.ids.length - 1;
    this.swap(0, last);
    this.counts.pop();
    this.ids.pop();
    this.down(0);
  }

  private up(i: number): void {
    while (i > 0) {
      const parent = (i - 1) >>> 1;
      if (!this.before(i, parent)) return;
      this.swap(i, parent);
      i = parent;
    }
  }

  private down(i: number): void {
    const n = this.ids.length;
    for (;;) {
      const left = 2 * i + 1;
      if (left >= n) return;
      const right = left + 1;
      const child = right < n && this.before(right, left) ? right : left;
      if (!this.before(child, i)) return;
      this.swap(i, child);
      i = child;
    }
  }
}

/** Per Cooc held past its cap, its pairs weakest first (see WeakestPairs). */
const weakestPairs = new WeakMap<Cooc, WeakestPairs>();

/**
 * Adds `change` to a pair count. Counts that reach zero are removed; beyond `maxPairs` entries
 * the weakest pairs are dropped (ties by id, so the choice is deterministic). A decrement of a
 * pair that was dropped is ignored. Every product whose count changed (or that was dropped) is
 * added to `changed`, for persistence. Dropping takes O(log pairs), not a read of every pair.
 */
export function addToPair(cooc: Cooc, other: string, change: number, maxPairs: number, changed: Set<string>): void {
  const current = cooc.pairs.get(other);
  if (current === undefined && change < 0) return;
  const next = (current ?? 0) + change;
  changed.add(other);
  if (next <= 0) {
    // the pair's entries in the heap, if any, are stale from now on
    cooc.pairs.delete(other);
    return;
  }
  cooc.pairs.set(other, next);
  let weakest = weakestPairs.get(cooc);
  if (weakest !== undefined) {
    weakest.push(other, next);
    if (weakest.length > 2 * cooc.pairs.size + 64) weakest.rebuild(cooc.pairs);
  }
  if (cooc.pairs.size > maxPairs) {
    if (weakest === undefined) weakestPairs.set(cooc, (weakest = new WeakestPairs(cooc.pairs)));
    const dropped = weakest.popWeakest(cooc.pairs);
    if (dropped !== undefined) {
      cooc.pairs.delete(dropped);
      changed.add(dropped);
    }
  }
}

/** A neighbour with `score` and co-occurrence count `both` ranks before `than`: a higher score, then a higher count, then the lower id. */
function ranksBefore(id: string, score: number, both: number, than: readonly [string, number, number]): boolean {
  return score > than[1] || (score === than[1] && (both > than[2] || (both === than[2] && id < than[0])));
}

/**
 * The k neighbours with the highest log-likelihood ratio. `usersOf(other)` is how many users
 * have the other product (its own `Cooc.users`); `total` is all users of this kind. Ties by
 * co-occurrence count, then id. One pass keeps the best k in order and sorts nothing else; only
 * those k are checked with `include` (when one is left out, a second pass checks as it goes).
 */
export function topNeighbours(
  cooc: Cooc,
  usersOf: (productId: string) => number,
  total: number,
  k: number,
  include: (productId: string) => boolean = () => true,
): Neighbour[] {
  if (k <= 0) return [];
  let best = bestPairs(cooc, usersOf, total, k);
  // the best k of every pair are the best k of the included ones when all of them are included
  if (!best.every(([id]) => include(id))) best = bestPairs(cooc, usersOf, total, k, include);
  return best.map(([id, score]) => [id, roundScore(score)] as const);
}

/** The best k pairs as [other product, score, co-occurrence count], best first; `include` asked only of a pair that would enter them. */
function bestPairs(
  cooc: Cooc,
  usersOf: (productId: string) => number,
  total: number,
  k: number,
  include?: (productId: string) => boolean,
): [string, number, number][] {
  const best: [string, number, number][] = [];
  for (const [other, both] of cooc.pairs) {
    const score = associationScore(both, cooc.users, usersOf(other), total);
    if (!(score > 0)) continue;
    if (best.length === k && !ranksBefore(other, score, both, best[k - 1]!)) continue;
    if (include !== undefined && !include(other)) continue;
    // the first of the best that this one ranks before
    let lo = 0;
    let hi = best.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (ranksBefore(other, score, both, best[mid]!)) hi = mid;
      else lo = mid + 1;
    }
    best.splice(lo, 0, [other, score, both]);
    if (best.length > k) best.pop();
  }
  return best;
}

/** Scores are stored and compared rounded, so a recomputation gives an identical list. */
export function roundScore(score: number): number {
  return Math.round(score * 1e6) / 1e6;
}
