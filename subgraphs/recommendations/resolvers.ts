import { KIND_CODE, type CatalogProduct, type EngineConfig, type Neighbour, type RecommendationItem, type SimilarityKind } from '@recs/engine';
import {
  badUserInput,
  catalogLoaders,
  coocDocId,
  EXPERIMENT_NAME,
  optionalId,
  requireAdmin,
  requireId,
  requireUserAccess,
  type CategoryDoc,
  type ProductDoc,
  type StoredList,
  type SubgraphContext,
} from '@recs/shared';
import DataLoader from 'dataloader';
import { GraphQLError, Kind, type GraphQLResolveInfo } from 'graphql';
import type { Experiments } from './experiments.ts';
import type { Resolvers } from './generated/resolvers.ts';
import { controlledItems, servingControls, type ControlArgs } from './servingControls.ts';
import { catalogProductOf, type RecommendationStore } from './store.ts';

export interface RecommendationsContext extends SubgraphContext {
  readonly store: RecommendationStore;
  readonly engine: EngineConfig;
  /** The running experiment: each user's variant, recommendationIds, the tallies. */
  readonly experiments: Experiments;
  /** Neighbour lists by co-occurrence id, batched per request. */
  readonly neighbours: DataLoader<string, readonly Neighbour[]>;
  /** A subscription's hydration (READ_FRESH_HEADER): read lists from MongoDB, not the cache. */
  readonly fresh?: boolean;
  /** Category and stock by product id (null: not in the catalog), batched per request (serving controls). */
  readonly catalog: DataLoader<string, CatalogProduct | null>;
  /** Catalog rows by id (null: not in the catalog), batched per request: the product fields this subgraph provides. */
  readonly products: DataLoader<string, ProductDoc | null>;
  readonly categories: DataLoader<string, CategoryDoc | null>;
}

export function createLoaders(store: RecommendationStore): Pick<RecommendationsContext, 'neighbours' | 'catalog' | 'products' | 'categories'> {
  const { products, categories } = catalogLoaders(store.catalogReader);
  return {
    products,
    categories,
    // the serving controls' view of the same rows: one read of the catalog per request
    catalog: new DataLoader(async (ids: readonly string[]) =>
      (await products.loadMany(ids)).map((row) => (row === null || row instanceof Error ? row : catalogProductOf(row))),
    ),
    neighbours: new DataLoader(async (ids: readonly string[]) => {
      const found = await store.neighbours(ids);
      return ids.map((id) => found.get(id) ?? []);
    }),
  };
}

/** A User or Product of this subgraph: only its key (codegen's mapper for both). */
export interface EntityRef {
  readonly id: string;
}

const productRef = (id: string) => ({ __typename: 'Product', id });

function checkLimit(limit: number, max: number): void {
  if (!Number.isInteger(limit) || limit < 0 || limit > max) throw badUserInput(`limit must be from 0 to ${max}`);
}

function ranked(items: readonly (readonly [string, number])[], limit: number) {
  return items.slice(0, limit).map(([id, score], i) => ({ product: productRef(id), rank: i + 1, score }));
}

/**
 * A user's list, or (never computed: no history yet) the overall best sellers; under the serving
 * controls the arguments ask for (see servingControls.ts), checked before anything is read, and
 * those of the user's variant (servingPolicies.ts). Counted as served, with its signed id.
 */
