import { DEFAULT_ENGINE_CONFIG } from '@recs/engine';
import { runService, serve, storesReady } from '@recs/shared';
import { recommendationsConfig } from './config.ts';
import { createRecommendationsServer } from './server.ts';
import { RecommendationStore } from './store.ts';

await runService('recommendations', recommendationsConfig, async (context) => {
  const { config, logger, mongo } = context;
  const engine = DEFAULT_ENGINE_CONFIG;
  const server = await createRecommendationsServer({
    store: new RecommendationStore(mongo.db, engine.bestSellerWindows),
    engine,
    jwtSecret: config.JWT_SECRET,
    logger,
    production: config.NODE_ENV === 'production',
    ready: storesReady(context),
    // GraphQL and HTTP metrics, and GET /metrics (with the process and store metrics runService put there)
    metrics: context.metrics,
  });
  return serve(context, 'recommendations subgraph', server);
});
