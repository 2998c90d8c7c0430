import { roundScore } from './similarity.ts';

/** A product and its rank score (distinct buyers in the window for best sellers). */
export type Ranked = readonly [productId: string, score: number];

/**
 * Per product, day -> number of distinct users whose latest purchase of it fell on that day.
 * The distinct buyers in a trailing window are then an exact sum: a user counts once, on the
 * day of their latest purchase, and stops counting when that day leaves the window.
 */
export type BuyerDays = Map<number, number>;

/** Distinct buyers whose latest purchase falls in the `windowDays` days ending `today`. */
export function buyersInWindow(days: ReadonlyMap<number, number> | undefined, today: number, windowDays: number): number {
  if (days === undefined) return 0;
  const from = today - windowDays + 1;
  let total = 0;
  for (const [day, count] of days) if (day >= from && day <= today) total += count;
  return total;
}

/** What a product's buyers did, for weighing a customer's past purchase of it. */
export interface ProductBuyers {
  /** Distinct buyers, ever. */
  readonly total: number;
  /** Buyers who bought it on more than one day. */
  readonly repeat: number;
  /** Day -> buyers whose latest purchase of it fell on that day (see BuyerDays). */
  readonly days: ReadonlyMap<number, number>;
}

export const NO_BUYERS: ProductBuyers = { total: 0, repeat: 0, days: new Map() };

/** Products ranked by distinct buyers in the window, ties by id; products with none left out. */
export function rankBestSellers(
  productIds: Iterable<string>,
  buyerDaysOf: (productId: string) => ReadonlyMap<number, number> | undefined,
  today: number,
  windowDays: number,
  limit: number,
): Ranked[] {
  const ranked: Ranked[] = [];
  for (const productId of productIds) {
    const buyers = buyersInWindow(buyerDaysOf(productId), today, windowDays);
    if (buyers > 0) ranked.push([productId, buyers]);
  }
  ranked.sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1));
  return ranked.slice(0, limit).map(([id, score]) => [id, roundScore(score)] as const);
}

export function sameRanking(a: readonly Ranked[], b: readonly Ranked[]): boolean {
  return a.length === b.length && a.every((item, i) => item[0] === b[i]![0] && item[1] === b[i]![1]);
}

/** One ranking asked for: a category's (null: the whole catalog) best sellers over a window. */
export interface RankingRequest {
  readonly categoryId: string | null;
  readonly windowDays: number;
}

/** The best `limit` of a growing list, trimmed now and then rather than sorted at every push. */
class TopRanked {
  private items: [string, number][] = [];
  private readonly limit: number;

  constructor(limit: number) {
    this.limit = limit;
  }

  push(productId: string, buyers: number): void {
    this.items.push([productId, buyers]);
    if (this.items.length >= 2 * this.limit + 64) this.trim();
  }

  private trim(): void {
    this.items.sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1));
    this.items.length = Math.min(this.items.length, this.limit);
  }

  result(): Ranked[] {
    this.trim();
    return this.items.map(([id, score]) => [id, roundScore(score)] as const);
  }
}

/**
 * Any number of rankings (categories × windows, as rankBestSellers gives each) in one pass over
 * the products: each product's buyer days are summed once into every window asked for, so
 * asking for thirty windows costs one read of the catalog's buyer days, not thirty.
 */
export class WindowRanker {
  private readonly today: number;
  /** The distinct windows asked for, ascending. */
  private readonly windows: number[];
  /** Per category (null: every product), the requests it serves: [index into windows, its ranking]. */
  private readonly targets = new Map<string | null, [number, TopRanked][]>();
  private readonly rankings: TopRanked[];
  /** Per window, the buyers of the product being added. */
  private readonly buyers: Float64Array;

  constructor(requests: readonly RankingRequest[], today: number, limit: number) {
    this.today = today;
    this.windows = [...new Set(requests.map((r) => r.windowDays))].sort((a, b) => a - b);
    this.buyers = new Float64Array(this.windows.length);
    this.rankings = requests.map((request) => {
      const ranking = new TopRanked(limit);
      let targets = this.targets.get(request.categoryId);
      if (targets === undefined) this.targets.set(request.categoryId, (targets = []));
      targets.push([this.windows.indexOf(request.windowDays), ranking]);
      return ranking;
    });
  }

  /** Counts a product of category `categoryId` with its buyer days (see BuyerDays). */
  add(productId: string, categoryId: string | undefined, days: ReadonlyMap<number, number> | undefined): void {
    if (days === undefined || days.size === 0) return;
    const overall = this.targets.get(null);
    const inCategory = categoryId === undefined ? undefined : this.targets.get(categoryId);
    if (overall === undefined && inCategory === undefined) return;
    // buyers[i] first holds those whose day is in window i but not in any shorter one, then the running sum
    const { buyers, windows } = this;
    buyers.fill(0);
    for (const [day, count] of days) {
      const age = this.today - day;
      if (age < 0) continue;
      // the shortest window holding this day: the first with windowDays > age
      let lo = 0;
      let hi = windows.length;
      while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        if (windows[mid]! > age) hi = mid;
        else lo = mid + 1;
      }
      if (lo < windows.length) buyers[lo]! += count;
    }
    for (let i = 1; i < buyers.length; i++) buyers[i]! += buyers[i - 1]!;
    for (const targets of [overall, inCategory]) {
      if (targets === undefined) continue;
      for (const [window, ranking] of targets) if (buyers[window]! > 0) ranking.push(productId, buyers[window]!);
    }
  }

  /** The rankings, in the order of the requests. */
  results(): Ranked[][] {
    return this.rankings.map((ranking) => ranking.result());
  }
}
