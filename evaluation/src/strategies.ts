import {
  buyersInWindow,
  candidateList,
  dayOf,
  decay,
  hiddenOf,
  modelList,
  RANKER_CANDIDATES,
  rankCandidates,
  rankerContext,
  recommend,
  type Aggregator,
  type CatalogView,
  type EngineConfig,
  type LightgbmModel,
} from '@recs/engine';

/** One product in a customer's purchases: in how many invoices, when last, and when each. */
export interface BoughtProduct {
  readonly invoices: number;
  readonly last: number;
  /** The time of every invoice with it, in the order they were added. */
  readonly times: readonly number[];
}

/** What one customer bought so far: per product, in how many invoices and when. */
export class PurchaseHistory {
  private readonly customers = new Map<string, Map<string, { invoices: number; last: number; times: number[] }>>();

  add(customerId: string, products: readonly string[], at: number): void {
    let bought = this.customers.get(customerId);
    if (bought === undefined) this.customers.set(customerId, (bought = new Map()));
    for (const productId of products) {
      const entry = bought.get(productId);
      if (entry === undefined) bought.set(productId, { invoices: 1, last: at, times: [at] });
      else {
        entry.invoices++;
        entry.last = Math.max(entry.last, at);
        entry.times.push(at);
      }
    }
  }

  has(customerId: string): boolean {
    return this.customers.has(customerId);
  }

  of(customerId: string): ReadonlyMap<string, BoughtProduct> {
    return this.customers.get(customerId) ?? new Map();
  }
}

/** What every strategy may read: the engine's aggregates (as the workers keep them) and the raw purchase history. */
export interface StrategyContext {
  readonly aggregator: Aggregator;
  readonly catalog: CatalogView;
  readonly history: PurchaseHistory;
  readonly config: EngineConfig;
  /** The split (epoch ms): where the test period starts. */
  readonly split: number;
  /** The `now` of the latest batch applied to the aggregator: its best-seller windows end on that day. */
  readonly appliedAt: () => number;
}

export interface Strategy {
  readonly name: string;
  readonly describe: string;
  /** A reference to beat (true), or the system's own lists (false: `served` and its tuning variants). */
  readonly baseline: boolean;
  /** The customer's top `k` product ids just before an invoice at `now`. */
  recommend(customerId: string, now: number, k: number): readonly string[];
}

const DEFAULT_STRATEGIES = ['best-sellers', 'category-best-sellers', 'buy-again', 'buy-again-decayed', 'also-bought', 'blend', 'served'] as const;
/** The learned ranking stage: scored only where a model was trained for the split (evaluation/train.ts). */
export const RANKER_STRATEGY = 'ranker';
export type StrategyName = (typeof DEFAULT_STRATEGIES)[number] | typeof RANKER_STRATEGY;
/** The strategies `npm run evaluate` scores (every one but `ranker`, which needs a model trained for the split first). */
export const STRATEGY_NAMES: readonly StrategyName[] = DEFAULT_STRATEGIES;

/** A trained ranker for one split: its model (trained on purchases before the split only) and the prices it reads. */
export interface RankerForSplit {
  readonly model: LightgbmModel;
  readonly price: (productId: string) => number | undefined;
}

/**
 * The model production would serve at each split (epoch ms): the one the daily training job
 * would have promoted that day (trainAndJudge over the purchases before it). A split without one
 * (the job refused its model, or none was trained) is served the blend, as production would.
 */
const servedModels = new Map<number, RankerForSplit & { readonly version: string }>();

/** Makes `served` rank with `served.model` in evaluations of `split`; returns a function that withdraws it. */
export function provideServedModel(split: number, served: RankerForSplit & { readonly version: string }): () => void {
  servedModels.set(split, served);
  return () => {
    if (servedModels.get(split) === served) servedModels.delete(split);
  };
}

/**
 * The rankers trained per split (epoch ms of the split). evaluate() builds its strategies itself
 * from a fixed context, so a model trained beforehand reaches the `ranker` strategy through here:
 * evaluation/train.ts trains one for a split, provides it, then calls evaluate() with `ranker`.
 */
const rankers = new Map<number, RankerForSplit>();

/** Makes `ranker` available to evaluations of `split` (epoch ms); returns a function that withdraws it. */
export function provideRanker(split: number, ranker: RankerForSplit): () => void {
  rankers.set(split, ranker);
  return () => {
    if (rankers.get(split) === ranker) rankers.delete(split);
  };
}

function topIds(scores: Map<string, number>, k: number, exclude?: ReadonlySet<string> | ReadonlyMap<string, unknown>): string[] {
  return [...scores]
    .filter(([id]) => exclude === undefined || !exclude.has(id))
    .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))
    .slice(0, k)
    .map(([id]) => id);
}

