import { buyersInWindow, NO_BUYERS, rankBestSellers, sameRanking, type BuyerDays, type ProductBuyers, type Ranked } from './bestSellers.ts';
import type { CatalogView } from './catalog.ts';
import type { EngineConfig } from './config.ts';
import { contributionOf, ContributionDelta, splitPair, type Contribution } from './contribution.ts';
import { eventKey, type TrackedEvent } from './event.ts';
import { LruMap } from './lru.ts';
import type { ReadModel } from './reads.ts';
import { addToPair, emptyCooc, KIND_CODE, topNeighbours, type Cooc, type Neighbour, type SimilarityKind } from './similarity.ts';
import {
  coocKey,
  kindOfCoocKey,
  type AggregateSnapshot,
  type AggregateStore,
  type BestSellersList,
  type CoocChange,
  type FlushChanges,
  type KindCode,
} from './store.ts';
import { dayOf } from './time.ts';
import { emptyUserState, mergeEvents, type UserState } from './userState.ts';

/** Best-seller order: more buyers first, ties by product id. */
const byBuyersThenId = (a: Ranked, b: Ranked) => b[1] - a[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0);
export interface AggregatorOptions {
  /** Users and co-occurrence entries kept in memory between batches (LRU). */
  readonly cacheSize?: number;
  /**
   * Rank a product's neighbours when they are read (neighbours(), coocOf(), dump()), not at every
   * batch that changes its counts. For replays that read little until they end: the evaluator's
   * and the trainer's walks, the recomputation behind rebuild and import-events. A batch then
   * costs its counts alone; ranking a popular product re-reads every one of its pairs (up to
   * maxPairsPerItem), the per-event cost that otherwise grows as a history is replayed. The
   * neighbours read are ranked against the counts of that moment. Needs the whole state in
   * memory (no cacheSize): an entry trimmed before it was ranked would keep a stale ranking.
   */
  readonly rankOnRead?: boolean;
}

/** Milliseconds spent in each stage of the last batch, for diagnostics. */
export interface FlushTimings {
  load: number;
  compute: number;
  commit: number;
}

export interface FlushResult {
  /** Users whose state changed, in their new state. */
  readonly users: readonly UserState[];
  /** Best-seller lists whose ranking changed. */
  readonly bestSellers: readonly BestSellersList[];
  /** Events applied (after removing duplicates within the batch). */
  readonly applied: number;
}

const NO_CHANGE: FlushResult = { users: [], bestSellers: [], applied: 0 };

/** Adds `change` to a product's count, which is kept only while above zero. */
function addCount(counts: Map<string, number>, productId: string, change: number): void {
  if (change === 0) return;
  const next = (counts.get(productId) ?? 0) + change;
  if (next > 0) counts.set(productId, next);
  else counts.delete(productId);
}

function bestSellersKey(categoryId: string | null, windowDays: number): string {
  return `${categoryId ?? ''}\u0000${windowDays}`;
}

/** A co-occurrence entry a batch touches: its products whose count changed (for persistence), and the entry once loaded. */
interface TouchedCooc {
  readonly kind: KindCode;
  readonly productId: string;
  readonly pairs: Set<string>;
  cooc?: Cooc;
}

/**
 * Turns events into the aggregates recommendations are built from: per-user state, co-view and
 * co-purchase counts with their LLR neighbours, distinct buyers per day and best sellers. It keeps the hot state in memory and hands the store one changeset of absolute
 * values per batch. One aggregator may write a store at a time (the worker holds a lease).
 */
