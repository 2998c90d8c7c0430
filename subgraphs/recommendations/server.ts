import type { IncomingMessage, Server } from 'node:http';
import type { ApolloServer } from '@apollo/server';
import type { EngineConfig } from '@recs/engine';
import { subgraphTypeDefs } from '@recs/schema';
import { createGraphQLHttpServer, createSubgraphServer, requestIdentity, type Logger } from '@recs/shared';
import { createLoaders, resolvers, type RecommendationsContext } from './resolvers.ts';
import type { RecommendationStore } from './store.ts';

export interface RecommendationsServerOptions {
  readonly store: RecommendationStore;
  readonly engine: EngineConfig;
  readonly jwtSecret: string;
  readonly logger: Logger;
  readonly production: boolean;
  readonly ready?: () => Promise<boolean>;
}

export interface RecommendationsServer {
  readonly apollo: ApolloServer<RecommendationsContext>;
  readonly http: Server;
}

/** Builds the recommendations subgraph (Apollo Server over node:http); the caller listens. */
export async function createRecommendationsServer(options: RecommendationsServerOptions): Promise<RecommendationsServer> {
  const apollo = createSubgraphServer<RecommendationsContext>({
    typeDefs: subgraphTypeDefs('recommendations'),
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
      engine: options.engine,
      ...createLoaders(options.store),
    }),
    ...(options.ready === undefined ? {} : { ready: options.ready }),
  });
  return { apollo, http };
}