/** The trailing window, in days, of every best-seller count the baselines use. */
export const BEST_SELLER_DAYS = 30;
/** buy-again-decayed: a purchase counts half after this many days (age at the split). */
export const DECAY_HALF_LIFE_DAYS = 180;
/** buy-again-decayed: the weight of the product's recent buyers, relative to the top best seller's. */
export const DECAYED_POPULARITY_WEIGHT = 2;

/** `list` (at most `k` ids) filled up to `k` with `fill`'s ids not already in it, in order. */
export function fillTo(list: readonly string[], fill: readonly string[], k: number): string[] {
  const result = list.slice(0, k);
  const taken = new Set(result);
  for (const id of fill) {
    if (result.length >= k) break;
    if (taken.has(id)) continue;
    taken.add(id);
    result.push(id);
  }
  return result;
}

export function createStrategies(ctx: StrategyContext): Record<StrategyName, Strategy> {
  const { aggregator, catalog, history, config, split } = ctx;
  const bestSellerIds = (categoryId: string | null, k: number) =>
    aggregator
      .bestSellers(categoryId, BEST_SELLER_DAYS)
      .slice(0, k)
      .map(([id]) => id);
  /** Distinct buyers of the product over the same 30 days as the best-seller ranking. */
  const recentBuyers = (productId: string) => buyersInWindow(aggregator.buyerDaysOf(productId), dayOf(ctx.appliedAt()), BEST_SELLER_DAYS);
  /** The customer's own products by `score`, ties by recent buyers (then id), filled to k with best sellers. */
  const ownProducts = (customerId: string, k: number, score: (productId: string, bought: BoughtProduct) => number) => {
    const ranked = [...history.of(customerId)].map(([productId, bought]) => [productId, score(productId, bought), recentBuyers(productId)] as const);
    ranked.sort((a, b) => b[1] - a[1] || b[2] - a[2] || (a[0] < b[0] ? -1 : 1));
    return fillTo(
      ranked.slice(0, k).map(([id]) => id),
      bestSellerIds(null, 2 * k),
      k,
    );
  };

  return {
    'best-sellers': {
      name: 'best-sellers',
      describe: 'most distinct buyers over the trailing 30 days',
      baseline: true,
      recommend: (_customerId, _now, k) => bestSellerIds(null, k),
    },
    'category-best-sellers': {
      name: 'category-best-sellers',
      describe: "best sellers (30 days) of the categories of the customer's purchases, most bought category first; else overall best sellers",
      baseline: true,
      recommend(customerId, _now, k) {
        const perCategory = new Map<string, number>();
        for (const [productId, { invoices }] of history.of(customerId)) {
          const categoryId = catalog.product(productId)?.categoryId;
          if (categoryId !== undefined) perCategory.set(categoryId, (perCategory.get(categoryId) ?? 0) + invoices);
        }
        const categories = [...perCategory].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)).slice(0, 3);
        const list: string[] = [];
        const taken = new Set<string>();
        const push = (ids: readonly string[]) => {
          for (const id of ids) {
            if (list.length < k && !taken.has(id)) {
              taken.add(id);
              list.push(id);
            }
          }
        };
        // interleave the categories' rankings by buyers, the strongest category winning ties
        const ranked = categories.flatMap(([categoryId], order) =>
          aggregator.bestSellers(categoryId, BEST_SELLER_DAYS).map(([id, buyers]) => [id, buyers, order] as const),
        );
        ranked.sort((a, b) => b[1] - a[1] || a[2] - b[2] || (a[0] < b[0] ? -1 : 1));
        push(ranked.map(([id]) => id));
        push(bestSellerIds(null, k * 2));
        return list;
      },
    },
    'buy-again': {
      name: 'buy-again',
      describe: 'the customer’s own products, most invoices first, ties by distinct buyers over the trailing 30 days; filled to k with the 30-day best sellers',
      baseline: true,
      recommend: (customerId, _now, k) => ownProducts(customerId, k, (_productId, { invoices }) => invoices),
    },
    'buy-again-decayed': {
      name: 'buy-again-decayed',
      describe: `the customer’s own products by Σ 0.5^(age / ${DECAY_HALF_LIFE_DAYS} d) over the invoices with it (age at the split, none below 0) + ${DECAYED_POPULARITY_WEIGHT} × its 30-day buyers ÷ the top best seller’s, ties by 30-day buyers; filled to k with the 30-day best sellers`,
      baseline: true,
      recommend(customerId, _now, k) {
        const top = aggregator.bestSellers(null, BEST_SELLER_DAYS)[0]?.[1] ?? 0;
        return ownProducts(customerId, k, (productId, { times }) => {
          let score = 0;
          for (const at of times) score += decay(split - at, DECAY_HALF_LIFE_DAYS);
          return top > 0 ? score + (DECAYED_POPULARITY_WEIGHT * recentBuyers(productId)) / top : score;
        });
      },
    },
    'also-bought': {
      name: 'also-bought',
      describe: "LLR co-purchase neighbours (the alsoBought lists) of the customer's 20 most recent products, not bought before",
      baseline: true,
      recommend(customerId, _now, k) {
        const bought = history.of(customerId);
        const anchors = [...bought].sort((a, b) => b[1].last - a[1].last || b[1].invoices - a[1].invoices).slice(0, 20);
        const scores = new Map<string, number>();
        for (const [anchor] of anchors) {
          const neighbours = aggregator.neighbours(anchor, 'ALSO_BOUGHT');
          const best = neighbours[0]?.[1] ?? 0;
          if (best <= 0) continue;
          for (const [other, score] of neighbours) scores.set(other, (scores.get(other) ?? 0) + score / best);
        }
        return topIds(scores, k, bought);
      },
    },
    blend: blendStrategy(ctx, config),
    served: servedStrategy(ctx),
    ranker: rankerStrategy(ctx),
  };
}

