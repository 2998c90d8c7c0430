import type { RecommendationItem } from '../recommend.ts';
import { rankerCandidates, type CandidateList, type RankerInput, type UserContext } from './candidates.ts';
import { candidateFeatures, RANKER_FEATURE_NAMES } from './features.ts';
import { LightgbmModel, ModelFormatError } from './model.ts';

/** A LightGBM model over RANKER_FEATURES; refused (ModelFormatError) when trained on other columns. */
export function rankerModel(dump: unknown): LightgbmModel {
  const model = LightgbmModel.fromDump(dump);
  const names = model.featureNames;
  if (names.length !== RANKER_FEATURE_NAMES.length || names.some((name, i) => name !== RANKER_FEATURE_NAMES[i]))
    throw new ModelFormatError(
      `the model's features (${names.join(', ')}) are not the ranker's (${RANKER_FEATURE_NAMES.join(', ')}): it was trained on another version of RANKER_FEATURES`,
    );
  return model;
}

export interface RankedCandidate {
  readonly productId: string;
  readonly score: number;
}

/** The user's candidates (rankerCandidates) ordered by the model's score, ties by the blended list's order. */
export function rankCandidates(input: RankerInput, model: LightgbmModel): RankedCandidate[] {
  const { user, candidates } = rankerCandidates(input);
  const scored = candidates.map((candidate) => ({
    productId: candidate.productId,
    score: model.score(candidateFeatures(user, candidate)),
    rank: candidate.blendedRank,
  }));
  scored.sort((a, b) => b.score - a.score || a.rank - b.rank);
  return scored.map(({ productId, score }) => ({ productId, score }));
}

/**
 * The model's list for a user whose candidates are known (candidateList): the candidates by
 * score, ties by the blended order, at most `size`, each with recommend()'s reasons for it (why
 * it is a candidate) and the model's score.
 */
export function modelList(list: CandidateList, user: UserContext, model: LightgbmModel, size: number): RecommendationItem[] {
  const byProduct = new Map(list.items.map((item) => [item.productId, item]));
  const row = new Float64Array(model.featureNames.length);
  const scored = list.candidates.map((candidate) => ({ candidate, score: model.score(candidateFeatures(user, candidate, row)) }));
  scored.sort((a, b) => b.score - a.score || a.candidate.blendedRank - b.candidate.blendedRank);
  return scored.slice(0, size).map(({ candidate, score }) => ({ productId: candidate.productId, score, reasons: byProduct.get(candidate.productId)!.reasons }));
}
