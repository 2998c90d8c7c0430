import type { EngineConfig } from '@recs/engine';
import { subgraphTypeDefs } from '@recs/schema';
import { createSubgraphHttp, type ExperimentSetting, type SubgraphHttp, type SubgraphOptions, READ_FRESH_HEADER } from '@recs/shared';
import { Experiments } from './experiments.ts';
import { createLoaders, resolvers, type RecommendationsContext } from './resolvers.ts';
import type { RecommendationStore } from './store.ts';

export interface RecommendationsServerOptions extends SubgraphOptions {
  readonly store: RecommendationStore;
  readonly engine: EngineConfig;
  /** The online experiment (RECS_EXPERIMENT); none: everyone is served DEFAULT_VARIANT (`ranker`). */
  readonly experiment?: ExperimentSetting | undefined;
}

export interface RecommendationsServer extends SubgraphHttp<RecommendationsContext> {
  /** Variants, recommendationIds and tallies; close() it on shutdown, after the server, to write what is pending. */
  readonly experiments: Experiments;
}

export { Experiments } from './experiments.ts';

/** Builds the recommendations subgraph (Apollo Server over node:http); the caller listens. */
export async function createRecommendationsServer(options: RecommendationsServerOptions): Promise<RecommendationsServer> {
  const experiments = new Experiments({
    setting: options.experiment,
    secret: options.jwtSecret,
    tallies: options.store.tallies,
    logger: options.logger,
    metrics: options.metrics,
  });
  const server = await createSubgraphHttp<RecommendationsContext>(
    {
      typeDefs: subgraphTypeDefs('recommendations'),
      resolvers,
      // a subscription's hydration asks for the stored list, not the cached one (READ_FRESH_HEADER)
      context: (req) => ({
        store: options.store,
        engine: options.engine,
        experiments,
        fresh: req.headers[READ_FRESH_HEADER] === '1',
        ...createLoaders(options.store),
      }),
    },
    options,
  );
  return { ...server, experiments };
}
