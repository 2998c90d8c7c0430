import { DEFAULT_ENGINE_CONFIG } from '@recs/engine';
import { instrumentRedis, RedisNames, redisErrorListener, runService, serve, storesReady } from '@recs/shared';
import { recommendationsConfig } from './config.ts';
import { ListCache } from './listCache.ts';
import { createRecommendationsServer } from './server.ts';
import { RecommendationStore } from './store.ts';

await runService('recommendations', recommendationsConfig, async (context) => {
  const { config, logger, mongo, redis } = context;
  const engine = DEFAULT_ENGINE_CONFIG;
  // hot lists in memory, dropped as the workers announce new versions on their channels
  const lists = new ListCache();
  const subscriber = redis.duplicate();
  subscriber.on('error', redisErrorListener(logger, 'list change subscriber'));
  instrumentRedis(subscriber, context.metrics);
  await subscriber.connect();
  await lists.follow(subscriber, new RedisNames(config.QUEUE_PREFIX), logger);
  const server = await createRecommendationsServer({
    store: new RecommendationStore(mongo.db, engine.bestSellerWindows, undefined, { lists }),
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
  return [...(await serve(context, 'recommendations subgraph', server)), () => subscriber.close(), () => server.experiments.close()];
});
