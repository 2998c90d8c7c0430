import { RANKER_FEATURE_NAMES, rankerModel } from '@recs/engine';
import { describe, expect, it } from 'vitest';
import { choosePenalty, holdoutList, judgeModel, PENALTY_FEATURE, scoreHoldout, type HoldoutFigures, type HoldoutQuery } from '../src/index.ts';

const width = RANKER_FEATURE_NAMES.length;
const price = RANKER_FEATURE_NAMES.indexOf('price');

/** A basket whose candidates (in the blend's order) have these prices. */
function query(products: readonly string[], prices: readonly number[], bought: readonly string[]): HoldoutQuery {
  const features = new Float64Array(products.length * width).fill(0);
  prices.forEach((value, i) => {
    features[i * width + price] = value;
  });
  return { basket: { userId: 'u', at: 0, id: 'b', products: new Set(bought) }, productIds: products, features };
}

/** One tree: the dearer candidate first (price above 5 scores 1). */
const dearerFirst = rankerModel({
  feature_names: RANKER_FEATURE_NAMES,
  tree_info: [
    {
      tree_structure: {
        split_feature: price,
        threshold: 5,
        decision_type: '<=',
        default_left: true,
        missing_type: 'None',
        left_child: { leaf_value: 0 },
        right_child: { leaf_value: 1 },
      },
    },
  ],
});

describe('the holdout', () => {
  it("scores the blend's order and a model's order of the same candidates", () => {
    const holdout = [query(['a', 'b', 'c'], [1, 2, 9], ['c']), query(['d', 'e'], [9, 1], ['d'])];
    expect(holdoutList(holdout[0]!, undefined, 2)).toEqual(['a', 'b']);
    expect(holdoutList(holdout[0]!, dearerFirst, 2)).toEqual(['c', 'a']);
    const blend = scoreHoldout(holdout, undefined, 2);
    const model = scoreHoldout(holdout, dearerFirst, 2);
    expect(blend).toEqual({ queries: 2, k: 2, recall: 0.5, ndcg: 0.5 });
    expect(model).toEqual({ queries: 2, k: 2, recall: 1, ndcg: 1 });
  });
});

describe('choosePenalty', () => {
  const buyers = RANKER_FEATURE_NAMES.indexOf(PENALTY_FEATURE);
  /** A basket whose candidates have these prices and 30-day buyers. */
  const withBuyers = (products: readonly string[], prices: readonly number[], counts: readonly number[], bought: readonly string[]) => {
    const q = query(products, prices, bought);
    counts.forEach((value, i) => {
      (q.features as Float64Array)[i * width + buyers] = value;
    });
    return q;
  };

  it('holds popular products back as far as it costs no NDCG, and no further', () => {
    // the model ranks the dear ones first; among the cheap ones (a tie) the basket held the one
    // fewer bought, which a penalty puts first, until it is large enough to pass a dear one
    const holdout = [
      withBuyers(['dear', 'popular', 'niche'], [9, 1, 1], [1, 1_000, 3], ['dear', 'niche']),
      withBuyers(['dear2', 'popular2', 'niche2'], [9, 1, 1], [3, 1_000, 0], ['dear2', 'niche2']),
    ];
    const choice = choosePenalty(holdout, dearerFirst, 2, [0, 0.01, 0.05, 0.5]);
    expect(choice.tried.map((trial) => trial.weight)).toEqual([0, 0.01, 0.05, 0.5]);
    // without a penalty the tie goes to the blend's order (popular first): half the basket
    expect(choice.tried[0]!.ndcg).toBeLessThan(1);
    expect(choice.tried[1]!.ndcg).toBe(1);
    expect(choice.tried[2]!.ndcg).toBe(1);
    // the largest weight that keeps NDCG: at 0.5 "dear2" (3 buyers: 1 − 0.5 × 2 = 0) still ties "niche2" and leads by the blend's order
    expect(choice.penalty).toEqual({ feature: PENALTY_FEATURE, weight: 0.5 });
    expect(choice.figures).toEqual({ queries: 2, k: 2, recall: 1, ndcg: 1 });
    expect(scoreHoldout(holdout, dearerFirst.withPenalty(choice.penalty), 2)).toEqual(choice.figures);

    // a weight that costs NDCG is not taken: here the basket held the popular one of a tie
    const popularBought = [withBuyers(['hit', 'miss'], [1, 1], [1_000, 0], ['hit'])];
    const costly = choosePenalty(popularBought, dearerFirst, 1, [0, 0.05]);
    expect(costly.tried.map((trial) => trial.ndcg)).toEqual([1, 0]);
    expect(costly.penalty.weight).toBe(0);
    expect(costly.figures.ndcg).toBe(1);
  });
});

const figures = (ndcg: number, queries = 500): HoldoutFigures => ({ queries, k: 10, recall: ndcg / 2, ndcg });

describe('judgeModel', () => {
  it('promotes only a model above both the blend and the model serving', () => {
    expect(judgeModel({ candidate: figures(0.3), blend: figures(0.25), minQueries: 50 })).toEqual({
      promote: true,
      reason: "holdout NDCG@10 0.3000 is above the blend's 0.2500",
    });
    expect(judgeModel({ candidate: figures(0.3), blend: figures(0.25), serving: { version: 'v1', figures: figures(0.29) }, minQueries: 50 }).promote).toBe(
      true,
    );
    expect(judgeModel({ candidate: figures(0.3), blend: figures(0.25), serving: { version: 'v1', figures: figures(0.31) }, minQueries: 50 })).toEqual({
      promote: false,
      reason: "holdout NDCG@10 0.3000 is not above the serving model v1's 0.3100",
    });
  });

  it('refuses a tie, a model below the blend, and any model judged on too few baskets', () => {
    expect(judgeModel({ candidate: figures(0.25), blend: figures(0.25), minQueries: 50 }).promote).toBe(false);
    expect(judgeModel({ candidate: figures(0.2), blend: figures(0.25), minQueries: 50 }).reason).toBe("holdout NDCG@10 0.2000 is not above the blend's 0.2500");
    expect(judgeModel({ candidate: figures(0.9, 49), blend: figures(0.25, 49), minQueries: 50 })).toEqual({
      promote: false,
      reason: 'the holdout holds 49 baskets, fewer than the 50 needed to judge a model',
    });
  });
});
