import { buyersInWindow, type ProductBuyers } from './bestSellers.ts';
import type { CatalogView } from './catalog.ts';
import type { EngineConfig } from './config.ts';
import { EVENT_TYPES, TYPE_OF_CODE } from './eventTypes.ts';
import { NEIGHBOUR_KINDS, readsFor, weighsRepeat, withinReads, type ReadModel } from './reads.ts';
import { roundScore } from './similarity.ts';
import { DAY_MS, dayOf, decay } from './time.ts';
import type { UserState } from './userState.ts';

export type RecommendationStrategy = 'PERSONALIZED' | 'BEST_SELLERS';

export interface RecommendationItem {
  readonly productId: string;
  readonly score: number;
  /** Machine-readable: BUY_AGAIN, ALSO_BOUGHT:<productId>, ALSO_VIEWED:<productId>, TOP_IN_CATEGORY:<categoryId>, POPULAR */
  readonly reasons: readonly string[];
}

export interface Recommendations {
  readonly items: readonly RecommendationItem[];
  readonly strategy: RecommendationStrategy;
}

/** Products a user removed from their history (when), and when they cleared it. */
export interface HiddenHistory {
  readonly removed: ReadonlyMap<string, number>;
  readonly clearedAt?: number;
}

export const NOTHING_HIDDEN: HiddenHistory = { removed: new Map() };

/** What a user removed from their history, as their state records it. */
export function hiddenOf(state: UserState | undefined): HiddenHistory {
  if (state === undefined) return NOTHING_HIDDEN;
  return state.clearedAt > 0 ? { removed: state.hidden, clearedAt: state.clearedAt } : { removed: state.hidden };
}

/** True when an interaction at `at` with the product was removed from the user's history. */
export function isHidden(hidden: HiddenHistory, productId: string, at: number): boolean {
  if (hidden.clearedAt !== undefined && at <= hidden.clearedAt) return true;
  const removedAt = hidden.removed.get(productId);
  return removedAt !== undefined && at <= removedAt;
}

export interface RecommendInput {
  readonly state: UserState | undefined;
  /** userSignals() of the same inputs, when the caller computed them already. */
  readonly signals?: UserSignals;
  readonly hidden: HiddenHistory;
  readonly now: number;
  readonly catalog: CatalogView;
  readonly read: ReadModel;
  readonly config: EngineConfig;
}

type Source = 'repeat' | 'alsoBought' | 'alsoViewed' | 'category' | 'popular';

export class Scores {
  readonly values = new Map<string, number>();
  readonly reason = new Map<string, [string, number]>();
  max = 0;
  add(productId: string, value: number, reason: string): void {
    if (!(value > 0)) return;
    const total = (this.values.get(productId) ?? 0) + value;
    this.values.set(productId, total);
    this.max = Math.max(this.max, total);
    const best = this.reason.get(productId);
    if (best === undefined || value > best[1]) this.reason.set(productId, [reason, value]);
  }
  normalized(productId: string): number {
    return this.max > 0 ? (this.values.get(productId) ?? 0) / this.max : 0;
  }
}

/** What a user's history says, before any product-level data is read. */
export interface UserSignals {
  /** Interest per product: event weights decayed with age. */
  readonly interest: ReadonlyMap<string, number>;
  readonly repeat: Scores;
  /** 1: in the cart now; 0: taken out or bought since. */
  readonly cart: ReadonlyMap<string, number>;
  /** The products whose neighbours become candidates, strongest first, with their weight. */
  readonly anchors: readonly (readonly [string, number])[];
  /** The categories whose best sellers become candidates, strongest first, with their affinity. */
  readonly categories: readonly (readonly [string, number])[];
}