export class Aggregator implements ReadModel {
  private snapshot: AggregateSnapshot | undefined;
  private readonly users: LruMap<string, UserState>;
  private readonly cooc: LruMap<string, Cooc>;
  private readonly contributions = new WeakMap<UserState, Contribution>();
  private readonly lists = new Map<string, BestSellersList>();
  /** Per product, its distinct buyers over all time (the sum of its histogram), computed on demand. */
  private readonly buyersTotal = new Map<string, number>();
  /** Per materialized window: product -> distinct buyers in the window ending `countsDay`. */
  private windowCounts = new Map<number, Map<string, number>>();
  private countsDay = -1;
  /**
   * Per day, the products whose buyer days hold it: what a window gains and loses as it slides a
   * day, so sliding reads those products only, not every product's every day.
   */
  private readonly productsByDay = new Map<number, Set<string>>();
  private broken = false;
  private readonly rankOnRead: boolean;
  /** With rankOnRead: the co-occurrence entries (by coocKey) whose neighbours are not ranked since their counts last changed. */
  private readonly unranked = new Set<string>();
  /** Stage timings of the last apply(). */
  readonly timings: FlushTimings = { load: 0, compute: 0, commit: 0 };

  private readonly store: AggregateStore;
  private readonly catalog: CatalogView;
  readonly config: EngineConfig;

  constructor(store: AggregateStore, catalog: CatalogView, config: EngineConfig, options: AggregatorOptions = {}) {
    this.store = store;
    this.catalog = catalog;
    this.config = config;
    const size = options.cacheSize ?? Infinity;
    this.rankOnRead = options.rankOnRead === true;
    if (this.rankOnRead && size !== Infinity) throw new Error('Aggregator: rankOnRead needs the whole state in memory (no cacheSize)');
    this.users = new LruMap(size);
    this.cooc = new LruMap(size);
  }

  /** Loads the always-in-memory part of the state. */
  async start(): Promise<void> {
    this.users.clear();
    this.cooc.clear();
    this.unranked.clear();
    this.lists.clear();
    this.buyersTotal.clear();
    this.productsByDay.clear();
    this.windowCounts = new Map();
    this.countsDay = -1;
    this.snapshot = await this.store.loadSnapshot();
    for (const [productId, histogram] of this.snapshot.buyerDays) for (const day of histogram.keys()) this.indexDay(day, productId, true);
    for (const list of this.snapshot.bestSellers) this.lists.set(bestSellersKey(list.categoryId, list.windowDays), list);
    this.broken = false;
  }

  private state(): AggregateSnapshot {
    if (this.snapshot === undefined) throw new Error('Aggregator.start() has not been called');
    return this.snapshot;
  }

  /**
   * Applies a batch of events at time `now`. Per-user state ignores duplicates by itself, and
   * every product aggregate is a sum of per-user contributions, so an event applied before
   * changes nothing (the caller still filters redeliveries, which saves the work).
   */
  async apply(events: readonly TrackedEvent[], now: number, batchIds: readonly string[] = []): Promise<FlushResult> {
    if (this.broken) await this.start();
    // by eventKey: the same client eventId of two users is two events
    const unique = new Map<string, TrackedEvent>();
    for (const event of events) {
      const key = eventKey(event.userId, event.eventId);
      if (!unique.has(key)) unique.set(key, event);
    }
    if (unique.size === 0) {
      // nothing new, but the store still records that these batches are done
      if (batchIds.length > 0) await this.commit({ users: [], cooc: [], buyerDays: [], universe: undefined, bestSellers: [], eventIds: [], batchIds });
      return NO_CHANGE;
    }
    const started = performance.now();
    let loading = 0;

    const byUser = new Map<string, TrackedEvent[]>();
    for (const event of unique.values()) {
      let list = byUser.get(event.userId);
      if (list === undefined) byUser.set(event.userId, (list = []));
      list.push(event);
    }
    const loadingUsers = performance.now();
    await this.ensureUsers([...byUser.keys()]);
    loading += performance.now() - loadingUsers;

    const delta = new ContributionDelta();
    const changedUsers: UserState[] = [];
    for (const [userId, userEvents] of byUser) {
      const before = this.users.get(userId)!;
      const { state, changed } = mergeEvents(before, userEvents, this.config);
      if (!changed) continue;
      delta.add(this.contributionOf(before), this.contributionOf(state));
      this.users.set(userId, state);
      changedUsers.push(state);
    }

    const cooc = await this.applyCooc(delta, (ms) => (loading += ms));
    const buyerDays = this.applyBuyerDays(delta);
    const bestSellers = this.refreshBestSellers(now, new Set(buyerDays.map(([productId]) => productId)));
    const universe = delta.viewingUsers !== 0 || delta.buyingUsers !== 0 ? { ...this.state().universe } : undefined;

    const committing = performance.now();
    await this.commit({
      users: changedUsers,
      cooc,
      buyerDays,
      universe,
      bestSellers,
      eventIds: [...unique.keys()],
      batchIds,
    });
    this.timings.load = loading;
    this.timings.commit = performance.now() - committing;
    this.timings.compute = committing - started - loading;
    return { users: changedUsers, bestSellers, applied: unique.size };
  }