async function recommendationList(userId: string, limit: number, args: ControlArgs, ctx: RecommendationsContext) {
  requireUserAccess(ctx.identity, userId);
  checkLimit(limit, ctx.engine.listSize);
  const assignment = ctx.experiments.assign(userId);
  const controls = assignment.policy.controls(servingControls(args, limit), limit);
  let list: StoredList | undefined = await ctx.store.list(userId, ctx.fresh === true);
  const coldStart = list === undefined;
  if (list === undefined) {
    const popular = await ctx.store.bestSellers(null, ctx.engine.defaultWindowDays, ctx.fresh === true);
    const items: RecommendationItem[] = popular.items.map(([productId, buyers]) => ({ productId, score: buyers, reasons: ['POPULAR'] }));
    list = { userId, items, strategy: 'BEST_SELLERS', generatedAt: popular.changedAt, version: 0 };
  }
  const picked = assignment.policy.pick(list);
  const items =
    controls === undefined ? picked.items.slice(0, limit) : await controlledItems({ ...list, items: picked.items }, coldStart, controls, limit, ctx);
  return {
    userId,
    strategy: list.strategy,
    generatedAt: new Date(list.generatedAt),
    version: list.version,
    items: items.map((item) => ({ product: productRef(item.productId), score: item.score, reasons: item.reasons })),
    recommendationId: ctx.experiments.served(userId, assignment, { strategy: list.strategy, version: list.version, items: items.length, model: picked.model }),
    variant: assignment.variant,
    modelVersion: picked.model,
  };
}

async function experimentReport(name: string, ctx: RecommendationsContext) {
  requireAdmin(ctx.identity);
  if (!EXPERIMENT_NAME.test(name)) throw badUserInput('name must be 1-32 letters, digits, _ or -', { argument: 'name' });
  return ctx.experiments.report(name);
}

/** The training job's models for admins: the summary of each (ranker_models), newest first. */
async function rankerModels(limit: number, ctx: RecommendationsContext) {
  requireAdmin(ctx.identity);
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_RANKER_MODELS)
    throw badUserInput(`limit must be from 1 to ${MAX_RANKER_MODELS}`, { argument: 'limit' });
  return (await ctx.store.rankerModels(limit)).map((model) => ({
    version: model._id,
    status: model.status.toUpperCase() as 'SERVING' | 'RETIRED' | 'REFUSED',
    reason: model.reason,
    trainedAt: model.trainedAt,
    promotedAt: model.promotedAt ?? null,
    trainedFrom: model.trainedOn.from,
    trainedUntil: model.trainedOn.until,
    trainingBaskets: model.trainedOn.queries,
    holdoutBaskets: model.holdout.queries,
    holdoutK: model.holdout.k,
    recall: model.holdout.model.recall,
    ndcg: model.holdout.model.ndcg,
    blendRecall: model.holdout.blend.recall,
    blendNdcg: model.holdout.blend.ndcg,
    servingVersion: model.holdout.serving?.version ?? null,
    servingNdcg: model.holdout.serving?.ndcg ?? null,
    trees: model.trees,
    bytes: model.bytes,
    topFeatures: model.importance.slice(0, 10),
  }));
}

/** rankerModels' limit at most. */
const MAX_RANKER_MODELS = 100;

async function similar(productId: string, kind: SimilarityKind, limit: number, ctx: RecommendationsContext) {
  checkLimit(limit, ctx.engine.neighboursPerItem);
  return ranked(await ctx.neighbours.load(coocDocId(KIND_CODE[kind], productId)), limit);
}

async function bestSellers(categoryId: string | null, limit: number, windowDays: number, ctx: RecommendationsContext) {
  checkLimit(limit, ctx.engine.bestSellersSize);
  if (!Number.isInteger(windowDays) || windowDays < 1 || windowDays > ctx.engine.maxWindowDays) {
    throw badUserInput(`windowDays must be from 1 to ${ctx.engine.maxWindowDays}`);
  }
  return ctx.store.bestSellers(categoryId, windowDays, ctx.fresh === true);
}

/** A product this subgraph names: its key, and its catalog row once read (null: not in the catalog). */
export interface ProductRef extends EntityRef {
  readonly row?: ProductDoc | null;
}

/**
 * A provided field of a product: from the catalog row read with the list (see `withRow`), else
 * read now. One that is not in the catalog is an error, as the null entity the products subgraph
 * answers for it is where the field is non-null (lists name catalog products only: the workers
 * leave others out).
 */