/** The signals of a user's history (a pure function of the state, the hidden history and the time). */
export function userSignals(state: UserState | undefined, hidden: HiddenHistory, now: number, catalog: CatalogView, config: EngineConfig): UserSignals {
  const interest = new Map<string, number>();
  const repeat = new Scores();
  const cart = new Map<string, number>();
  for (const [, productId, code, at] of state?.events ?? []) {
    if (isHidden(hidden, productId, at)) continue;
    const type = TYPE_OF_CODE.get(code);
    if (type === undefined) continue;
    interest.set(productId, (interest.get(productId) ?? 0) + config.weights[type] * decay(now - at, config.affinityHalfLifeDays));
    const { cartEffect } = EVENT_TYPES[type];
    if (cartEffect !== 'none' && !cart.has(productId)) cart.set(productId, cartEffect === 'in' ? 1 : 0);
  }
  // every day a product was bought on pulls towards buying it again: how often, and how lately
  const pulls: [string, number][] = [];
  for (const [productId, days] of state?.purchaseDays ?? []) {
    const visible = days.filter((day) => !isHidden(hidden, productId, day * DAY_MS));
    let pull = 0;
    for (const day of visible) pull += decay(now - day * DAY_MS, config.repeatHalfLifeDays);
    pull *= dueFactor(visible, now, config);
    if (pull > 0) pulls.push([productId, pull]);
  }
  if (pulls.length > config.repeatCandidates) pulls.sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)).length = config.repeatCandidates;
  for (const [productId, pull] of pulls) repeat.add(productId, pull, 'BUY_AGAIN');

  const weights = new Map<string, number>();
  for (const [productId, value] of interest) if (value > 0) weights.set(productId, value);
  for (const [productId, value] of repeat.values) weights.set(productId, (interest.get(productId) ?? 0) + value);
  const anchors = [...weights].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)).slice(0, config.anchors);

  const affinity = new Map<string, number>();
  for (const [productId, value] of interest) {
    const categoryId = catalog.product(productId)?.categoryId;
    if (categoryId !== undefined) affinity.set(categoryId, (affinity.get(categoryId) ?? 0) + value);
  }
  const categories = [...affinity]
    .filter(([, value]) => value > 0)
    .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))
    .slice(0, config.topCategories);
  return { interest, repeat, cart, anchors, categories };
}

/**
 * A user's ranked list. Candidates come from five sources, each normalized to [0, 1] and blended
 * with `config.blend`: buying again what they bought (frequency with recency decay), products
 * bought / viewed together with what they interacted with (LLR neighbours, weighted by interest),
 * best sellers of their favourite categories, and overall best sellers to fill. Products not in
 * the catalog, out of stock, removed from the user's history or sitting in their cart are left out.
 * A user with no usable history gets the overall best sellers (strategy BEST_SELLERS).
 * It reads what readsFor(signals) lists and nothing else (so a caller can load exactly that
 * first); a read outside it throws ReadOutsideContract.
 */
export function recommend(input: RecommendInput): Recommendations {
  const { state, hidden, now, catalog, config } = input;
  const signals = input.signals ?? userSignals(state, hidden, now, catalog, config);
  const read = withinReads(input.read, readsFor([signals], config));
  const { interest, cart } = signals;
  const repeat = weighRepeat(signals.repeat, now, read, config);
  const sources: Record<Source, Scores> = {
    repeat,
    alsoBought: new Scores(),
    alsoViewed: new Scores(),
    category: new Scores(),
    popular: new Scores(),
  };

  const neighbourScores = { ALSO_BOUGHT: sources.alsoBought, ALSO_VIEWED: sources.alsoViewed } as const;
  for (const [anchor, weight] of signals.anchors) {
    for (const kind of NEIGHBOUR_KINDS) {
      const neighbours = read.neighbours(anchor, kind);
      const best = neighbours[0]?.[1] ?? 0;
      if (best <= 0) continue;
      for (const [other, score] of neighbours) neighbourScores[kind].add(other, (weight * score) / best, `${kind}:${anchor}`);
    }
  }

  const strongest = signals.categories[0]?.[1] ?? 0;
  for (const [categoryId, value] of signals.categories) {
    const ranked = read.bestSellers(categoryId, config.listWindowDays);
    const top = ranked[0]?.[1] ?? 0;
    for (const [productId, buyers] of ranked) {
      sources.category.add(productId, ((value / strongest) * buyers) / top, `TOP_IN_CATEGORY:${categoryId}`);
    }
  }

  const popular = read.bestSellers(null, config.listWindowDays);
  const mostPopular = popular[0]?.[1] ?? 0;
  for (const [productId, buyers] of popular) sources.popular.add(productId, buyers / mostPopular, 'POPULAR');

  const personalized = interest.size > 0 || repeat.values.size > 0;
  const candidates = new Set<string>();
  for (const scores of Object.values(sources)) for (const productId of scores.values.keys()) candidates.add(productId);

  const items: RecommendationItem[] = [];
  for (const productId of candidates) {
    const product = catalog.product(productId);
    if (product === undefined || !product.inStock || cart.get(productId) === 1) continue;
    if (hidden.removed.has(productId) && !hasInteractionAfter(state, productId, hidden.removed.get(productId)!)) continue;
    let score = 0;
    const reasons: [string, number][] = [];
    for (const source of Object.keys(sources) as Source[]) {
      const part = config.blend[source] * sources[source].normalized(productId);
      if (part <= 0) continue;
      score += part;
      reasons.push([sources[source].reason.get(productId)![0], part]);
    }
    if (score <= 0) continue;
    reasons.sort((a, b) => b[1] - a[1]);
    items.push({ productId, score: roundScore(score), reasons: reasons.map(([reason]) => reason) });
  }
  items.sort((a, b) => b.score - a.score || (a.productId < b.productId ? -1 : 1));
  return { items: items.slice(0, config.listSize), strategy: personalized ? 'PERSONALIZED' : 'BEST_SELLERS' };
}

