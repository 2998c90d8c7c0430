import { EVENT_TYPE_NAMES, type EventType } from '../eventTypes.ts';
import { dueFactor, isHidden } from '../recommend.ts';
import { DAY_MS } from '../time.ts';
import type { ProductBuyers } from '../bestSellers.ts';
import { buyersIn, type Candidate, type UserContext } from './candidates.ts';

/** What one feature is computed from: the user's context, the candidate, and what is read of the product once. */
export interface FeatureInput {
  readonly user: UserContext;
  readonly candidate: Candidate;
  readonly buyers: ProductBuyers;
  /** The distinct days the user bought the product on (newest first), hidden ones left out; empty when never. */
  readonly days: readonly number[];
}

export interface FeatureDescriptor {
  readonly name: string;
  readonly describe: string;
  /** NaN for a value that does not exist (LightGBM's missing value). */
  readonly value: (input: FeatureInput) => number;
}

const sinceDays = ({ user, days }: FeatureInput) => (days.length === 0 ? Number.NaN : Math.max(0, user.input.now / DAY_MS - days[0]!));
const cycleDays = ({ days }: FeatureInput) => (days.length < 2 ? Number.NaN : (days[0]! - days[days.length - 1]!) / (days.length - 1));
const eventCount = (type: EventType) => (input: FeatureInput) => input.user.eventCounts.get(input.candidate.productId)?.[type] ?? 0;

/**
 * Every feature of a (user, candidate) pair, in the order of the model's columns: the table is
 * the one place a feature is defined (the training set's header and the model's feature_names
 * come from it, and a model trained on another table is refused).
 */
