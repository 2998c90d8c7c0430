import { baseEnv, host, httpUrl, jwtSecret, loadConfig, port, tokenEnv } from '@recs/shared';
import { z } from 'zod';

/** A flag; unset is undefined, as its default depends on other settings (NODE_ENV). */
const optionalFlag = z
  .enum(['true', 'false', '1', '0'])
  .transform((v) => v === 'true' || v === '1')
  .optional();
const int = (fallback: number, min: number, max: number) => z.coerce.number().int().min(min).max(max).default(fallback);

/**
 * The gateway's settings, each default written once here; tests build theirs with this function
 * too (`gatewayConfig({ ...env, NODE_ENV: 'production' })`), so a new setting needs no test edit.
 */
export function gatewayConfig(env: NodeJS.ProcessEnv = process.env) {
  const { REDIS_URL, QUEUE_PREFIX, LOG_LEVEL, NODE_ENV } = baseEnv;
  return loadConfig(
    {
      REDIS_URL,
      QUEUE_PREFIX,
      LOG_LEVEL,
      NODE_ENV,
      JWT_SECRET: jwtSecret,
      PORT: port(4000),
      /** Interface to listen on (default 127.0.0.1; containers set 0.0.0.0). */
      HOST: host,
      /** Client token checks: JWT_ISSUER, JWT_AUDIENCE, JWT_MAX_LIFETIME, JWT_SERVICE_MAX_LIFETIME, JWT_CLOCK_TOLERANCE (see tokenEnv). */
      ...tokenEnv,
      /** Schema introspection over HTTP; default off when NODE_ENV=production unless SANDBOX is on (Sandbox needs it). */
      INTROSPECTION: optionalFlag,
      /** Subgraph URLs; default to the ones composed into schema/supergraph.graphql. */
      PRODUCTS_URL: httpUrl.optional(),
      EVENTS_URL: httpUrl.optional(),
      RECOMMENDATIONS_URL: httpUrl.optional(),
      /** Serve Apollo Sandbox as the landing page of /graphql (admins explore the graph with it); default on unless NODE_ENV=production. */
      SANDBOX: optionalFlag,
      MAX_QUERY_DEPTH: int(12, 2, 100),
      MAX_QUERY_COST: int(20_000, 100, 1_000_000),
      MAX_ALIASES: int(30, 1, 1_000),
      /**
       * Subscription payloads hydrated at once; further changes wait their turn (and coalesce per
       * selection), so a burst of changes cannot flood the subgraphs.
       */
      HYDRATION_CONCURRENCY: int(32, 1, 10_000),
      /** Keep-alive connections to each subgraph at most; more requests wait for a free one. */
      SUBGRAPH_CONNECTIONS: int(64, 1, 10_000),
      /** A subgraph request with no progress for this long fails. */
      SUBGRAPH_TIMEOUT_MS: int(30_000, 100, 600_000),
      /** Subscriptions one WebSocket connection may hold; the next subscribe is refused with RATE_LIMITED. */
      MAX_SUBSCRIPTIONS_PER_CONNECTION: int(100, 1, 100_000),
      /** WebSocket connections one token subject may hold on this replica (0: no limit); more are closed with 1013. */
      MAX_CONNECTIONS_PER_IDENTITY: int(20, 0, 1_000_000),
      /** WebSocket connections one client IP may hold on this replica (0: no limit); more are closed with 1013. */
      MAX_CONNECTIONS_PER_IP: int(200, 0, 1_000_000),
      /**
       * Reverse proxies in front of the gateway that append to X-Forwarded-For (0: none, the client
       * IP is the socket's peer). With 1, the client IP is the last address nginx appended.
       */
      TRUSTED_PROXY_HOPS: int(0, 0, 10),
      /**
       * Rate limits (see rateLimits.ts), shared by every replica through Redis: budgets per fixed
       * window of this many seconds, per token subject (anonymous callers: per client IP). Two
       * budgets per role: QUERIES (each operation other than tracking, over HTTP or the websocket;
       * a subscribe counts one) and EVENTS (each event of trackEvent/trackEvents). 0: no limit.
       * Over a budget: RATE_LIMITED with extensions.retryAfter, HTTP 429 with Retry-After.
       */
      RATE_LIMIT_WINDOW_SECONDS: int(60, 1, 3_600),
      /** Per client IP: a storefront's anonymous pages (a shared NAT holds many visitors). */
      RATE_LIMIT_ANONYMOUS_QUERIES: int(600, 0, 1e9),
      RATE_LIMIT_ANONYMOUS_EVENTS: int(60, 0, 1e9),
      /** Per shopper: 10 operations and 10 events a second on average, far above what a person clicks. */
      RATE_LIMIT_USER_QUERIES: int(600, 0, 1e9),
      RATE_LIMIT_USER_EVENTS: int(600, 0, 1e9),
      /**
       * Per backend: a shop's whole clickstream; 100,000 events/s and 10,000 operations/s, several
       * times what one gateway serves (README Performance), so only a runaway client meets them.
       */
      RATE_LIMIT_SERVICE_QUERIES: int(600_000, 0, 1e12),
      RATE_LIMIT_SERVICE_EVENTS: int(6_000_000, 0, 1e12),
      /** Per admin: Sandbox, imports and scripts. */
      RATE_LIMIT_ADMIN_QUERIES: int(60_000, 0, 1e12),
      RATE_LIMIT_ADMIN_EVENTS: int(600_000, 0, 1e12),
      /** Bull Board at /admin/queues may retry, clean and otherwise change jobs (default: read-only). */
      BULL_BOARD_WRITE: optionalFlag.transform((v) => v ?? false),
      /**
       * Web origins whose pages may call /graphql from the browser (CORS), comma-separated, e.g.
       * `https://shop.example.com,http://localhost:3000`; default none (only same-origin pages and
       * non-browser clients). The websocket needs no CORS: its token travels in connectionParams,
       * not in a cookie, so a foreign page cannot borrow a visitor's session.
       */
      CORS_ORIGINS: z
        .string()
        .default('')
        .transform((v) =>
          v
            .split(',')
            .map((origin) => origin.trim())
            .filter((origin) => origin !== ''),
        )
        .pipe(z.array(z.string().regex(/^https?:\/\/[^/?#\s]+$/, 'each origin is scheme://host[:port], without a path'))),
    },
    env,
  );
}

export type GatewayConfig = ReturnType<typeof gatewayConfig>;
