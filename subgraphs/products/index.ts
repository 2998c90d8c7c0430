import { closeServer, connectMongo, connectRedis, createLogger, ensureIndexes, exitOnStartupError, listen, onShutdown, RedisNames, type Logger } from '@recs/shared';
import { productsConfig } from './config.ts';
import { createProductsServer } from './server.ts';
import { ProductStore } from './store.ts';

let logger: Logger | undefined;
try {
  const config = productsConfig();
  logger = createLogger('products', config.LOG_LEVEL);
  const mongo = await connectMongo(config.MONGO_URL, config.MONGO_DB, logger, 'recs-products');
  await ensureIndexes(mongo.db);
  const redis = await connectRedis(config.REDIS_URL, logger, 'products');
  const names = new RedisNames(config.QUEUE_PREFIX);
  const store = new ProductStore(mongo.db, { publish: { redis, names } });
  // other replicas' (and the import's) catalog changes empty this replica's cache
  const subscriber = redis.duplicate();
  subscriber.on('error', () => undefined);
  await subscriber.connect();
  await subscriber.subscribe(names.catalogChannel(), () => store.invalidate());
  const server = await createProductsServer({
    store,
    jwtSecret: config.JWT_SECRET,
    logger,
    production: config.NODE_ENV === 'production',
    ready: async () => (await mongo.db.command({ ping: 1 }), redis.isReady),
  });
  const port = await listen(server.http, config.PORT, config.HOST);
  logger.info({ host: config.HOST, port }, `products subgraph listening on http://${config.HOST}:${port}/graphql`);
  onShutdown(logger, [() => closeServer(server.http), () => server.apollo.stop(), () => subscriber.close(), () => redis.close(), () => mongo.close()]);
} catch (error) {
  exitOnStartupError(logger, error);
}
