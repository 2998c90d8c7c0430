/**
 * The demo storefront's process: `npm start` runs it (STOREFRONT_PORT, default 3000).
 * GATEWAY_PUBLIC_URL is the gateway's /graphql as browsers reach it (default
 * http://localhost:4000/graphql); the gateway must list this page's origin in CORS_ORIGINS.
 * JWT_SECRET (and JWT_ISSUER / JWT_AUDIENCE when the gateway sets them) sign shoppers' tokens.
 */
import { baseEnv, closeServer, createLogger, exitOnStartupError, host, httpUrl, jwtSecret, listen, loadConfig, onShutdown, type Logger } from '@recs/shared';
import { z } from 'zod';
import { createStorefrontServer } from './server.ts';

let logger: Logger | undefined;
try {
  const config = loadConfig({
    LOG_LEVEL: baseEnv.LOG_LEVEL,
    JWT_SECRET: jwtSecret,
    JWT_ISSUER: z.string().min(1).optional(),
    JWT_AUDIENCE: z.string().min(1).optional(),
    /** Lifetime of a shopper's token; the page fetches a new one before it ends. */
    STOREFRONT_TOKEN_LIFETIME: z
      .string()
      .regex(/^\d+(s|m|h)$/, 'must be a duration such as 30m or 1h')
      .default('1h'),
    GATEWAY_PUBLIC_URL: httpUrl.default('http://localhost:4000/graphql'),
    STOREFRONT_PORT: z.coerce.number().int().min(0).max(65_535).default(3000),
    HOST: host,
  });
  logger = createLogger('storefront', config.LOG_LEVEL);
  const storefront = await createStorefrontServer({
    gatewayUrl: config.GATEWAY_PUBLIC_URL,
    jwtSecret: config.JWT_SECRET,
    tokenLifetime: config.STOREFRONT_TOKEN_LIFETIME,
    ...(config.JWT_ISSUER === undefined ? {} : { issuer: config.JWT_ISSUER }),
    ...(config.JWT_AUDIENCE === undefined ? {} : { audience: config.JWT_AUDIENCE }),
    logger,
  });
  const port = await listen(storefront.http, config.STOREFRONT_PORT, config.HOST);
  logger.info({ port, gateway: config.GATEWAY_PUBLIC_URL, scriptBytes: storefront.scriptBytes }, `storefront listening on http://${config.HOST}:${port}/`);
  onShutdown(logger, [() => closeServer(storefront.http)]);
} catch (error) {
  exitOnStartupError(logger, error);
}