  /** Re-ranks every best-seller list at `now`: windows slide as days pass. */
  async refresh(now: number): Promise<FlushResult> {
    if (this.broken) await this.start();
    const bestSellers = this.refreshBestSellers(now, 'all');
    if (bestSellers.length === 0) return NO_CHANGE;
    await this.commit({ users: [], cooc: [], buyerDays: [], universe: undefined, bestSellers, eventIds: [] });
    return { users: [], bestSellers, applied: 0 };
  }

  private async commit(changes: FlushChanges): Promise<void> {
    try {
      await this.store.commit(changes);
    } catch (error) {
      // memory may now be ahead of the store: reload everything before the next batch
      this.broken = true;
      throw error;
    } finally {
      this.users.trim();
      this.cooc.trim();
    }
  }

  private contributionOf(state: UserState): Contribution {
    let contribution = this.contributions.get(state);
    if (contribution === undefined) this.contributions.set(state, (contribution = contributionOf(state, this.config)));
    return contribution;
  }

  private async ensureUsers(userIds: string[]): Promise<void> {
    const missing = userIds.filter((id) => !this.users.has(id));
    if (missing.length === 0) return;
    const loaded = await this.store.loadUsers(missing);
    for (const id of missing) this.users.set(id, loaded.get(id) ?? emptyUserState(id));
  }

  private async applyCooc(delta: ContributionDelta, onLoad?: (ms: number) => void): Promise<CoocChange[]> {
    const touched = new Map<string, TouchedCooc>();
    const touch = (kind: KindCode, productId: string): TouchedCooc => {
      const key = coocKey(kind, productId);
      let entry = touched.get(key);
      if (entry === undefined) touched.set(key, (entry = { kind, productId, pairs: new Set() }));
      return entry;
    };
    const sources = [
      ['v', delta.viewers, delta.coView],
      ['b', delta.buyers, delta.coBuy],
    ] as const;
    // in the order they are applied: per kind, the users' changes, then the pairs' (each pair both ways)
    const userChanges: [TouchedCooc, number][] = [];
    const pairChanges: [TouchedCooc, TouchedCooc, number][] = [];
    for (const [kind, users, pairs] of sources) {
      for (const [productId, change] of users) userChanges.push([touch(kind, productId), change]);
      for (const [pair, change] of pairs) {
        const [a, b] = splitPair(pair);
        const entryA = touch(kind, a);
        const entryB = touch(kind, b);
        if (change !== 0) pairChanges.push([entryA, entryB, change]);
      }
    }
    if (touched.size === 0) return [];

    const missing = [...touched.keys()].filter((key) => !this.cooc.has(key));
    if (missing.length > 0) {
      const started = performance.now();
      const loaded = await this.store.loadCooc(missing);
      onLoad?.(performance.now() - started);
      for (const key of missing) this.cooc.set(key, loaded.get(key) ?? emptyCooc());
    }
    for (const [key, entry] of touched) entry.cooc = this.cooc.peek(key)!;

    const snapshot = this.state();
    snapshot.universe.viewers += delta.viewingUsers;
    snapshot.universe.buyers += delta.buyingUsers;
    for (const [{ kind, productId, cooc }, change] of userChanges) {
      cooc!.users = Math.max(0, cooc!.users + change);
      snapshot.coocUsers[kind].set(productId, cooc!.users);
    }
    for (const [a, b, change] of pairChanges) {
      addToPair(a.cooc!, b.productId, change, this.config.maxPairsPerItem, a.pairs);
      addToPair(b.cooc!, a.productId, change, this.config.maxPairsPerItem, b.pairs);
    }

    const changes: CoocChange[] = [];
    for (const [key, { kind, productId }] of touched) {
      // read through the LRU: what a batch touched is the most recently used
      const entry = this.cooc.get(key)!;
      if (this.rankOnRead) this.unranked.add(key);
      else entry.top = this.rankNeighbours(kind, entry);
      changes.push({ kind, productId, users: entry.users, pairs: entry.pairs, top: entry.top });
    }
    return changes;
  }

