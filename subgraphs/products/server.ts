import type { IncomingMessage, Server } from 'node:http';
import { subgraphTypeDefs } from '@recs/schema';
import { createGraphQLHttpServer, createSubgraphServer, requestIdentity, type Logger } from '@recs/shared';
import type { ApolloServer } from '@apollo/server';
import { createLoaders, resolvers, type ProductsContext } from './resolvers.ts';
import type { ProductStore } from './store.ts';

export interface ProductsServerOptions {
  readonly store: ProductStore;
  readonly jwtSecret: string;
  readonly logger: Logger;
  readonly production: boolean;
  readonly ready?: () => Promise<boolean>;
}

export interface ProductsServer {
  readonly apollo: ApolloServer<ProductsContext>;
  readonly http: Server;
}

/** Builds the products subgraph (Apollo Server over node:http); the caller starts and listens. */
export async function createProductsServer(options: ProductsServerOptions): Promise<ProductsServer> {
  const apollo = createSubgraphServer<ProductsContext>({
    typeDefs: subgraphTypeDefs('products'),
    resolvers,
    logger: options.logger,
    production: options.production,
  });
  await apollo.start();
  const http = createGraphQLHttpServer({
    server: apollo,
    context: async (req: IncomingMessage) => ({
      identity: await requestIdentity(req, options.jwtSecret),
      store: options.store,
      ...createLoaders(options.store),
    }),
    ...(options.ready === undefined ? {} : { ready: options.ready }),
  });
  return { apollo, http };
}