/**
 * What the product says about buying it again, on top of what the user's own history says: a
 * product many of its buyers bought again (consumables) pulls harder than a one-off, and one
 * that its buyers no longer buy (discontinued, out of season) pulls less.
 */
export function repeatFactor(buyers: ProductBuyers, today: number, config: EngineConfig): number {
  const { rate, weight } = config.repurchasePrior;
  const repurchaseRate = buyers.total + weight > 0 ? (buyers.repeat + weight * rate) / (buyers.total + weight) : 0;
  const recent = buyersInWindow(buyers.days, today, config.demandWindowDays);
  const demand = config.demandExponent > 0 ? ((recent + 1) / (buyers.total + 1)) ** config.demandExponent : 1;
  return (1 + config.repurchaseBoost * repurchaseRate) * demand;
}

/**
 * How due a product the user buys on a cycle is: bought on `days` (newest first) at an average
 * interval of I days and last bought S days ago, it pulls times min(1, (S + 1) / (I + 1)) ^
 * dueExponent, so what they restocked last week waits while what they buy monthly comes round.
 * A product bought on one day only has no cycle and is not weighed.
 */
export function dueFactor(days: readonly number[], now: number, config: EngineConfig): number {
  if (config.dueExponent <= 0 || days.length < 2) return 1;
  const interval = (days[0]! - days[days.length - 1]!) / (days.length - 1);
  const since = Math.max(0, now / DAY_MS - days[0]!);
  return Math.min(1, (since + 1) / (interval + 1)) ** config.dueExponent;
}

function weighRepeat(repeat: Scores, now: number, read: ReadModel, config: EngineConfig): Scores {
  if (!weighsRepeat(config)) return repeat;
  const today = dayOf(now);
  const weighed = new Scores();
  for (const [productId, pull] of repeat.values) weighed.add(productId, pull * repeatFactor(read.productBuyers(productId), today, config), 'BUY_AGAIN');
  return weighed;
}

function hasInteractionAfter(state: UserState | undefined, productId: string, after: number): boolean {
  return state?.events.some(([, id, , at]) => id === productId && at > after) ?? false;
}

/**
 * Whether two lists show the same thing: the same products, in the same order, for the same
 * reasons. Scores are left out: interest decays with time, so scores drift on every
 * recomputation, and a drift that changes nothing a shopper sees is not worth announcing.
 */
export function sameItems(a: readonly RecommendationItem[], b: readonly RecommendationItem[]): boolean {
  return (
    a.length === b.length &&
    a.every((item, i) => {
      const other = b[i]!;
      return item.productId === other.productId && item.reasons.join() === other.reasons.join();
    })
  );
}