  private rankNeighbours(kind: KindCode, entry: Cooc): Neighbour[] {
    const snapshot = this.state();
    const total = kind === 'v' ? snapshot.universe.viewers : snapshot.universe.buyers;
    const users = snapshot.coocUsers[kind];
    return topNeighbours(
      entry,
      (other) => users.get(other) ?? 0,
      total,
      this.config.neighboursPerItem,
      (other) => this.catalog.product(other) !== undefined,
    );
  }

  private applyBuyerDays(delta: ContributionDelta): FlushChanges['buyerDays'] {
    const snapshot = this.state();
    const changes: [string, [number, number][], number][] = [];
    const products = new Set([...delta.buyerDays.keys(), ...delta.rebuyers.keys()]);
    for (const productId of products) {
      let histogram = snapshot.buyerDays.get(productId);
      if (histogram === undefined) snapshot.buyerDays.set(productId, (histogram = new Map()));
      let changed = false;
      for (const [day, change] of delta.buyerDays.get(productId) ?? []) {
        if (change === 0) continue;
        const before = histogram.get(day) ?? 0;
        const next = Math.max(0, before + change);
        if (next === 0) {
          histogram.delete(day);
          this.indexDay(day, productId, false);
        } else {
          histogram.set(day, next);
          this.indexDay(day, productId, true);
        }
        changed = true;
        if (next !== before) this.countBuyers(productId, day, next - before);
      }
      const rebuyersChange = delta.rebuyers.get(productId) ?? 0;
      const rebuyers = Math.max(0, (snapshot.rebuyers.get(productId) ?? 0) + rebuyersChange);
      if (rebuyersChange !== 0) {
        if (rebuyers === 0) snapshot.rebuyers.delete(productId);
        else snapshot.rebuyers.set(productId, rebuyers);
      }
      if (changed || rebuyersChange !== 0) changes.push([productId, [...histogram], rebuyers]);
    }
    return changes;
  }

  private indexDay(day: number, productId: string, holds: boolean): void {
    let products = this.productsByDay.get(day);
    if (holds) {
      if (products === undefined) this.productsByDay.set(day, (products = new Set()));
      products.add(productId);
    } else if (products !== undefined) {
      products.delete(productId);
      if (products.size === 0) this.productsByDay.delete(day);
    }
  }

  /** `change` more buyers of the product on `day`: into its total, when known, and the windows holding that day. */
  private countBuyers(productId: string, day: number, change: number): void {
    const total = this.buyersTotal.get(productId);
    if (total !== undefined) this.buyersTotal.set(productId, total + change);
    if (this.countsDay < 0 || day > this.countsDay) return;
    for (const [windowDays, counts] of this.windowCounts) {
      if (day > this.countsDay - windowDays) addCount(counts, productId, change);
    }
  }

  /**
   * Moves the materialized windows' counts to end on `today`. A later day slides each window:
   * only the products bought on the days it loses or gains are read. The first time, or when the
   * day goes back, they are counted afresh from every product's buyer days.
   */
  private windowCountsFor(today: number): void {
    const from = this.countsDay;
    if (today === from) return;
    this.countsDay = today;
    const { buyerDays } = this.state();
    if (from >= 0 && today > from && this.windowCounts.size === this.config.bestSellerWindows.length) {
      const slide = (counts: Map<string, number>, day: number, sign: 1 | -1) => {
        for (const productId of this.productsByDay.get(day) ?? []) addCount(counts, productId, sign * (buyerDays.get(productId)?.get(day) ?? 0));
      };
      for (const [windowDays, counts] of this.windowCounts) {
        // the days that left the window, then those that entered it
        for (let day = from - windowDays + 1; day <= Math.min(from, today - windowDays); day++) slide(counts, day, -1);
        for (let day = Math.max(from + 1, today - windowDays + 1); day <= today; day++) slide(counts, day, 1);
      }
      return;
    }
    this.windowCounts = new Map();
    for (const windowDays of this.config.bestSellerWindows) {
      const counts = new Map<string, number>();
      for (const [productId, histogram] of buyerDays) {
        const buyers = buyersInWindow(histogram, today, windowDays);
        if (buyers > 0) counts.set(productId, buyers);
      }
      this.windowCounts.set(windowDays, counts);
    }
  }

