import type { EngineConfig } from './config.ts';
import { codesWhere } from './eventTypes.ts';
import { lastPurchaseDay, type RingEvent, type UserState } from './userState.ts';

/** Separates the two product ids of a pair key; ids never contain control characters. */
const PAIR_SEPARATOR = '\u0000';

/** The key of an unordered pair: the smaller id first. */
export function pairKey(a: string, b: string): string {
  return a < b ? `${a}${PAIR_SEPARATOR}${b}` : `${b}${PAIR_SEPARATOR}${a}`;
}

export function splitPair(key: string): [string, string] {
  const at = key.indexOf(PAIR_SEPARATOR);
  return [key.slice(0, at), key.slice(at + 1)];
}

/**
 * What one user adds to the product-level aggregates. Every product-level count is the sum of
 * these over all users, each user counting at most once per product or pair (user-level
 * co-occurrence, the counts log-likelihood ratios are computed from).
 */
export interface Contribution {
  /** Products the user viewed (event types that count as a view: VIEW, CLICK, ADD_TO_CART), within their kept events. */
  readonly viewed: ReadonlySet<string>;
  /** Pairs viewed close together in one session. */
  readonly coView: ReadonlySet<string>;
  /** The user's most recently purchased distinct products (at most `coBuyItems`). */
  readonly bought: ReadonlySet<string>;
  /** All pairs among `bought`. */
  readonly coBuy: ReadonlySet<string>;
  /** Per product, the day of the user's latest purchase: one distinct buyer on that day. */
  readonly lastPurchaseDay: ReadonlyMap<string, number>;
  /** Products the user bought on more than one day: one repeat buyer each. */
  readonly rebought: ReadonlySet<string>;
}

export const EMPTY_CONTRIBUTION: Contribution = {
  viewed: new Set(),
  coView: new Set(),
  bought: new Set(),
  coBuy: new Set(),
  lastPurchaseDay: new Map(),
  rebought: new Set(),
};

const VIEW_CODES = codesWhere('countsAsView');

/** Splits view events (oldest first) into sessions: by sessionId when sent, else by idle gaps. */
function sessionsOf(views: readonly RingEvent[], gapMs: number): string[][] {
  const bySession = new Map<string, string[]>();
  const implicit: string[][] = [];
  let current: string[] | undefined;
  let lastAt = -Infinity;
  for (const [, productId, , at, session] of views) {
    if (session !== '') {
      let list = bySession.get(session);
      if (list === undefined) bySession.set(session, (list = []));
      list.push(productId);
      continue;
    }
    if (current === undefined || at - lastAt > gapMs) implicit.push((current = []));
    current.push(productId);
    lastAt = at;
  }
  return [...bySession.values(), ...implicit];
}

export function contributionOf(state: UserState, config: EngineConfig): Contribution {
  const viewed = new Set<string>();
  const views: RingEvent[] = [];
  for (let i = state.events.length - 1; i >= 0; i--) {
    const event = state.events[i]!;
    if (!VIEW_CODES.has(event[2])) continue;
    views.push(event);
    viewed.add(event[1]);
  }

  const coView = new Set<string>();
  for (const session of sessionsOf(views, config.sessionGapMs)) {
    const sequence = [...new Set(session)];
    for (let i = 0; i < sequence.length; i++) {
      for (let j = i + 1; j <= i + config.coViewWindow && j < sequence.length; j++) {
        coView.add(pairKey(sequence[i]!, sequence[j]!));
      }
    }
  }

  const lastPurchase = new Map<string, number>();
  const rebought = new Set<string>();
  for (const [productId, days] of state.purchaseDays) {
    lastPurchase.set(productId, lastPurchaseDay(days));
    if (days.length > 1) rebought.add(productId);
  }
  const recent = [...lastPurchase]
    .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))
    .slice(0, config.coBuyItems)
    .map(([productId]) => productId);
  const coBuy = new Set<string>();
  for (let i = 0; i < recent.length; i++) {
    for (let j = i + 1; j < recent.length; j++) coBuy.add(pairKey(recent[i]!, recent[j]!));
  }

  return { viewed, coView, bought: new Set(recent), coBuy, lastPurchaseDay: lastPurchase, rebought };
}

/** Signed changes to product-level counts, accumulated over the users of one batch. */
export class ContributionDelta {
  readonly viewers = new Map<string, number>();
  readonly coView = new Map<string, number>();
  readonly buyers = new Map<string, number>();
  readonly coBuy = new Map<string, number>();
  /** product -> day -> change in distinct buyers whose latest purchase was that day */
  readonly buyerDays = new Map<string, Map<number, number>>();
  /** product -> change in users who bought it on more than one day */
  readonly rebuyers = new Map<string, number>();
  /** Change in the number of users with any view / any purchase (the N of the LLR tables). */
  viewingUsers = 0;
  buyingUsers = 0;

  add(before: Contribution, after: Contribution): void {
    diffSets(before.viewed, after.viewed, this.viewers);
    diffSets(before.coView, after.coView, this.coView);
    diffSets(before.bought, after.bought, this.buyers);
    diffSets(before.coBuy, after.coBuy, this.coBuy);
    diffSets(before.rebought, after.rebought, this.rebuyers);
    this.viewingUsers += Number(after.viewed.size > 0) - Number(before.viewed.size > 0);
    this.buyingUsers += Number(after.bought.size > 0) - Number(before.bought.size > 0);
    for (const [productId, day] of before.lastPurchaseDay) {
      if (after.lastPurchaseDay.get(productId) !== day) this.buyerDay(productId, day, -1);
    }
    for (const [productId, day] of after.lastPurchaseDay) {
      if (before.lastPurchaseDay.get(productId) !== day) this.buyerDay(productId, day, +1);
    }
  }

  private buyerDay(productId: string, day: number, change: number): void {
    let days = this.buyerDays.get(productId);
    if (days === undefined) this.buyerDays.set(productId, (days = new Map()));
    days.set(day, (days.get(day) ?? 0) + change);
  }
}

function diffSets(before: ReadonlySet<string>, after: ReadonlySet<string>, into: Map<string, number>): void {
  for (const key of before) if (!after.has(key)) into.set(key, (into.get(key) ?? 0) - 1);
  for (const key of after) if (!before.has(key)) into.set(key, (into.get(key) ?? 0) + 1);
}
