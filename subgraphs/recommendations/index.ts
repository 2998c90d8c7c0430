import { DEFAULT_ENGINE_CONFIG } from '@recs/engine';
import { closeServer, connectMongo, createLogger, exitOnStartupError, listen, onShutdown, type Logger } from '@recs/shared';
import { recommendationsConfig } from './config.ts';
import { createRecommendationsServer } from './server.ts';
import { RecommendationStore } from './store.ts';

let logger: Logger | undefined;
try {
  const config = recommendationsConfig();
  logger = createLogger('recommendations', config.LOG_LEVEL);
  const mongo = await connectMongo(config.MONGO_URL, config.MONGO_DB, logger, 'recs-recommendations');
  const engine = DEFAULT_ENGINE_CONFIG;
  const server = await createRecommendationsServer({
    store: new RecommendationStore(mongo.db, engine.bestSellerWindows),
    engine,
    jwtSecret: config.JWT_SECRET,
    logger,
    production: config.NODE_ENV === 'production',
    ready: async () => (await mongo.db.command({ ping: 1 }), true),
  });
  const port = await listen(server.http, config.PORT, config.HOST);
  logger.info({ host: config.HOST, port }, `recommendations subgraph listening on http://${config.HOST}:${port}/graphql`);
  onShutdown(logger, [() => closeServer(server.http), () => server.apollo.stop(), () => mongo.close()]);
} catch (error) {
  exitOnStartupError(logger, error);
}
