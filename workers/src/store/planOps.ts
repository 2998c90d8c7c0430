import type { FlushChanges } from '@recs/engine';
import { COLLECTIONS, coocDocId, encodeRows, neighboursToDoc, toBestSellersDoc, toUserStateDoc, UNIVERSE_ID } from '@recs/shared';
import type { PlanOp } from './planLog.ts';

/**
 * Written at commit, because other processes read them right away: user states (browsing
 * history, list workers), rankings and the population counts. Everything else is written behind.
 */
const IMMEDIATE = new Set<string>([COLLECTIONS.users, COLLECTIONS.bestSellers, COLLECTIONS.aggregator]);

export function isImmediate(op: PlanOp): boolean {
  return IMMEDIATE.has(op.c);
}

/** The absolute document writes of one batch: whole fields, so writing one twice is harmless. */
export function planOps(changes: FlushChanges): PlanOp[] {
  const ops: PlanOp[] = [];
  const now = new Date();
  for (const state of changes.users) {
    const { _id, ...set } = toUserStateDoc(state, now);
    ops.push({ c: COLLECTIONS.users, id: _id, set });
  }
  for (const change of changes.cooc) {
    ops.push({
      c: COLLECTIONS.cooc,
      id: coocDocId(change.kind, change.productId),
      set: { k: change.kind, p: change.productId, n: change.users, c: encodeRows(change.pairs), top: neighboursToDoc(change.top) },
    });
  }
  for (const [productId, days, rebuyers] of changes.buyerDays) {
    ops.push({ c: COLLECTIONS.buyerDays, id: productId, set: { d: encodeRows(days.filter(([, n]) => n > 0)), r: rebuyers } });
  }
  if (changes.universe !== undefined) {
    ops.push({ c: COLLECTIONS.aggregator, id: UNIVERSE_ID, set: { viewers: changes.universe.viewers, buyers: changes.universe.buyers } });
  }
  for (const list of changes.bestSellers) {
    const { _id, ...set } = toBestSellersDoc(list);
    ops.push({ c: COLLECTIONS.bestSellers, id: _id, set });
  }
  return ops;
}
