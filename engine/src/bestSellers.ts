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
