import type { Server } from 'node:http';
import type { Registry } from 'prom-client';
import type { BaseConfig } from './config.ts';
import { closeServer, listen } from './http.ts';
import { createLogger, type Logger } from './logger.ts';
import { createRegistry } from './metrics.ts';
import { connectMongo, ensureIndexes, type MongoConnection } from './mongo.ts';
import { connectRedis, type RedisClient } from './redis.ts';
import { exitOnStartupError, onShutdown } from './shutdown.ts';

/** One step of a clean shutdown: stop accepting, drain, close. */
export type ShutdownStep = () => Promise<unknown>;

/** What a service process starts with: its config, a logger and open connections. */
export interface ServiceContext<C extends BaseConfig> {
  readonly config: C;
  readonly logger: Logger;
  readonly mongo: MongoConnection;
  readonly redis: RedisClient;
  /**
   * The process's one metrics registry (`service` label = the service's name), already holding
   * the process, MongoDB and Redis metrics; the service adds its own and serves it on /metrics.
   */
  readonly metrics: Registry;
}

/**
 * The start of every service process (subgraphs, workers) in one place: the config read once (a
 * bad variable stops the process with a message naming it), a logger, MongoDB (indexes ensured)
 * and Redis (both instrumented in the process's metrics registry), then the service's own start.
 * On SIGTERM or SIGINT the service's steps run first and the connections are closed last.
 */
export async function runService<C extends BaseConfig>(
  name: string,
  readConfig: () => C,
  start: (context: ServiceContext<C>) => Promise<readonly ShutdownStep[]>,
): Promise<void> {
  let logger: Logger | undefined;
  try {
    const config = readConfig();
    logger = createLogger(name, config.LOG_LEVEL);
    const metrics = createRegistry(name);
    const mongo = await connectMongo(config.MONGO_URL, config.MONGO_DB, logger, `recs-${name}`, metrics);
    await ensureIndexes(mongo.db);
    const redis = await connectRedis(config.REDIS_URL, logger, name, metrics);
    const steps = await start({ config, logger, mongo, redis, metrics });
    onShutdown(logger, [...steps, () => redis.close(), () => mongo.close()]);
  } catch (error) {
    exitOnStartupError(logger, error);
  }
}

/** GET /ready of a service that needs both stores: MongoDB answers a ping and Redis is connected. */
export function storesReady({ mongo, redis }: Pick<ServiceContext<BaseConfig>, 'mongo' | 'redis'>): () => Promise<boolean> {
  return async () => {
    await mongo.db.command({ ping: 1 });
    return redis.isReady;
  };
}

/** Listens on the config's HOST and PORT, says where, and returns the steps that stop the server. */
export async function serve(
  { config, logger }: { config: { HOST: string; PORT: number }; logger: Logger },
  what: string,
  server: { http: Server; apollo: { stop(): Promise<void> } },
): Promise<ShutdownStep[]> {
  const port = await listen(server.http, config.PORT, config.HOST);
  logger.info({ host: config.HOST, port }, `${what} listening on http://${config.HOST}:${port}/graphql`);
  return [() => closeServer(server.http), () => server.apollo.stop()];
}
