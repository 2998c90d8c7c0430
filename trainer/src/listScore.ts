/** How one top-k list did against one invoice (binary relevance). */
export interface ListScore {
  readonly hits: number;
  readonly precision: number;
  readonly recall: number;
  readonly ndcg: number;
  readonly hit: boolean;
}

/**
 * Precision@k = hits / k; Recall@k = hits / |relevant|; NDCG@k = DCG / ideal DCG with
 * DCG = Σ 1/log2(rank + 1) over the hits' ranks (1-based) and the ideal placing
 * min(k, |relevant|) hits first; HitRate@k: at least one hit. A list shorter than k is scored
 * as if padded with misses.
 */
export function scoreList(list: readonly string[], relevant: ReadonlySet<string>, k: number): ListScore {
  let hits = 0;
  let dcg = 0;
  const counted = new Set<string>();
  for (let i = 0; i < Math.min(k, list.length); i++) {
    const item = list[i]!;
    if (!relevant.has(item) || counted.has(item)) continue;
    counted.add(item);
    hits++;
    dcg += 1 / Math.log2(i + 2);
  }
  let ideal = 0;
  for (let i = 0; i < Math.min(k, relevant.size); i++) ideal += 1 / Math.log2(i + 2);
  return {
    hits,
    precision: hits / k,
    recall: relevant.size === 0 ? 0 : hits / relevant.size,
    ndcg: ideal === 0 ? 0 : dcg / ideal,
    hit: hits > 0,
  };
}
