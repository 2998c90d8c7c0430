import { buyersInWindow, type ProductBuyers } from '../bestSellers.ts';
import type { CatalogView } from '../catalog.ts';
import type { EngineConfig } from '../config.ts';
import { EVENT_TYPE_NAMES, TYPE_OF_CODE, type EventType } from '../eventTypes.ts';
import { NEIGHBOUR_KINDS, NO_READS, type ListReads, type ReadModel } from '../reads.ts';
import {
  hiddenOf,
  isHidden,
  recommend,
  Scores,
  userSignals,
  type HiddenHistory,
  type RecommendationItem,
  type RecommendationStrategy,
  type UserSignals,
} from '../recommend.ts';
import { DAY_MS, dayOf } from '../time.ts';
import type { UserState } from '../userState.ts';

/** What the ranker reads to build a user's candidates and their features. */
export interface RankerInput {
  readonly state: UserState | undefined;
  readonly now: number;
  readonly catalog: CatalogView;
  readonly read: ReadModel;
  readonly config: EngineConfig;
  /** The product's unit price (the latest known), when there is one. */
  readonly price?: (productId: string) => number | undefined;
  /** Candidates taken from the blended list (default RANKER_CANDIDATES.blended). */
  readonly blended?: number;
  /** The user's own products added by how often and how lately they bought them (default RANKER_CANDIDATES.own). */
  readonly own?: number;
  /** The user's signals and hidden history at `now`, when the caller computed them already (list building does). */
  readonly signals?: UserSignals;
  readonly hidden?: HiddenHistory;
}

export const RANKER_CANDIDATES = { blended: 80, own: 40 } as const;

/** What is known of one user at `now`, shared by all their candidates' features. */
export interface UserContext {
  readonly input: RankerInput;
  readonly signals: UserSignals;
  readonly hidden: HiddenHistory;
  readonly today: number;
  /** The user's distinct purchase days (any product) and the latest. */
  readonly purchaseDays: number;
  readonly lastPurchaseDay: number | undefined;
  readonly productsBought: number;
  /** Per product, how many of the user's kept events are of each type. */
  readonly eventCounts: ReadonlyMap<string, Readonly<Record<EventType, number>>>;
  /** Per category, the user's interest in it (the sum over its products), and the strongest. */
  readonly categoryInterest: ReadonlyMap<string, number>;
  readonly strongestCategory: number;
  /** Rank (0-based) of each product in the 30-day best sellers of the whole catalog. */
  readonly popularRank: ReadonlyMap<string, number>;
  /** The neighbour and category sources as recommend() scores them, each normalized to [0, 1]. */
  readonly alsoBought: Scores;
  readonly alsoViewed: Scores;
  readonly categoryTop: Scores;
}

/** One candidate: recommend()'s blended score for it, and its 0-based position in that list. */
export interface Candidate {
  readonly productId: string;
  readonly blended: number;
  readonly blendedRank: number;
}

/** Distinct buyers of the product in the `days` ending `today`. */
export function buyersIn(buyers: ProductBuyers, today: number, days: number): number {
  return buyersInWindow(buyers.days, today, days);
}

