import { connectRedis, createLogger, createRegistry, exitOnStartupError, listen, onShutdown, type Logger } from '@recs/shared';
import { gatewayConfig } from './config.ts';
import { createGatewayServer, GRAPHQL_PATH } from './server.ts';

let logger: Logger | undefined;
try {
  const config = gatewayConfig();
  logger = createLogger('gateway', config.LOG_LEVEL);
  // the process's one registry: process and Redis metrics here, the gateway's own in createGatewayServer
  const metrics = createRegistry('gateway');
  const redis = await connectRedis(config.REDIS_URL, logger, 'gateway', metrics);
  const gateway = await createGatewayServer({ config, logger, redis, metrics });
  const host = config.HOST;
  const port = await listen(gateway.http, config.PORT, host);
  logger.info({ host, port }, `gateway listening on http://${host}:${port}${GRAPHQL_PATH} (HTTP and graphql-ws)`);
  onShutdown(logger, [() => gateway.stop(), () => redis.close()]);
} catch (error) {
  exitOnStartupError(logger, error);
}
