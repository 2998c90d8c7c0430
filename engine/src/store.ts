import type { BuyerDays, Ranked } from './bestSellers.ts';
import type { Cooc, Neighbour } from './similarity.ts';
import type { UserState } from './userState.ts';

export type KindCode = 'v' | 'b';

export interface CoocChange {
  readonly kind: KindCode;
  readonly productId: string;
  readonly users: number;
  /**
   * Every [other product, count] the product now has: the aggregator's own counts, not a copy
   * (copying every touched product's pairs was a cost that grew with them), so a store reads them
   * within commit(), before its first await.
   */
  readonly pairs: Iterable<readonly [string, number]>;
  readonly top: readonly Neighbour[];
}

export interface BestSellersList {
  readonly categoryId: string | null;
  readonly windowDays: number;
  readonly items: readonly Ranked[];
  readonly changedAt: number;
}

/**
 * Everything one batch changed, as absolute values: applying it twice is the same as applying
 * it once, which is what makes a crashed write safe to finish later.
 */
export interface FlushChanges {
  readonly users: readonly UserState[];
  readonly cooc: readonly CoocChange[];
  /**
   * [product, its whole histogram as [day, count][], its repeat buyers] for every product whose
   * histogram or repeat buyers changed.
   */
  readonly buyerDays: readonly (readonly [string, readonly (readonly [number, number])[], number])[];
  readonly universe: Universe | undefined;
  readonly bestSellers: readonly BestSellersList[];
  /** The eventKeys (see eventKey) of the events this batch applied, so a redelivered copy can be recognised. */
  readonly eventIds: readonly string[];
  /** The caller's ids for what this batch covers (ingestion batches), recorded with the commit. */
  readonly batchIds?: readonly string[];
}

/** Users with any view / any purchase: the population of the co-occurrence tables. */
export interface Universe {
  viewers: number;
  buyers: number;
}

/** State loaded once when the aggregator starts and kept whole in memory afterwards. */
export interface AggregateSnapshot {
  readonly buyerDays: Map<string, BuyerDays>;
  /** Per product, the users who bought it on more than one day, for every product. */
  readonly rebuyers: Map<string, number>;
  /** Per kind, per product, how many users have it (Cooc.users), for every product. */
  readonly coocUsers: Record<KindCode, Map<string, number>>;
  readonly universe: Universe;
  readonly bestSellers: readonly BestSellersList[];
}

/** Where the aggregator's state lives. The worker's is MongoDB; the evaluator's is memory. */
export interface AggregateStore {
  loadSnapshot(): Promise<AggregateSnapshot>;
  loadUsers(userIds: readonly string[]): Promise<Map<string, UserState>>;
  /** Keys are `${kind}:${productId}`. */
  loadCooc(keys: readonly string[]): Promise<Map<string, Cooc>>;
  commit(changes: FlushChanges): Promise<void>;
}

export function coocKey(kind: KindCode, productId: string): string {
  return `${kind}:${productId}`;
}

export function kindOfCoocKey(key: string): KindCode {
  return key[0] as KindCode;
}

/** A store that keeps nothing: the aggregator's own caches, never trimmed, are the state. */
export class MemoryStore implements AggregateStore {
  async loadSnapshot(): Promise<AggregateSnapshot> {
    return { buyerDays: new Map(), rebuyers: new Map(), coocUsers: { v: new Map(), b: new Map() }, universe: { viewers: 0, buyers: 0 }, bestSellers: [] };
  }
  async loadUsers(): Promise<Map<string, UserState>> {
    return new Map();
  }
  async loadCooc(): Promise<Map<string, Cooc>> {
    return new Map();
  }
  async commit(_changes: FlushChanges): Promise<void> {}
}
