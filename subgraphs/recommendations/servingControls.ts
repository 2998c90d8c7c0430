import { ControlledList, leftOutFor, roundScore, type CatalogProduct, type EngineConfig, type RecommendationItem, type ServingControls } from '@recs/engine';
import { badUserInput, MAX_IDS_PER_ARGUMENT, optionalId, requireIds, type StoredList } from '@recs/shared';
import type DataLoader from 'dataloader';
import type { RecommendationStore } from './store.ts';

/** The serving-control arguments of `recommendations` (Query, User and the subscription's twin). */
export interface ControlArgs {
  readonly exclude?: readonly string[] | null | undefined;
  readonly categoryId?: string | null | undefined;
  readonly maxPerCategory?: number | null | undefined;
}

/**
 * The controls the arguments ask for, checked before anything is read (BAD_USER_INPUT naming
 * the argument); undefined when they ask for none, so a plain request is served as before.
 */
export function servingControls(args: ControlArgs, limit: number): ServingControls | undefined {
  const exclude = requireIds(args.exclude ?? [], 'exclude', MAX_IDS_PER_ARGUMENT);
  const categoryId = optionalId(args.categoryId, 'categoryId');
  const cap = args.maxPerCategory ?? undefined;
  if (cap !== undefined && (!Number.isInteger(cap) || cap < 1 || cap > limit)) {
    throw badUserInput(`maxPerCategory must be from 1 to limit (${limit}); got ${cap}`, { argument: 'maxPerCategory' });
  }
  if (exclude.length === 0 && categoryId === undefined && cap === undefined) return undefined;
  return { exclude: new Set(exclude), categoryId, maxPerCategory: cap };
}

export interface ControlSources {
  readonly store: RecommendationStore;
  readonly engine: EngineConfig;
  /** Category and stock by product id (null: not in the catalog), batched per request. */
  readonly catalog: DataLoader<string, CatalogProduct | null>;
}

/** Candidates whose catalog entries are read at once, at least. */
const MIN_CHUNK = 10;

/**
 * Offers candidates in order, reading their catalog entries in chunks of about twice what the
 * list still misses (one read of a few ids usually fills it, where reading all the best sellers
 * would cost several times more), until the list is full or they run out. The first chunk's
 * read waits for `ready` too (something `offer` needs, read meanwhile).
 */
async function offerInChunks(
  productIds: readonly string[],
  served: ControlledList,
  limit: number,
  catalog: ControlSources['catalog'],
  offer: (productId: string, product: CatalogProduct | undefined) => void,
  ready?: Promise<void>,
): Promise<void> {
  let next = 0;
  while (next < productIds.length && !served.full) {
    const chunk = productIds.slice(next, next + Math.max(MIN_CHUNK, 2 * (limit - served.items.length)));
    next += chunk.length;
    const [products] = await Promise.all([Promise.all(chunk.map((id) => catalog.load(id))), ready]);
    for (const [i, productId] of chunk.entries()) offer(productId, products[i] ?? undefined);
  }
}

/**
 * The list's items under the controls, up to `limit`: the stored list in its order (it holds
 * `engine.listSize` items, more than most limits, so a product left out makes room for the next
 * one), then, when it runs out, the `defaultWindowDays` best sellers of the category asked for
 * (or overall), as the cold start serves them, but only those in stock and not left out for the
 * user (in the cart, removed from the history), as list building would. Fewer when fewer pass.
 * `coldStart`: the list is the best sellers served to a user without one (its scores are buyers).
 */
export async function controlledItems(
  list: StoredList,
  coldStart: boolean,
  controls: ServingControls,
  limit: number,
  sources: ControlSources,
): Promise<readonly RecommendationItem[]> {
  const served = new ControlledList(controls, limit);
  // the stored items' categories matter only to a category or a cap; read at once (at most
  // listSize ids: one read costs less than several smaller ones in a row)
  const needsCategories = controls.categoryId !== undefined || controls.maxPerCategory !== undefined;
  const products = needsCategories ? await Promise.all(list.items.map((item) => sources.catalog.load(item.productId))) : [];
  for (const [i, item] of list.items.entries()) {
    if (served.full) break;
    served.offer(item, products[i]?.categoryId);
  }
  if (served.full) return served.items;

  const ranking = await sources.store.bestSellers(controls.categoryId ?? null, sources.engine.defaultWindowDays);
  const fresh = new Map(ranking.items.filter(([productId]) => !served.hasSeen(productId) && !controls.exclude.has(productId)));
  if (fresh.size === 0) return served.items;
  // what list building would have left out for the user, read alongside the first chunk
  let leftOut: ReadonlySet<string> = new Set();
  const ready = sources.store.userState(list.userId).then((state) => {
    leftOut = leftOutFor(state, Date.now(), sources.engine);
  });
  // scored as list building scores a product only the best sellers bring, never above what it follows
  const [reason, weight] =
    controls.categoryId === undefined ? ['POPULAR', sources.engine.blend.popular] : [`TOP_IN_CATEGORY:${controls.categoryId}`, sources.engine.blend.category];
  const top = ranking.items[0]?.[1] ?? 0;
  await offerInChunks(
    [...fresh.keys()],
    served,
    limit,
    sources.catalog,
    (productId, product) => {
      if (product === undefined || !product.inStock || leftOut.has(productId)) return;
      const buyers = fresh.get(productId)!;
      const score = coldStart ? buyers : top > 0 ? roundScore((weight * buyers) / top) : 0;
      served.offer({ productId, score: Math.min(score, served.items.at(-1)?.score ?? score), reasons: [reason] }, product.categoryId);
    },
    ready,
  );
  return served.items;
}
