/**
 * The _id formats of the stored documents, each with its parser where something reads an id
 * back. Nothing else builds or splits an _id by hand. (A raw event's _id is the engine's
 * eventKey, with its parser parseEventKey, next to the reasoning on event identity.)
 */
import { coocKey, type KindCode } from '@recs/engine';

/**
 * cooccurrence: `${kind}:${productId}`. It is the engine's coocKey on purpose: the aggregator
 * asks its store for co-occurrence entries by its own keys, and the store uses them as _ids.
 */
export function coocDocId(kind: KindCode, productId: string): string {
  return coocKey(kind, productId);
}

/** The kind and product of a cooccurrence _id (the kind code has no ':', product ids may). */
export function parseCoocDocId(id: string): { kind: KindCode; productId: string } {
  const kind = id.slice(0, id.indexOf(':'));
  if (kind !== 'v' && kind !== 'b') throw new Error(`not a cooccurrence id: ${JSON.stringify(id)}`);
  return { kind, productId: id.slice(kind.length + 1) };
}

/** best_sellers: a ranking per category ('*' for all) and window. Its fields hold both parts, so nothing parses it. */
export function bestSellersDocId(categoryId: string | null, windowDays: number): string {
  return `${categoryId ?? '*'}:${windowDays}`;
}

/**
 * aggregator_plans: chunk `chunk` of the plan with sequence number `seq`, so a second writer
 * committing the same sequence number fails on the unique _id. Its fields hold both parts.
 */
export function planChunkId(seq: number, chunk: number): string {
  return `${seq}:${chunk}`;
}

/** aggregator_state: the aggregator's bookkeeping, its population counts, and its leases. */
export const AGGREGATOR_STATE_ID = 'state';
export const UNIVERSE_ID = 'universe';

export function leaseDocId(name: string): string {
  return `lease:${name}`;
}

/** experiment_tallies: one (experiment, variant)'s figures. Names hold no tab; its fields hold both parts. */
export function experimentTallyDocId(experiment: string, variant: string): string {
  return `${experiment}\t${variant}`;
}

/**
 * experiment_users: that a user of an experiment was served a list, or did one attributed thing
 * (`mark`), the first time; its fields hold the parts. Ids hold no control characters.
 */
export function experimentUserDocId(experiment: string, userId: string, mark: string): string {
  return `${experiment}\t${mark}\t${userId}`;
}