  private refreshBestSellers(now: number, productsChanged: Set<string> | 'all'): BestSellersList[] {
    const today = dayOf(now);
    const dayChanged = today !== this.countsDay;
    this.windowCountsFor(today);
    let categories: (string | null)[];
    if (productsChanged === 'all' || dayChanged) {
      categories = [null, ...this.catalog.categories()];
    } else {
      if (productsChanged.size === 0) return [];
      const affected = new Set<string | null>([null]);
      for (const productId of productsChanged) {
        const categoryId = this.catalog.product(productId)?.categoryId;
        if (categoryId !== undefined) affected.add(categoryId);
      }
      categories = [...affected];
    }
    const changes: BestSellersList[] = [];
    for (const windowDays of this.config.bestSellerWindows) {
      const counts = this.windowCounts.get(windowDays)!;
      // the same day and a few products changed: their places move, the rest of each ranking stands
      const ranked = new Map<string | null, readonly Ranked[]>();
      if (productsChanged !== 'all' && !dayChanged) {
        for (const categoryId of categories) {
          const moved = this.rerank(this.lists.get(bestSellersKey(categoryId, windowDays))?.items, counts, productsChanged, categoryId);
          if (moved !== undefined) ranked.set(categoryId, moved);
        }
      }
      const rest = categories.filter((categoryId) => !ranked.has(categoryId));
      if (rest.length > 0) for (const [categoryId, items] of this.rankFromCounts(counts, new Set(rest))) ranked.set(categoryId, items);
      for (const categoryId of categories) {
        const items = ranked.get(categoryId) ?? [];
        const key = bestSellersKey(categoryId, windowDays);
        const previous = this.lists.get(key);
        if (previous !== undefined && sameRanking(previous.items, items)) continue;
        if (previous === undefined && items.length === 0) continue;
        const list: BestSellersList = { categoryId, windowDays, items, changedAt: now };
        this.lists.set(key, list);
        changes.push(list);
      }
    }
    return changes;
  }

  /**
   * A category's ranking (null: the whole catalog) after the counts of `changed` products moved,
   * from its ranking before: the changed ones taken out and put back at their new count, the rest
   * where they were. Equal to ranking every count afresh, except when a full ranking (at
   * bestSellersSize) lost ground on a product it holds, which a product outside it may now pass:
   * undefined then (and without a ranking before), for rankFromCounts.
   */
  private rerank(
    previous: readonly Ranked[] | undefined,
    counts: Map<string, number>,
    changed: ReadonlySet<string>,
    categoryId: string | null,
  ): Ranked[] | undefined {
    if (previous === undefined) return undefined;
    const size = this.config.bestSellersSize;
    // not full: it held every product of the category with a buyer in the window
    const full = previous.length >= size;
    const kept: Ranked[] = [];
    for (const entry of previous) {
      if (!changed.has(entry[0])) kept.push(entry);
      else if (full && (counts.get(entry[0]) ?? 0) < entry[1]) return undefined;
    }
    const placed: Ranked[] = [];
    for (const productId of changed) {
      const buyers = counts.get(productId) ?? 0;
      if (buyers <= 0) continue;
      const product = this.catalog.product(productId);
      if (product === undefined || (categoryId !== null && product.categoryId !== categoryId)) continue;
      placed.push([productId, buyers]);
    }
    if (placed.length === 0) return kept.slice(0, size);
    placed.sort(byBuyersThenId);
    const merged: Ranked[] = [];
    for (let i = 0, j = 0; merged.length < size && (i < kept.length || j < placed.length); ) {
      if (j >= placed.length || (i < kept.length && byBuyersThenId(kept[i]!, placed[j]!) <= 0)) merged.push(kept[i++]!);
      else merged.push(placed[j++]!);
    }
    return merged;
  }