function provided<T>(product: ProductRef, ctx: RecommendationsContext, field: (row: ProductDoc) => T): T | Promise<T> {
  const present = (row: ProductDoc | null) => {
    if (row === null) throw new GraphQLError(`Product ${product.id} is not in the catalog`, { extensions: { code: 'NOT_FOUND' } });
    return field(row);
  };
  return product.row === undefined ? ctx.products.load(product.id).then(present) : present(product.row);
}

/**
 * A list item's product, with its catalog row when the selection asks for more than its key: the
 * rows of a page are read in one batch, and each provided field is then a plain property read.
 */
function withRow(product: ProductRef, ctx: RecommendationsContext, info: GraphQLResolveInfo): ProductRef | Promise<ProductRef> {
  const wantsRow = info.fieldNodes.some((node) =>
    node.selectionSet?.selections.some(
      (selection) => selection.kind !== Kind.FIELD || (selection.name.value !== 'id' && selection.name.value !== '__typename'),
    ),
  );
  return wantsRow ? ctx.products.load(product.id).then((row) => ({ id: product.id, row })) : product;
}

const servedByGateway = () => {
  throw new GraphQLError('Subscriptions are served by the gateway over graphql-ws', { extensions: { code: 'BAD_REQUEST' } });
};

export const resolvers = {
  Query: {
    recommendations: (_, { userId, limit, ...controls }, ctx) => recommendationList(requireId(userId, 'userId'), limit, controls, ctx),
    bestSellers: async (_, { categoryId, limit, windowDays }, ctx) =>
      ranked((await bestSellers(optionalId(categoryId, 'categoryId') ?? null, limit, windowDays, ctx)).items, limit),
    similarProducts: (_, { productId, kind, limit }, ctx) => similar(requireId(productId, 'productId'), kind, limit, ctx),
    bestSellersSnapshot: async (_, { categoryId, limit }, ctx) => {
      const list = await bestSellers(optionalId(categoryId, 'categoryId') ?? null, limit, ctx.engine.defaultWindowDays, ctx);
      return { categoryId: list.categoryId, items: ranked(list.items, limit), changedAt: new Date(list.changedAt) };
    },
    experimentReport: (_, { name }, ctx) => experimentReport(name, ctx),
    rankerModels: (_, { limit }, ctx) => rankerModels(limit, ctx),
  },
  Subscription: {
    recommendationsChanged: { subscribe: servedByGateway },
    bestSellersChanged: { subscribe: servedByGateway },
  },
  User: {
    __resolveReference: (ref) => ({ id: ref.id }),
    recommendations: (user, { limit, ...controls }, ctx) => recommendationList(user.id, limit, controls, ctx),
  },
  Product: {
    __resolveReference: (ref) => ({ id: ref.id }),
    alsoViewed: (product, { limit }, ctx) => similar(product.id, 'ALSO_VIEWED', limit, ctx),
    alsoBought: (product, { limit }, ctx) => similar(product.id, 'ALSO_BOUGHT', limit, ctx),
    // the fields provided where a list names a product, read as the products subgraph reads them
    name: (product, _, ctx) => provided(product, ctx, (row) => row.name),
    price: (product, _, ctx) => provided(product, ctx, (row) => row.price ?? null),
    currency: (product, _, ctx) => provided(product, ctx, (row) => row.currency),
    imageUrl: (product, _, ctx) => provided(product, ctx, (row) => row.imageUrl ?? null),
    inStock: (product, _, ctx) => provided(product, ctx, (row) => row.inStock),
    category: async (product, _, ctx) => {
      const categoryId = await provided(product, ctx, (row) => row.categoryId);
      const category = categoryId === undefined ? null : await ctx.categories.load(categoryId);
      return category === null ? null : { id: category._id, name: category.name };
    },
  },
  Recommendation: {
    product: (item, _, ctx, info) => withRow(item.product, ctx, info),
  },
  RankedProduct: {
    product: (item, _, ctx, info) => withRow(item.product, ctx, info),
  },
} satisfies Resolvers;
