import { RANKER_FEATURE_NAMES, type LightgbmModel, type PopularityPenalty } from '@recs/engine';
import { scoreList } from './listScore.ts';
import type { HoldoutQuery } from './trainingSet.ts';

/** How a ranking did on the holdout's baskets: mean Recall@k and NDCG@k over every basket. */
export interface HoldoutFigures {
  readonly queries: number;
  readonly k: number;
  readonly recall: number;
  readonly ndcg: number;
}

/**
 * The first `k` of a holdout basket's candidates as `model` orders them (ties by the blended
 * list's order), or as the blend does (no model): the list that would have been served.
 */
export function holdoutList(query: HoldoutQuery, model: LightgbmModel | undefined, k: number): string[] {
  if (model === undefined) return query.productIds.slice(0, k);
  const width = RANKER_FEATURE_NAMES.length;
  const scored = query.productIds.map((productId, i) => ({ productId, i, score: model.score(query.features.subarray(i * width, (i + 1) * width)) }));
  scored.sort((a, b) => b.score - a.score || a.i - b.i);
  return scored.slice(0, k).map((entry) => entry.productId);
}

/** The feature the popularity penalty is on: a product's distinct buyers in the last 30 days. */
export const PENALTY_FEATURE = 'buyers_30d';
/** The penalty weights the job tries on its holdout, smallest first (see PopularityPenalty). */
export const PENALTY_WEIGHTS: readonly number[] = [0, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2];

/** One weight tried: the holdout's figures under it and the distinct products its lists held. */
export interface PenaltyTrial extends HoldoutFigures {
  readonly weight: number;
  readonly products: number;
}

export interface PenaltyChoice {
  readonly penalty: PopularityPenalty;
  /** The holdout figures under the weight chosen. */
  readonly figures: HoldoutFigures;
  readonly tried: readonly PenaltyTrial[];
}

/**
 * How much to hold popular products back (PopularityPenalty on PENALTY_FEATURE): the largest of
 * `weights` whose holdout NDCG@k is not below the unpenalized model's, so the lists gain
 * breadth (more distinct products, less of what everyone is shown) only where the shop's latest
 * weeks say it costs no accuracy. Trees are scored once per candidate, whatever the weights.
 */
export function choosePenalty(holdout: readonly HoldoutQuery[], model: LightgbmModel, k = 10, weights = PENALTY_WEIGHTS): PenaltyChoice {
  const width = RANKER_FEATURE_NAMES.length;
  const column = RANKER_FEATURE_NAMES.indexOf(PENALTY_FEATURE);
  const scored = holdout.map((query) => {
    const n = query.productIds.length;
    const tree = new Float64Array(n);
    const popularity = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      const row = query.features.subarray(i * width, (i + 1) * width);
      tree[i] = model.treeScore(row);
      const value = row[column]!;
      popularity[i] = value > 0 ? Math.log2(1 + value) : 0;
    }
    return { query, tree, popularity };
  });
  const tried = weights.map((weight): PenaltyTrial => {
    const products = new Set<string>();
    const figures = figuresOf(
      scored.map(({ query, tree, popularity }) => {
        const order = query.productIds.map((_, i) => i);
        order.sort((a, b) => tree[b]! - weight * popularity[b]! - (tree[a]! - weight * popularity[a]!) || a - b);
        const list = order.slice(0, k).map((i) => query.productIds[i]!);
        for (const productId of list) products.add(productId);
        return [list, query] as const;
      }),
      k,
    );
    return { weight, ...figures, products: products.size };
  });
  const floor = tried[0]?.ndcg ?? 0;
  const chosen = tried.filter((trial) => trial.ndcg >= floor).at(-1) ?? { weight: 0, queries: 0, k, recall: 0, ndcg: 0, products: 0 };
  return {
    penalty: { feature: PENALTY_FEATURE, weight: chosen.weight },
    figures: { queries: chosen.queries, k: chosen.k, recall: chosen.recall, ndcg: chosen.ndcg },
    tried,
  };
}

/** Scores `model` (undefined: the blend) on the holdout, each basket against what it held. */
export function scoreHoldout(holdout: readonly HoldoutQuery[], model: LightgbmModel | undefined, k = 10): HoldoutFigures {
  return figuresOf(
    holdout.map((query) => [holdoutList(query, model, k), query] as const),
    k,
  );
}

/** Mean Recall@k and NDCG@k of lists, each scored against its basket. */
function figuresOf(lists: readonly (readonly [list: readonly string[], query: HoldoutQuery])[], k: number): HoldoutFigures {
  let recall = 0;
  let ndcg = 0;
  for (const [list, query] of lists) {
    const score = scoreList(list, query.basket.products, k);
    recall += score.recall;
    ndcg += score.ndcg;
  }
  const n = lists.length;
  return { queries: n, k, recall: n === 0 ? 0 : recall / n, ndcg: n === 0 ? 0 : ndcg / n };
}

export interface PromotionInput {
  readonly candidate: HoldoutFigures;
  readonly blend: HoldoutFigures;
  /** The model serving now, scored on the same holdout; undefined when none serves (or it was trained on other features). */
  readonly serving?: { readonly version: string; readonly figures: HoldoutFigures } | undefined;
  /** Baskets the holdout must hold for a verdict. */
  readonly minQueries: number;
}

export interface Verdict {
  readonly promote: boolean;
  /** Why, for people (kept with the model). */
  readonly reason: string;
}

const figure = (value: number) => value.toFixed(4);

/**
 * Whether a newly trained model replaces what serves: only when its NDCG@k on the holdout (the
 * shop's latest weeks, which it was not trained on) is above the blend's and the serving
 * model's. A tie is refused: a model that ranks no better is not worth a change.
 */
export function judgeModel({ candidate, blend, serving, minQueries }: PromotionInput): Verdict {
  const at = `NDCG@${candidate.k}`;
  if (candidate.queries < minQueries)
    return { promote: false, reason: `the holdout holds ${candidate.queries} baskets, fewer than the ${minQueries} needed to judge a model` };
  if (!(candidate.ndcg > blend.ndcg))
    return { promote: false, reason: `holdout ${at} ${figure(candidate.ndcg)} is not above the blend's ${figure(blend.ndcg)}` };
  if (serving !== undefined && !(candidate.ndcg > serving.figures.ndcg))
    return {
      promote: false,
      reason: `holdout ${at} ${figure(candidate.ndcg)} is not above the serving model ${serving.version}'s ${figure(serving.figures.ndcg)}`,
    };
  return {
    promote: true,
    reason: `holdout ${at} ${figure(candidate.ndcg)} is above the blend's ${figure(blend.ndcg)}${serving === undefined ? '' : ` and the serving model ${serving.version}'s ${figure(serving.figures.ndcg)}`}`,
  };
}
