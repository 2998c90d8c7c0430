import { instrumentRedis, RedisNames, runService, serve, storesReady } from '@recs/shared';
import { productsConfig } from './config.ts';
import { createProductsServer } from './server.ts';
import { ProductStore } from './store.ts';

await runService('products', productsConfig, async (context) => {
  const { config, logger, mongo, redis } = context;
  const names = new RedisNames(config.QUEUE_PREFIX);
  const store = new ProductStore(mongo.db, { publish: { redis, names } });
  // other replicas' (and the import's) catalog changes empty this replica's cache
  const subscriber = redis.duplicate();
  subscriber.on('error', () => undefined);
  instrumentRedis(subscriber, context.metrics);
  await subscriber.connect();
  await subscriber.subscribe(names.catalogChannel(), () => store.invalidate());
  const server = await createProductsServer({
    store,
    jwtSecret: config.JWT_SECRET,
    logger,
    production: config.NODE_ENV === 'production',
    ready: storesReady(context),
    // GraphQL and HTTP metrics, and GET /metrics (with the process and store metrics runService put there)
    metrics: context.metrics,
  });
  return [...(await serve(context, 'products subgraph', server)), () => subscriber.close()];
});
