import { RANKER_FEATURE_NAMES, type LightgbmModel } from '@recs/engine';
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

/** Scores `model` (undefined: the blend) on the holdout, each basket against what it held. */
export function scoreHoldout(holdout: readonly HoldoutQuery[], model: LightgbmModel | undefined, k = 10): HoldoutFigures {
  let recall = 0;
  let ndcg = 0;
  for (const query of holdout) {
    const score = scoreList(holdoutList(query, model, k), query.basket.products, k);
    recall += score.recall;
    ndcg += score.ndcg;
  }
  const n = holdout.length;
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