/** What is known of the user at `input.now`, shared by all their candidates' features. */
export function rankerContext(input: RankerInput, signals: UserSignals, hidden: HiddenHistory): UserContext {
  const { state, now, catalog, read } = input;
  const days = new Set<number>();
  let productsBought = 0;
  for (const [productId, bought] of state?.purchaseDays ?? []) {
    const visible = bought.filter((day) => !isHidden(hidden, productId, day * DAY_MS));
    if (visible.length > 0) productsBought++;
    for (const day of visible) days.add(day);
  }
  const eventCounts = new Map<string, Record<EventType, number>>();
  for (const [, productId, code, at] of state?.events ?? []) {
    const type = TYPE_OF_CODE.get(code);
    if (type === undefined || isHidden(hidden, productId, at)) continue;
    let counts = eventCounts.get(productId);
    if (counts === undefined) eventCounts.set(productId, (counts = Object.fromEntries(EVENT_TYPE_NAMES.map((name) => [name, 0])) as Record<EventType, number>));
    counts[type]++;
  }
  const categoryInterest = new Map<string, number>();
  for (const [productId, value] of signals.interest) {
    const categoryId = catalog.product(productId)?.categoryId;
    if (categoryId !== undefined) categoryInterest.set(categoryId, (categoryInterest.get(categoryId) ?? 0) + value);
  }
  const popularRank = new Map(read.bestSellers(null, POPULAR_RANK_WINDOW_DAYS).map(([productId], rank) => [productId, rank]));
  const alsoBought = new Scores();
  const alsoViewed = new Scores();
  const neighbourScores = { ALSO_BOUGHT: alsoBought, ALSO_VIEWED: alsoViewed } as const;
  for (const [anchor, weight] of signals.anchors) {
    for (const kind of NEIGHBOUR_KINDS) {
      const neighbours = read.neighbours(anchor, kind);
      const best = neighbours[0]?.[1] ?? 0;
      if (best > 0) for (const [other, score] of neighbours) neighbourScores[kind].add(other, (weight * score) / best, kind);
    }
  }
  const categoryTop = new Scores();
  const strongest = signals.categories[0]?.[1] ?? 0;
  for (const [categoryId, value] of signals.categories) {
    const ranked = read.bestSellers(categoryId, input.config.listWindowDays);
    const top = ranked[0]?.[1] ?? 0;
    for (const [productId, buyers] of ranked) categoryTop.add(productId, ((value / strongest) * buyers) / top, categoryId);
  }
  return {
    input,
    signals,
    hidden,
    today: dayOf(now),
    purchaseDays: days.size,
    lastPurchaseDay: days.size === 0 ? undefined : Math.max(...days),
    productsBought,
    eventCounts,
    categoryInterest,
    strongestCategory: Math.max(0, ...categoryInterest.values()),
    popularRank,
    alsoBought,
    alsoViewed,
    categoryTop,
  };
}

/** A user's candidates, and what recommend() made of them on the way (its whole list, in order). */
export interface CandidateList {
  readonly signals: UserSignals;
  readonly hidden: HiddenHistory;
  /** recommend()'s list without a length limit; its first `config.listSize` are the blend's served list. */
  readonly items: readonly RecommendationItem[];
  readonly strategy: RecommendationStrategy;
  readonly candidates: readonly Candidate[];
}

/**
 * A user's candidates at `now`, from the sources recommend() blends (buying again, co-purchase
 * and co-view neighbours of their anchors, best sellers of their categories and overall): the
 * first `blended` of recommend()'s list (its filters apply: in the catalog and in stock, not in
 * the cart, not removed from the history), then their own products among it by how often and how
 * lately they bought them, up to `own` more. Reads only what recommend() reads (readsFor); the
 * features read more (rankerReads).
 */
export function candidateList(input: RankerInput): CandidateList {
  const { state, now, catalog, read, config } = input;
  const hidden = input.hidden ?? hiddenOf(state);
  const signals = input.signals ?? userSignals(state, hidden, now, catalog, config);
  const { items, strategy } = recommend({ state, signals, hidden, now, catalog, read, config: { ...config, listSize: Number.MAX_SAFE_INTEGER } });
  const blended = input.blended ?? RANKER_CANDIDATES.blended;
  const own = input.own ?? RANKER_CANDIDATES.own;
  const chosen = new Set<number>();
  for (let i = 0; i < Math.min(blended, items.length); i++) chosen.add(i);
  const ownRanked = items
    .map((item, i) => [i, signals.repeat.values.get(item.productId) ?? 0] as const)
    .filter(([i, pull]) => pull > 0 && !chosen.has(i))
    .sort((a, b) => b[1] - a[1] || a[0] - b[0])
    .slice(0, own);
  for (const [i] of ownRanked) chosen.add(i);
  const candidates = [...chosen]
    .sort((a, b) => a - b)
    .map((i): Candidate => {
      const item = items[i]!;
      return { productId: item.productId, blended: item.score, blendedRank: i };
    });
  return { signals, hidden, items, strategy, candidates };
}

/** The window of the catalog's best sellers the features rank products in (popular_rank). */
export const POPULAR_RANK_WINDOW_DAYS = 30;

/**
 * What the features read beyond recommend() (readsFor): the buyers of every candidate and the
 * catalog's best sellers at POPULAR_RANK_WINDOW_DAYS. A list worker that does not lead
 * aggregation loads these after the candidates are known.
 */
export function rankerReads(candidates: Iterable<string>): ListReads {
  return { ...NO_READS, productBuyers: new Set(candidates), bestSellers: new Map([[POPULAR_RANK_WINDOW_DAYS, new Set([null])]]) };
}

/** A user's candidates and the context their features are computed in (candidateList, then rankerContext). */
export function rankerCandidates(input: RankerInput): { user: UserContext; candidates: readonly Candidate[] } {
  const list = candidateList(input);
  return { user: rankerContext(input, list.signals, list.hidden), candidates: list.candidates };
}