  /** The rankings of the given categories (null: the whole catalog), in one pass over the counts. */
  private rankFromCounts(counts: Map<string, number>, categories: ReadonlySet<string | null>): Map<string | null, Ranked[]> {
    const ranked = new Map<string | null, [string, number][]>();
    for (const categoryId of categories) ranked.set(categoryId, []);
    const overall = ranked.get(null);
    for (const [productId, buyers] of counts) {
      const product = this.catalog.product(productId);
      if (product === undefined) continue;
      overall?.push([productId, buyers]);
      if (product.categoryId !== undefined) ranked.get(product.categoryId)?.push([productId, buyers]);
    }
    for (const [categoryId, items] of ranked) {
      items.sort(byBuyersThenId);
      ranked.set(categoryId, items.slice(0, this.config.bestSellersSize));
    }
    return ranked;
  }

  // --- reading (ReadModel): what is in memory ---

  userState(userId: string): UserState | undefined {
    return this.users.peek(userId);
  }

  neighbours(productId: string, kind: SimilarityKind): readonly Neighbour[] {
    return this.coocOf(KIND_CODE[kind], productId)?.top ?? [];
  }

  /** Co-occurrence entry in memory, its neighbours ranked (tests and diagnostics). */
  coocOf(kind: KindCode, productId: string): Cooc | undefined {
    const key = coocKey(kind, productId);
    const entry = this.cooc.peek(key);
    return entry === undefined ? undefined : this.ranked(key, kind, entry);
  }

  /** With rankOnRead: entries whose neighbours wait to be ranked (diagnostics). */
  get pendingRanks(): number {
    return this.unranked.size;
  }

  /** The entry, its neighbours ranked now if they wait to be (rankOnRead). */
  private ranked(key: string, kind: KindCode, entry: Cooc): Cooc {
    if (this.unranked.delete(key)) entry.top = this.rankNeighbours(kind, entry);
    return entry;
  }

  productBuyers(productId: string): ProductBuyers {
    const snapshot = this.state();
    const days = snapshot.buyerDays.get(productId);
    if (days === undefined) return NO_BUYERS;
    let total = this.buyersTotal.get(productId);
    if (total === undefined) {
      total = 0;
      for (const count of days.values()) total += count;
      this.buyersTotal.set(productId, total);
    }
    return { total, repeat: Math.min(total, snapshot.rebuyers.get(productId) ?? 0), days };
  }

  buyerDaysOf(productId: string): BuyerDays | undefined {
    return this.state().buyerDays.get(productId);
  }

  /** Everything held in memory (all of it for an aggregator over a MemoryStore). */
  *dump(): Generator<
    { kind: 'user'; state: UserState } | { kind: 'cooc'; key: string; cooc: Cooc } | { kind: 'buyerDays'; productId: string; days: BuyerDays; rebuyers: number }
  > {
    for (const [, state] of this.users.entries()) yield { kind: 'user', state };
    for (const [key, cooc] of this.cooc.entries()) yield { kind: 'cooc', key, cooc: this.ranked(key, kindOfCoocKey(key), cooc) };
    const { buyerDays, rebuyers } = this.state();
    for (const [productId, days] of buyerDays) yield { kind: 'buyerDays', productId, days, rebuyers: rebuyers.get(productId) ?? 0 };
  }

  get universe(): { viewers: number; buyers: number } {
    return { ...this.state().universe };
  }

  bestSellers(categoryId: string | null, windowDays: number): readonly Ranked[] {
    const list = this.lists.get(bestSellersKey(categoryId, windowDays));
    if (list !== undefined) return list.items;
    if (this.config.bestSellerWindows.includes(windowDays)) return [];
    return rankBestSellers(
      this.catalog.productsIn(categoryId),
      (id) => this.state().buyerDays.get(id),
      this.countsDay,
      windowDays,
      this.config.bestSellersSize,
    );
  }
}
