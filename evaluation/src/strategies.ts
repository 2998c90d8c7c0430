import { hiddenOf, recommend, type Aggregator, type CatalogView, type EngineConfig } from '@recs/engine';

/** What one customer bought so far: per product, in how many invoices and when last. */
export class PurchaseHistory {
  private readonly customers = new Map<string, Map<string, { invoices: number; last: number }>>();

  add(customerId: string, products: readonly string[], at: number): void {
    let bought = this.customers.get(customerId);
    if (bought === undefined) this.customers.set(customerId, (bought = new Map()));
    for (const productId of products) {
      const entry = bought.get(productId);
      if (entry === undefined) bought.set(productId, { invoices: 1, last: at });
      else {
        entry.invoices++;
        entry.last = Math.max(entry.last, at);
      }
    }
  }

  has(customerId: string): boolean {
    return this.customers.has(customerId);
  }

  of(customerId: string): ReadonlyMap<string, { readonly invoices: number; readonly last: number }> {
    return this.customers.get(customerId) ?? new Map();
  }
}

/** What every strategy may read: the engine's aggregates (as the workers keep them) and the raw purchase history. */
export interface StrategyContext {
  readonly aggregator: Aggregator;
  readonly catalog: CatalogView;
  readonly history: PurchaseHistory;
  readonly config: EngineConfig;
}

export interface Strategy {
  readonly name: string;
  readonly describe: string;
  /** The customer's top `k` product ids just before an invoice at `now`. */
  recommend(customerId: string, now: number, k: number): readonly string[];
}

export const STRATEGY_NAMES = ['best-sellers', 'category-best-sellers', 'buy-again', 'also-bought', 'served'] as const;
export type StrategyName = (typeof STRATEGY_NAMES)[number];

function topIds(scores: Map<string, number>, k: number, exclude?: ReadonlySet<string> | ReadonlyMap<string, unknown>): string[] {
  return [...scores]
    .filter(([id]) => exclude === undefined || !exclude.has(id))
    .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))
    .slice(0, k)
    .map(([id]) => id);
}

export function createStrategies(ctx: StrategyContext): Record<StrategyName, Strategy> {
  const { aggregator, catalog, history, config } = ctx;
  const bestSellerIds = (categoryId: string | null, k: number) =>
    aggregator
      .bestSellers(categoryId, 30)
      .slice(0, k)
      .map(([id]) => id);

  return {
    'best-sellers': {
      name: 'best-sellers',
      describe: 'most distinct buyers over the trailing 30 days',
      recommend: (_customerId, _now, k) => bestSellerIds(null, k),
    },
    'category-best-sellers': {
      name: 'category-best-sellers',
      describe: "best sellers (30 days) of the categories of the customer's purchases, most bought category first; else overall best sellers",
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
        const ranked = categories.flatMap(([categoryId], order) => aggregator.bestSellers(categoryId, 30).map(([id, buyers]) => [id, buyers, order] as const));
        ranked.sort((a, b) => b[1] - a[1] || a[2] - b[2] || (a[0] < b[0] ? -1 : 1));
        push(ranked.map(([id]) => id));
        push(bestSellerIds(null, k * 2));
        return list;
      },
    },
    'buy-again': {
      name: 'buy-again',
      describe: 'the customer’s own products, most invoices first, then most recent',
      recommend(customerId, _now, k) {
        return [...history.of(customerId)]
          .sort((a, b) => b[1].invoices - a[1].invoices || b[1].last - a[1].last || (a[0] < b[0] ? -1 : 1))
          .slice(0, k)
          .map(([id]) => id);
      },
    },
    'also-bought': {
      name: 'also-bought',
      describe: "LLR co-purchase neighbours (the alsoBought lists) of the customer's 20 most recent products, not bought before",
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
    served: servedStrategy(ctx, config),
  };
}

/** Exactly what the recommendations query returns for a customer, under `config`. */
export function servedStrategy(ctx: StrategyContext, config: EngineConfig, name = 'served'): Strategy {
  const { aggregator, catalog } = ctx;
  return {
    name,
    describe: 'what the recommendations query returns: the engine’s blended list with its production defaults',
    recommend(customerId, now, k) {
      const state = aggregator.userState(customerId);
      // a customer the engine has never seen has no list; the query answers with best sellers
      if (state === undefined)
        return aggregator
          .bestSellers(null, config.defaultWindowDays)
          .slice(0, k)
          .map(([id]) => id);
      const { items } = recommend({ state, hidden: hiddenOf(state), now, catalog, read: aggregator, config });
      return items.slice(0, k).map((item) => item.productId);
    },
  };
}
