import { connectRedis, createLogger, exitOnStartupError, listen, onShutdown, type Logger } from '@recs/shared';
import { gatewayConfig } from './config.ts';
import { createGatewayServer, GRAPHQL_PATH } from './server.ts';

let logger: Logger | undefined;
try {
  const config = gatewayConfig();
  logger = createLogger('gateway', config.LOG_LEVEL);
  const redis = await connectRedis(config.REDIS_URL, logger, 'gateway');
  const gateway = await createGatewayServer({ config, logger, redis });
  const host = config.HOST;
  const port = await listen(gateway.http, config.PORT, host);
  logger.info({ host, port }, `gateway listening on http://${host}:${port}${GRAPHQL_PATH} (HTTP and graphql-ws)`);
  onShutdown(logger, [() => gateway.stop(), () => redis.close()]);
} catch (error) {
  exitOnStartupError(logger, error);
}
