import { DEFAULT_ENGINE_CONFIG } from '@recs/engine';
import { RedisNames, runService, serve, storesReady } from '@recs/shared';
import { recommendationsConfig } from './config.ts';
import { followChanges } from './caches.ts';
import { createRecommendationsServer } from './server.ts';
import { RecommendationStore } from './store.ts';

await runService('recommendations', recommendationsConfig, async (context) => {
  const { config, logger, mongo, redis } = context;
  const engine = DEFAULT_ENGINE_CONFIG;
  // hot lists and best sellers in memory, dropped as the workers announce changes on their channels
  const caches = await followChanges(mongo.db, redis, new RedisNames(config.QUEUE_PREFIX), logger, engine, context.metrics);
  const server = await createRecommendationsServer({
    store: new RecommendationStore(mongo.db, engine.bestSellerWindows, undefined, caches),
    engine,
    experiment: config.RECS_EXPERIMENT,
    jwtSecret: config.JWT_SECRET,
    logger,
    production: config.NODE_ENV === 'production',
    ready: storesReady(context),
    // GraphQL and HTTP metrics, and GET /metrics (with the process and store metrics runService put there)
    metrics: context.metrics,
  });
  if (config.RECS_EXPERIMENT !== undefined) logger.info({ experiment: config.RECS_EXPERIMENT }, 'running an experiment');
  // the tallies last: lists served until the server stopped are written
  return [...(await serve(context, 'recommendations subgraph', server)), () => caches.close(), () => server.experiments.close()];
});
