import { describe, expect, it } from 'vitest';
import { associationScore } from '../src/llr.ts';
import { addToPair, emptyCooc, roundScore, topNeighbours, type Cooc, type Neighbour } from '../src/similarity.ts';
import { seededRandom as random } from './fixtures.ts';

/** A Map that counts how often all of it is read (iterated), to show an operation's work. */
class CountingMap<K, V> extends Map<K, V> {
  reads = 0;
  override [Symbol.iterator](): MapIterator<[K, V]> {
    this.reads++;
    return super[Symbol.iterator]();
  }
  override entries(): MapIterator<[K, V]> {
    this.reads++;
    return super.entries();
  }
  override keys(): MapIterator<K> {
    this.reads++;
    return super.keys();
  }
  override values(): MapIterator<V> {
    this.reads++;
    return super.values();
  }
  override forEach(callback: (value: V, key: K, map: Map<K, V>) => void): void {
    this.reads++;
    super.forEach(callback);
  }
}

/** addToPair as first written: every drop reads every pair for the weakest. */
function addToPairByScan(pairs: Map<string, number>, other: string, change: number, maxPairs: number, changed: Set<string>): void {
  const current = pairs.get(other);
  if (current === undefined && change < 0) return;
  const next = (current ?? 0) + change;
  changed.add(other);
  if (next <= 0) {
    pairs.delete(other);
    return;
  }
  pairs.set(other, next);
  if (pairs.size > maxPairs) {
    let weakest: string | undefined;
    let weakestCount = Infinity;
    for (const [id, count] of pairs) {
      if (count < weakestCount || (count === weakestCount && weakest !== undefined && id > weakest)) {
        weakest = id;
        weakestCount = count;
      }
    }
    pairs.delete(weakest!);
    changed.add(weakest!);
  }
}

/** topNeighbours as first written: every pair scored, filtered and sorted. */
function topNeighboursBySort(cooc: Cooc, usersOf: (id: string) => number, total: number, k: number, include: (id: string) => boolean): Neighbour[] {
  const scored: [string, number, number][] = [];
  for (const [other, both] of cooc.pairs) {
    if (!include(other)) continue;
    const score = associationScore(both, cooc.users, usersOf(other), total);
    if (score > 0) scored.push([other, score, both]);
  }
  scored.sort((a, b) => b[1] - a[1] || b[2] - a[2] || (a[0] < b[0] ? -1 : 1));
  return scored.slice(0, k).map(([id, score]) => [id, roundScore(score)] as const);
}

const id = (n: number) => `p${String(n).padStart(3, '0')}`;

describe('addToPair', () => {
  it('keeps and drops exactly the pairs a scan for the weakest does, on 30 seeded random sequences', () => {
    for (let seed = 1; seed <= 30; seed++) {
      const next = random(seed);
      const maxPairs = 1 + Math.floor(next() * 12);
      const cooc = emptyCooc();
      const reference = new Map<string, number>();
      for (let step = 0; step < 400; step++) {
        // mostly increments of few products (many ties), some decrements, now and then a larger change
        const other = id(Math.floor(next() * 3 * maxPairs));
        const change = next() < 0.3 ? -1 : next() < 0.9 ? 1 : 1 + Math.floor(next() * 4);
        const changed = new Set<string>();
        const expectedChanged = new Set<string>();
        addToPair(cooc, other, change, maxPairs, changed);
        addToPairByScan(reference, other, change, maxPairs, expectedChanged);
        expect([...changed].sort(), `seed ${seed} step ${step}`).toEqual([...expectedChanged].sort());
        expect(new Map([...cooc.pairs].sort()), `seed ${seed} step ${step}`).toEqual(new Map([...reference].sort()));
      }
    }
  });

  it('finds the pair to drop without reading every pair each time: a product at its cap reads them once for a thousand drops', () => {
    const pairs = new CountingMap<string, number>();
    for (let n = 0; n < 500; n++) pairs.set(id(n), 1 + (n % 7));
    const cooc: Cooc = { users: 600, pairs, top: [] };
    const changed = new Set<string>();
    for (let n = 500; n < 1500; n++) {
      addToPair(cooc, `q${n}`, 1 + (n % 3), 500, changed);
      // and a count that moves, as counts do
      addToPair(cooc, id(n % 500), 1, 500, changed);
    }
    expect(pairs.size).toBe(500);
    // the drops' order is built once from the pairs (their counts, then their ids): two reads,
    // and again only when entries made stale by changed counts outnumber the pairs
    expect(pairs.reads).toBeLessThanOrEqual(2 * 4);
  });
});

describe('topNeighbours', () => {
  it('ranks exactly as scoring, filtering and sorting every pair does, on 40 seeded random products', () => {
    for (let seed = 1; seed <= 40; seed++) {
      const next = random(seed);
      const total = 50 + Math.floor(next() * 2000);
      const pairs = new Map<string, number>();
      const users = new Map<string, number>();
      const size = Math.floor(next() * 300);
      for (let n = 0; n < size; n++) {
        // few distinct counts and user counts: many exact ties of score, broken by count then id
        const both = 1 + Math.floor(next() ** 3 * 8);
        pairs.set(id(Math.floor(next() * 1000)), both);
        users.set(id(n), both + Math.floor(next() * 4) * 5);
      }
      const cooc: Cooc = { users: 10 + Math.floor(next() * 200), pairs, top: [] };
      const usersOf = (other: string) => users.get(other) ?? 0;
      const include = (other: string) => other.charCodeAt(3) % 5 !== 0;
      for (const k of [0, 1, 5, 20, 400]) {
        expect(topNeighbours(cooc, usersOf, total, k, include), `seed ${seed} k ${k}`).toEqual(topNeighboursBySort(cooc, usersOf, total, k, include));
      }
    }
  });

  it('asks the catalog about the k it keeps, not about every pair', () => {
    const next = random(7);
    const pairs = new Map<string, number>();
    for (let n = 0; n < 500; n++) pairs.set(id(n), 1 + Math.floor(next() * 30));
    let asked = 0;
    const top = topNeighbours(
      { users: 200, pairs, top: [] },
      () => 40,
      5000,
      20,
      () => {
        asked++;
        return true;
      },
    );
    expect(top).toHaveLength(20);
    expect(asked).toBe(20);
  });
});
