import { scoreList } from '@recs/trainer';

export { scoreList, type ListScore } from '@recs/trainer';

/**
 * Novelty of a list: the mean self-information -log2(buyers(i) / customers) of its first
 * `depth` items, popularity counted on the training period. An item nobody bought in training
 * counts as bought by one customer (the most novel a known item can be). NaN for an empty list.
 */
export function novelty(list: readonly string[], buyers: (item: string) => number, customers: number, depth = 5): number {
  const top = list.slice(0, depth);
  if (top.length === 0 || customers <= 0) return Number.NaN;
  let total = 0;
  for (const item of top) total += -Math.log2(Math.max(1, buyers(item)) / customers);
  return total / top.length;
}

export interface MetricSummary {
  readonly precision: number;
  readonly recall: number;
  readonly ndcg: number;
  readonly hitRate: number;
  /** Mean over the lists that had at least one item. */
  readonly novelty: number;
  /** Distinct products recommended in any top-k / catalog size. */
  readonly itemCoverage: number;
  /** Customers whose every list had k items / customers scored. */
  readonly userCoverage: number;
  /** Invoices scored. */
  readonly n: number;
}

/** Sums the scores of one strategy on one segment, invoice by invoice. */
export class MetricAccumulator {
  private n = 0;
  private precision = 0;
  private recall = 0;
  private ndcg = 0;
  private hits = 0;
  private noveltySum = 0;
  private noveltyLists = 0;
  private readonly recommended = new Set<string>();
  private readonly customers = new Map<string, boolean>();
  private readonly k: number;

  constructor(k: number) {
    this.k = k;
  }

  add(customerId: string, list: readonly string[], relevant: ReadonlySet<string>, listNovelty: number): void {
    const top = list.slice(0, this.k);
    const score = scoreList(top, relevant, this.k);
    this.n++;
    this.precision += score.precision;
    this.recall += score.recall;
    this.ndcg += score.ndcg;
    if (score.hit) this.hits++;
    if (!Number.isNaN(listNovelty)) {
      this.noveltySum += listNovelty;
      this.noveltyLists++;
    }
    for (const item of top) this.recommended.add(item);
    this.customers.set(customerId, (this.customers.get(customerId) ?? true) && top.length >= this.k);
  }

  summary(catalogSize: number): MetricSummary {
    const n = this.n;
    let full = 0;
    for (const wasFull of this.customers.values()) if (wasFull) full++;
    return {
      precision: n === 0 ? 0 : this.precision / n,
      recall: n === 0 ? 0 : this.recall / n,
      ndcg: n === 0 ? 0 : this.ndcg / n,
      hitRate: n === 0 ? 0 : this.hits / n,
      novelty: this.noveltyLists === 0 ? 0 : this.noveltySum / this.noveltyLists,
      itemCoverage: catalogSize === 0 ? 0 : this.recommended.size / catalogSize,
      userCoverage: this.customers.size === 0 ? 0 : full / this.customers.size,
      n,
    };
  }
}
