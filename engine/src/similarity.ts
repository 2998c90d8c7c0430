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
 * Adds `change` to a pair count. Counts that reach zero are removed; beyond `maxPairs` entries
 * the weakest pairs are dropped (ties by id, so the choice is deterministic). A decrement of a
 * pair that was dropped is ignored. Every product whose count changed (or that was dropped) is
 * added to `changed`, for persistence.
 */
export function addToPair(cooc: Cooc, other: string, change: number, maxPairs: number, changed: Set<string>): void {
  const current = cooc.pairs.get(other);
  if (current === undefined && change < 0) return;
  const next = (current ?? 0) + change;
  changed.add(other);
  if (next <= 0) {
    cooc.pairs.delete(other);
    return;
  }
  cooc.pairs.set(other, next);
  if (cooc.pairs.size > maxPairs) {
    let weakest: string | undefined;
    let weakestCount = Infinity;
    for (const [id, count] of cooc.pairs) {
      if (count < weakestCount || (count === weakestCount && weakest !== undefined && id > weakest)) {
        weakest = id;
        weakestCount = count;
      }
    }
    if (weakest !== undefined) {
      cooc.pairs.delete(weakest);
      changed.add(weakest);
    }
  }
}

/**
 * The k neighbours with the highest log-likelihood ratio. `usersOf(other)` is how many users
 * have the other product (its own `Cooc.users`); `total` is all users of this kind. Ties by
 * co-occurrence count, then id.
 */
export function topNeighbours(
  cooc: Cooc,
  usersOf: (productId: string) => number,
  total: number,
  k: number,
  include: (productId: string) => boolean = () => true,
): Neighbour[] {
  const scored: [string, number, number][] = [];
  for (const [other, both] of cooc.pairs) {
    if (!include(other)) continue;
    const score = associationScore(both, cooc.users, usersOf(other), total);
    if (score > 0) scored.push([other, score, both]);
  }
  scored.sort((a, b) => b[1] - a[1] || b[2] - a[2] || (a[0] < b[0] ? -1 : 1));
  return scored.slice(0, k).map(([id, score]) => [id, roundScore(score)] as const);
}

/** Scores are stored and compared rounded, so a recomputation gives an identical list. */
export function roundScore(score: number): number {
  return Math.round(score * 1e6) / 1e6;
}
