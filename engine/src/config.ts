import { defaultInterestWeights, type EventType } from './eventTypes.ts';

/**
 * Every tunable of the recommendation logic, with the production defaults. Workers, the
 * recommendations subgraph and the offline evaluator all take the same object, so what is
 * evaluated is what is served.
 */
export interface EngineConfig {
  /** Events kept per user; a user's aggregates reflect their most recent `ringSize` events. */
  readonly ringSize: number;
  /** Products remembered per user in the purchase-days map (distinct buyers, co-purchases, buying again). */
  readonly lastPurchaseCap: number;
  /** Distinct days remembered per purchased product (the most recent): how often and how lately it was bought. */
  readonly purchaseDaysKept: number;
  /** Views further apart than this start a new session when the client sent no sessionId. */
  readonly sessionGapMs: number;
  /** Within a session, products at most this many positions apart count as co-viewed. */
  readonly coViewWindow: number;
  /** A user's most recently purchased distinct products that are paired as co-purchases. */
  readonly coBuyItems: number;
  /** Co-occurrence counts kept per product; the weakest are dropped beyond it. */
  readonly maxPairsPerItem: number;
  /** Neighbours kept per product for alsoViewed / alsoBought. */
  readonly neighboursPerItem: number;
  /** Items stored per recommendation list (the largest `limit` served). */
  readonly listSize: number;
  /** Interest weight of each event type (REMOVE_FROM_CART takes interest away); defaults in EVENT_TYPES. */
  readonly weights: Readonly<Record<EventType, number>>;
  /** Half-life of interest in a category or product, in days. */
  readonly affinityHalfLifeDays: number;
  /** Half-life of a past purchase's pull towards buying it again, in days. */
  readonly repeatHalfLifeDays: number;
  /**
   * A product the user buys on a cycle pulls less until the cycle comes round: times
   * min(1, (days since they last bought it + 1) / (their average days between buying it + 1)) ^
   * dueExponent. 0 turns it off.
   */
  readonly dueExponent: number;
  /**
   * How strongly a product's repeat buyers weigh on buying it again: a past purchase pulls times
   * 1 + repurchaseBoost × the product's repurchase rate, the share of its buyers who bought it on
   * more than one day (consumables over one-offs), smoothed by `repurchasePrior`.
   */
  readonly repurchaseBoost: number;
  /**
   * The repurchase rate of a product with few buyers says little: it is taken as if `weight` more
   * buyers had bought again at `rate`, (repeat buyers + weight × rate) / (buyers + weight).
   */
  readonly repurchasePrior: Readonly<{ rate: number; weight: number }>;
  /**
   * A past purchase of a product its buyers have stopped buying (discontinued, out of season)
   * pulls less: times ((buyers in the last demandWindowDays + 1) / (all its buyers + 1)) ^
   * demandExponent. 0 turns it off.
   */
  readonly demandExponent: number;
  readonly demandWindowDays: number;
  /** A user's strongest past purchases (by how often and how lately) considered for buying again. */
  readonly repeatCandidates: number;
  /** How the candidate sources are blended into one score. */
  readonly blend: Readonly<{
    repeat: number;
    alsoBought: number;
    alsoViewed: number;
    category: number;
    popular: number;
  }>;
  /** Products of the user's history used as anchors for co-occurrence neighbours. */
  readonly anchors: number;
  /** Window of the best sellers blended into personalized lists (one of bestSellerWindows). */
  readonly listWindowDays: number;
  /** Categories of highest affinity whose best sellers become candidates. */
  readonly topCategories: number;
  /** Best-seller windows kept materialized; any other window is computed on request. */
  readonly bestSellerWindows: readonly number[];
  readonly defaultWindowDays: number;
  readonly maxWindowDays: number;
  /** Best sellers kept per category and window. */
  readonly bestSellersSize: number;
}

export const DEFAULT_ENGINE_CONFIG: EngineConfig = {
  ringSize: 100,
  lastPurchaseCap: 1000,
  purchaseDaysKept: 12,
  sessionGapMs: 30 * 60 * 1000,
  coViewWindow: 3,
  coBuyItems: 30,
  maxPairsPerItem: 500,
  neighboursPerItem: 20,
  listSize: 50,
  weights: defaultInterestWeights(),
  affinityHalfLifeDays: 14,
  repeatHalfLifeDays: 180,
  dueExponent: 0.25,
  repurchaseBoost: 0.5,
  repurchasePrior: { rate: 0.2, weight: 20 },
  demandExponent: 0.5,
  demandWindowDays: 21,
  repeatCandidates: 200,
  blend: { repeat: 1, alsoBought: 0.3, alsoViewed: 0.3, category: 0.05, popular: 0.05 },
  anchors: 10,
  topCategories: 3,
  listWindowDays: 7,
  bestSellerWindows: [7, 30, 90],
  defaultWindowDays: 30,
  maxWindowDays: 365,
  bestSellersSize: 100,
};

/** A config with some values replaced, for tests and tuning. */
export function engineConfig(overrides: Partial<EngineConfig> = {}): EngineConfig {
  return { ...DEFAULT_ENGINE_CONFIG, ...overrides };
}
