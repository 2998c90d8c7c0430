import { codesWhere } from './eventTypes.ts';
import { isHidden, type HiddenHistory } from './recommend.ts';
import type { UserState } from './userState.ts';

export interface HistoryEntry {
  readonly productId: string;
  readonly lastViewedAt: number;
  /** Events that enter the history (views and clicks) among the user's kept events, hidden ones left out. */
  readonly views: number;
}

export const HISTORY_MAX_LIMIT = 50;

const HISTORY_CODES = codesWhere('entersHistory');

/** Distinct products the user viewed or clicked (types with entersHistory), most recently viewed first, without hidden views. */
export function browsingHistory(state: UserState | undefined, hidden: HiddenHistory, limit: number): HistoryEntry[] {
  const entries = new Map<string, { lastViewedAt: number; views: number }>();
  for (const [, productId, code, at] of state?.events ?? []) {
    if (!HISTORY_CODES.has(code) || isHidden(hidden, productId, at)) continue;
    const entry = entries.get(productId);
    if (entry === undefined) entries.set(productId, { lastViewedAt: at, views: 1 });
    else entry.views++;
  }
  // state.events is newest first, so insertion order is most recent view first
  return [...entries].slice(0, limit).map(([productId, entry]) => ({ productId, ...entry }));
}
