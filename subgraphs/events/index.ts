import {
  closeServer,
  connectMongo,
  connectRedis,
  createLogger,
  ensureIndexes,
  eventsQueue,
  exitOnStartupError,
  listen,
  onShutdown,
  type Logger,
} from '@recs/shared';
import { eventsConfig } from './config.ts';
import { Ingestor } from './ingest.ts';
import { createEventsServer } from './server.ts';
import { EventStore } from './store.ts';

let logger: Logger | undefined;
try {
  const config = eventsConfig();
  logger = createLogger('events', config.LOG_LEVEL);
  const mongo = await connectMongo(config.MONGO_URL, config.MONGO_DB, logger, 'recs-events');
  await ensureIndexes(mongo.db);
  const redis = await connectRedis(config.REDIS_URL, logger, 'events');
  const queue = eventsQueue(redis, config.QUEUE_PREFIX);
  const store = new EventStore(mongo.db);
  const server = await createEventsServer({
    store,
    ingestor: new Ingestor({ store, queue, logger }),
    jwtSecret: config.JWT_SECRET,
    logger,
    production: config.NODE_ENV === 'production',
    ready: async () => (await mongo.db.command({ ping: 1 }), redis.isReady),
  });
  const port = await listen(server.http, config.PORT, config.HOST);
  logger.info({ host: config.HOST, port }, `events subgraph listening on http://${config.HOST}:${port}/graphql`);
  onShutdown(logger, [
    () => closeServer(server.http),
    () => server.apollo.stop(),
    () => queue.close(),
    () => redis.close(),
    () => mongo.close(),
  ]);
} catch (error) {
  exitOnStartupError(logger, error);
}
