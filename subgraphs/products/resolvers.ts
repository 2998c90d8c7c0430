import { badUserInput, catalogLoaders, optionalId, requireAdmin, requireId, requireIds, type SubgraphContext } from '@recs/shared';
import { isValidId } from '@recs/engine';
import type DataLoader from 'dataloader';
import { PRODUCT_LIMITS, ProductValidationError, validateProduct } from './catalog/product.ts';
import type { Resolvers } from './generated/resolvers.ts';
import type { CategoryDoc, ProductDoc, ProductStore } from './store.ts';

export interface ProductsContext extends SubgraphContext {
  readonly store: ProductStore;
  readonly products: DataLoader<string, ProductDoc | null>;
  readonly categories: DataLoader<string, CategoryDoc | null>;
}

/** Loaders live for one request, so each request batches its lookups into one query per kind. */
export function createLoaders(store: ProductStore): Pick<ProductsContext, 'products' | 'categories'> {
  return catalogLoaders(store.reader);
}

const MAX_PAGE = 100;

function encodeCursor(id: string): string {
  return Buffer.from(id, 'utf8').toString('base64url');
}

/** A cursor of a valid id at most: checked before decoding, so a huge one costs nothing. */
const MAX_CURSOR_LENGTH = Math.ceil((128 * 4 * 4) / 3);

function decodeCursor(cursor: string): string {
  const notACursor = () => badUserInput('after is not a cursor returned by products', { argument: 'after' });
  if (cursor.length > MAX_CURSOR_LENGTH) throw notACursor();
  const id = Buffer.from(cursor, 'base64url').toString('utf8');
  if (id === '' || encodeCursor(id) !== cursor) throw notACursor();
  try {
    return requireId(id, 'after');
  } catch {
    throw notACursor();
  }
}

export const resolvers = {
  Query: {
    product: (_, { id }, ctx) => ctx.products.load(requireId(id, 'id')),

    products: async (_, args, ctx) => {
      const first = args.first ?? 20;
      if (!Number.isInteger(first) || first < 0 || first > MAX_PAGE) throw badUserInput(`first must be from 0 to ${MAX_PAGE}`);
      const ids = args.ids == null ? undefined : requireIds(args.ids, 'ids', MAX_PAGE);
      const categoryId = optionalId(args.categoryId, 'categoryId');
      if (args.search != null && args.search.length > 200) throw badUserInput('search must be at most 200 characters');
      const page = await ctx.store.page({
        first,
        ...(ids === undefined ? {} : { ids }),
        ...(categoryId === undefined ? {} : { categoryId }),
        ...(args.search == null ? {} : { search: args.search }),
        ...(args.after == null ? {} : { after: decodeCursor(args.after) }),
      });
      for (const product of page.products) ctx.products.prime(product._id, product);
      const edges = page.products.map((node) => ({ cursor: encodeCursor(node._id), node }));
      return {
        edges,
        totalCount: page.totalCount,
        pageInfo: {
          hasNextPage: page.hasNextPage,
          hasPreviousPage: args.after != null,
          startCursor: edges[0]?.cursor ?? null,
          endCursor: edges.at(-1)?.cursor ?? null,
        },
      };
    },

    categories: (_, __, ctx) => ctx.store.categories(),
  },

  Mutation: {
    upsertProducts: async (_, { products }, ctx) => {
      requireAdmin(ctx.identity);
      if (products.length > PRODUCT_LIMITS.batch) throw badUserInput(`at most ${PRODUCT_LIMITS.batch} products per call`);
      const seen = new Set<string>();
      const records = products.map((input, index) => {
        try {
          const record = validateProduct(input);
          if (seen.has(record.id)) throw new ProductValidationError('id', `${record.id} appears twice`);
          seen.add(record.id);
          return record;
        } catch (error) {
          if (error instanceof ProductValidationError) {
            throw badUserInput(`products[${index}].${error.message}`, { index, field: error.field });
          }
          throw error;
        }
      });
      return ctx.store.upsert(records);
    },
  },

  Product: {
    // references come from other subgraphs' stored data; one that is not an id names no product (and is not cached)
    __resolveReference: (ref, ctx) => (isValidId(ref.id) ? ctx.products.load(ref.id) : null),
    id: (product) => product._id,
    category: (product, _, ctx) => (product.categoryId === undefined ? null : ctx.categories.load(product.categoryId)),
  },

  Category: {
    __resolveReference: (ref, ctx) => (isValidId(ref.id) ? ctx.categories.load(ref.id) : null),
    id: (category) => category._id,
  },
} satisfies Resolvers;
