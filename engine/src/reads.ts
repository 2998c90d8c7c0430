import type { ProductBuyers, Ranked } from './bestSellers.ts';
import type { EngineConfig } from './config.ts';
import type { UserSignals } from './recommend.ts';
import type { Neighbour, SimilarityKind } from './similarity.ts';

/**
 * What list building reads of the aggregates. The aggregator answers from its memory; a list
 * worker that does not lead aggregation answers from values it loaded from MongoDB before the
 * build, so it can only answer what readsFor() said would be read. recommend() checks every read
 * against readsFor() (see withinReads), so a read the contract does not list fails on every path,
 * the leader's and the evaluator's included, instead of coming back empty on the other workers.
 *
 * The catalog (CatalogView) is not part of it: every path holds the whole catalog in memory (the
 * workers' CatalogCache, the evaluator's MemoryCatalog), so no catalog read can miss.
 */
export interface ReadModel {
  neighbours(productId: string, kind: SimilarityKind): readonly Neighbour[];
  /** How many bought the product, how many of them on more than one day, and when. */
  productBuyers(productId: string): ProductBuyers;
  bestSellers(categoryId: string | null, windowDays: number): readonly Ranked[];
}

/** The neighbour lists list building blends, in the order it reads them. */
export const NEIGHBOUR_KINDS: readonly SimilarityKind[] = ['ALSO_BOUGHT', 'ALSO_VIEWED'];

/** Every read of a ReadModel that building some users' lists makes: what a list worker loads first. */
export interface ListReads {
  /** Per kind, the products whose neighbours are read (the users' anchors). */
  readonly neighbours: Readonly<Record<SimilarityKind, ReadonlySet<string>>>;
  /** The products whose buyers are read (the users' buy-again candidates, when the config weighs them). */
  readonly productBuyers: ReadonlySet<string>;
  /** Per window in days, the categories whose best sellers are read; null is the whole catalog. */
  readonly bestSellers: ReadonlyMap<number, ReadonlySet<string | null>>;
}

export const NO_READS: ListReads = { neighbours: { ALSO_BOUGHT: new Set(), ALSO_VIEWED: new Set() }, productBuyers: new Set(), bestSellers: new Map() };

/** Whether list building reads the buyers of a user's purchased products (ReadModel.productBuyers). */
export function weighsRepeat(config: EngineConfig): boolean {
  return config.repurchaseBoost > 0 || config.demandExponent > 0;
}

/**
 * What recommend() reads for users with these signals, all of it: the neighbours of their anchors
 * (every kind), the best sellers of their favourite categories and of the whole catalog (at
 * `listWindowDays`, read even for a user without history), and the buyers of their buy-again
 * candidates when the config weighs those. A new source of candidates adds its reads here.
 */
export function readsFor(users: Iterable<UserSignals>, config: EngineConfig): ListReads {
  const anchors = new Set<string>();
  const productBuyers = new Set<string>();
  const categories = new Set<string | null>([null]);
  const buyers = weighsRepeat(config);
  for (const user of users) {
    for (const [productId] of user.anchors) anchors.add(productId);
    for (const [categoryId] of user.categories) categories.add(categoryId);
    if (buyers) for (const productId of user.repeat.values.keys()) productBuyers.add(productId);
  }
  const neighbours = { ALSO_BOUGHT: anchors, ALSO_VIEWED: anchors };
  return { neighbours, productBuyers, bestSellers: new Map([[config.listWindowDays, categories]]) };
}

/**
 * A read list building made that its ListReads did not list: a bug in readsFor() or in a
 * ReadModel's loading. Thrown in production too: it fails the list job (logged; BullMQ retries),
 * and the user's last saved list stays served, where an empty answer would save and announce a
 * list missing a source, on some workers only.
 */
export class ReadOutsideContract extends Error {
  override readonly name = 'ReadOutsideContract';
  constructor(read: string) {
    super(`list building read ${read}, which readsFor() does not list; a list worker that does not lead aggregation would not have it (engine/src/reads.ts)`);
  }
}

/** `read`, refusing (ReadOutsideContract) every read `reads` does not list. */
export function withinReads(read: ReadModel, reads: ListReads): ReadModel {
  return {
    neighbours(productId, kind) {
      if (!reads.neighbours[kind].has(productId)) throw new ReadOutsideContract(`the ${kind} neighbours of ${JSON.stringify(productId)}`);
      return read.neighbours(productId, kind);
    },
    productBuyers(productId) {
      if (!reads.productBuyers.has(productId)) throw new ReadOutsideContract(`the buyers of ${JSON.stringify(productId)}`);
      return read.productBuyers(productId);
    },
    bestSellers(categoryId, windowDays) {
      if (reads.bestSellers.get(windowDays)?.has(categoryId) !== true) {
        throw new ReadOutsideContract(`the ${windowDays}-day best sellers of ${categoryId === null ? 'the catalog' : JSON.stringify(categoryId)}`);
      }
      return read.bestSellers(categoryId, windowDays);
    },
  };
}