export const RANKER_FEATURES: readonly FeatureDescriptor[] = [
  { name: 'blended_score', describe: "recommend()'s blended score (the served list's)", value: ({ candidate }) => candidate.blended },
  { name: 'blended_rank', describe: "position in recommend()'s list (0 first)", value: ({ candidate }) => candidate.blendedRank },
  {
    name: 'repeat_pull',
    describe: 'Σ over the days the user bought it of 0.5^(age / repeatHalfLifeDays) × dueFactor (0: never bought)',
    value: ({ user, candidate }) => user.signals.repeat.values.get(candidate.productId) ?? 0,
  },
  { name: 'user_item_days', describe: 'distinct days the user bought it on (at most purchaseDaysKept)', value: ({ days }) => days.length },
  { name: 'user_item_since_days', describe: 'days since the user last bought it (missing: never)', value: sinceDays },
  { name: 'user_item_cycle_days', describe: 'the user’s average days between buying it (missing: fewer than 2 days)', value: cycleDays },
  {
    name: 'user_item_due',
    describe: '(days since + 1) / (cycle + 1): above 1 overdue (missing: no cycle)',
    value: (input) => (input.days.length < 2 ? Number.NaN : (sinceDays(input) + 1) / (cycleDays(input) + 1)),
  },
  {
    name: 'user_item_due_factor',
    describe: 'recommend()’s dueFactor for it (1: no cycle)',
    value: ({ user, days }) => dueFactor(days, user.input.now, user.input.config),
  },
  {
    name: 'user_item_interest',
    describe: 'interest: event weights decayed with affinityHalfLifeDays',
    value: ({ user, candidate }) => user.signals.interest.get(candidate.productId) ?? 0,
  },
  ...EVENT_TYPE_NAMES.map(
    (type): FeatureDescriptor => ({ name: `user_item_${type.toLowerCase()}s`, describe: `the user’s kept ${type} events of it`, value: eventCount(type) }),
  ),
  {
    name: 'also_bought',
    describe: 'co-purchase neighbour score from the user’s anchors, normalized',
    value: ({ user, candidate }) => user.alsoBought.normalized(candidate.productId),
  },
  {
    name: 'also_viewed',
    describe: 'co-view neighbour score from the user’s anchors, normalized',
    value: ({ user, candidate }) => user.alsoViewed.normalized(candidate.productId),
  },
  {
    name: 'category_top',
    describe: 'best seller of the user’s top categories, normalized',
    value: ({ user, candidate }) => user.categoryTop.normalized(candidate.productId),
  },
  {
    name: 'category_affinity',
    describe: 'the user’s interest in its category ÷ their strongest category’s (0: none)',
    value: ({ user, candidate }) => {
      const categoryId = user.input.catalog.product(candidate.productId)?.categoryId;
      return categoryId === undefined || user.strongestCategory <= 0 ? 0 : (user.categoryInterest.get(categoryId) ?? 0) / user.strongestCategory;
    },
  },
  { name: 'buyers_7d', describe: 'distinct buyers in the last 7 days', value: ({ user, buyers }) => buyersIn(buyers, user.today, 7) },
  { name: 'buyers_30d', describe: 'distinct buyers in the last 30 days', value: ({ user, buyers }) => buyersIn(buyers, user.today, 30) },
  { name: 'buyers_90d', describe: 'distinct buyers in the last 90 days', value: ({ user, buyers }) => buyersIn(buyers, user.today, 90) },
  { name: 'buyers_total', describe: 'distinct buyers ever', value: ({ buyers }) => buyers.total },
  {
    name: 'repurchase_rate',
    describe: 'share of its buyers who bought it on more than one day, smoothed by repurchasePrior',
    value: ({ user, buyers }) => {
      const { rate, weight } = user.input.config.repurchasePrior;
      return buyers.total + weight > 0 ? (buyers.repeat + weight * rate) / (buyers.total + weight) : 0;
    },
  },
  {
    name: 'demand_ratio',
    describe: '(buyers in the last demandWindowDays + 1) / (all its buyers + 1)',
    value: ({ user, buyers }) => (buyersIn(buyers, user.today, user.input.config.demandWindowDays) + 1) / (buyers.total + 1),
  },
  {
    name: 'popular_rank',
    describe: 'position in the 30-day best sellers of the catalog (missing: not in them)',
    value: ({ user, candidate }) => user.popularRank.get(candidate.productId) ?? Number.NaN,
  },
  { name: 'price', describe: 'unit price (missing: unknown)', value: ({ user, candidate }) => user.input.price?.(candidate.productId) ?? Number.NaN },
  { name: 'user_purchase_days', describe: 'distinct days the user bought anything on (as kept)', value: ({ user }) => user.purchaseDays },
  { name: 'user_products', describe: 'distinct products the user bought (as kept)', value: ({ user }) => user.productsBought },
  {
    name: 'user_since_days',
    describe: 'days since the user last bought anything (missing: never)',
    value: ({ user }) => (user.lastPurchaseDay === undefined ? Number.NaN : Math.max(0, user.input.now / DAY_MS - user.lastPurchaseDay)),
  },
  { name: 'user_events', describe: 'the user’s kept events', value: ({ user }) => user.input.state?.events.length ?? 0 },
];

export const RANKER_FEATURE_NAMES: readonly string[] = RANKER_FEATURES.map((feature) => feature.name);

/** The feature row of one candidate, in RANKER_FEATURES' order: written into `row` when given (scoring many without allocating one each). */
export function candidateFeatures(user: UserContext, candidate: Candidate, row = new Float64Array(RANKER_FEATURES.length)): Float64Array {
  const { state, read } = user.input;
  const bought = state?.purchaseDays.get(candidate.productId) ?? [];
  const days = bought.length === 0 ? bought : bought.filter((day) => !isHidden(user.hidden, candidate.productId, day * DAY_MS));
  const input: FeatureInput = { user, candidate, buyers: read.productBuyers(candidate.productId), days };
  for (let i = 0; i < RANKER_FEATURES.length; i++) row[i] = RANKER_FEATURES[i]!.value(input);
  return row;
}
