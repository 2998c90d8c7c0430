import { subgraphTypeDefs } from '@recs/schema';
import { createSubgraphHttp, type SubgraphHttp, type SubgraphOptions } from '@recs/shared';
import { createLoaders, resolvers, type ProductsContext } from './resolvers.ts';
import type { ProductStore } from './store.ts';

export interface ProductsServerOptions extends SubgraphOptions {
  readonly store: ProductStore;
}

export type ProductsServer = SubgraphHttp<ProductsContext>;

/** Builds the products subgraph (Apollo Server over node:http); the caller listens. */
export function createProductsServer(options: ProductsServerOptions): Promise<ProductsServer> {
  return createSubgraphHttp<ProductsContext>(
    { typeDefs: subgraphTypeDefs('products'), resolvers, context: () => ({ store: options.store, ...createLoaders(options.store) }) },
    options,
  );
}
