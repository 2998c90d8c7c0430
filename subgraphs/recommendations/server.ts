import type { EngineConfig } from '@recs/engine';
import { subgraphTypeDefs } from '@recs/schema';
import { createSubgraphHttp, type SubgraphHttp, type SubgraphOptions } from '@recs/shared';
import { createLoaders, resolvers, type RecommendationsContext } from './resolvers.ts';
import type { RecommendationStore } from './store.ts';

export interface RecommendationsServerOptions extends SubgraphOptions {
  readonly store: RecommendationStore;
  readonly engine: EngineConfig;
}

export type RecommendationsServer = SubgraphHttp<RecommendationsContext>;

/** Builds the recommendations subgraph (Apollo Server over node:http); the caller listens. */
export function createRecommendationsServer(options: RecommendationsServerOptions): Promise<RecommendationsServer> {
  return createSubgraphHttp<RecommendationsContext>(
    {
      typeDefs: subgraphTypeDefs('recommendations'),
      resolvers,
      context: () => ({ store: options.store, engine: options.engine, ...createLoaders(options.store) }),
    },
    options,
  );
}
