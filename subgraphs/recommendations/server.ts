import type { EngineConfig } from '@recs/engine';
import { subgraphTypeDefs } from '@recs/schema';
import { createSubgraphHttp, type ExperimentSetting, type SubgraphHttp, type SubgraphOptions } from '@recs/shared';
import { Experiments } from './experiments.ts';
import { createLoaders, resolvers, type RecommendationsContext } from './resolvers.ts';
import type { RecommendationStore } from './store.ts';

export interface RecommendationsServerOptions extends SubgraphOptions {
  readonly store: RecommendationStore;
  readonly engine: EngineConfig;
  /** The online experiment (RECS_EXPERIMENT); none: everyone is served `blend`. */
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
      context: () => ({ store: options.store, engine: options.engine, experiments, ...createLoaders(options.store) }),
    },
    options,
  );
  return { ...server, experiments };
}