/**
 * The learned ranking stage: the customer's candidates (engine/src/ranker: the blended list's
 * first RANKER_CANDIDATES.blended and up to RANKER_CANDIDATES.own more of their own products) ordered by the LightGBM model trained for
 * this split on purchases before it only; filled to k with the 30-day best sellers.
 */
export function rankerStrategy(ctx: StrategyContext): Strategy {
  const { aggregator, catalog, config, split } = ctx;
  return {
    name: RANKER_STRATEGY,
    describe: `LightGBM LambdaRank over the engine’s candidates (the blended list’s first ${RANKER_CANDIDATES.blended} and up to ${RANKER_CANDIDATES.own} more of the customer’s own products), trained on purchases before the split; filled to k with the 30-day best sellers`,
    baseline: false,
    recommend(customerId, now, k) {
      const ranker = rankers.get(split);
      if (ranker === undefined)
        throw new Error(`no ranker model for split ${new Date(split).toISOString().slice(0, 10)}: node evaluation/train.ts trains one and scores it`);
      const ranked = rankCandidates({ state: aggregator.userState(customerId), now, catalog, read: aggregator, config, price: ranker.price }, ranker.model);
      return fillTo(
        ranked.slice(0, k).map(({ productId }) => productId),
        aggregator
          .bestSellers(null, BEST_SELLER_DAYS)
          .slice(0, 2 * k)
          .map(([id]) => id),
        k,
      );
    },
  };
}

/**
 * Exactly what the recommendations query returns for a customer at the split: the ranking
 * model's order of their candidates when the training job would have promoted one that day
 * (provideServedModel), the blend's otherwise; best sellers for a customer the engine has never
 * seen (no stored list).
 */
export function servedStrategy(ctx: StrategyContext): Strategy {
  const { aggregator, catalog, config, split } = ctx;
  const served = servedModels.get(split);
  if (served === undefined)
    return { ...blendStrategy(ctx, config, 'served'), describe: 'what the recommendations query returns: the blend (no model promoted at the split)' };
  return {
    name: 'served',
    describe: `what the recommendations query returns: model ${served.version}'s order of the engine's candidates, the one the training job promotes at the split (trained on the purchases before its last 28 days, judged on them)`,
    baseline: false,
    recommend(customerId, now, k) {
      const state = aggregator.userState(customerId);
      if (state === undefined) return coldStartList(aggregator, config, k);
      const input = { state, now, catalog, read: aggregator, config, price: served.price };
      const list = candidateList(input);
      return modelList(list, rankerContext(input, list.signals, list.hidden), served.model, Math.min(k, config.listSize)).map((item) => item.productId);
    },
  };
}

/** A customer the engine has never seen has no stored list: the recommendations query answers with the best sellers. */
function coldStartList(aggregator: Aggregator, config: EngineConfig, k: number): string[] {
  return aggregator
    .bestSellers(null, config.defaultWindowDays)
    .slice(0, k)
    .map(([id]) => id);
}

/** The blended list (recommend()) as the recommendations query returns it while no model serves, under `config`. */
export function blendStrategy(ctx: StrategyContext, config: EngineConfig, name = 'blend'): Strategy {
  const { aggregator, catalog } = ctx;
  return {
    name,
    describe: 'the engine’s blended list with its production defaults (what is served while no model is promoted)',
    baseline: false,
    recommend(customerId, now, k) {
      const state = aggregator.userState(customerId);
      if (state === undefined) return coldStartList(aggregator, config, k);
      const { items } = recommend({ state, hidden: hiddenOf(state), now, catalog, read: aggregator, config });
      return items.slice(0, k).map((item) => item.productId);
    },
  };
}
