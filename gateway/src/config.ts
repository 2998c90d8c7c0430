import { baseEnv, httpUrl, jwtSecret, loadConfig, port } from '@recs/shared';
import { z } from 'zod';

const flag = z.enum(['true', 'false', '1', '0']).default('true').transform((v) => v === 'true' || v === '1');
const int = (fallback: number, min: number, max: number) => z.coerce.number().int().min(min).max(max).default(fallback);

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
      /** Subgraph URLs; default to the ones composed into schema/supergraph.graphql. */
      PRODUCTS_URL: httpUrl.optional(),
      EVENTS_URL: httpUrl.optional(),
      RECOMMENDATIONS_URL: httpUrl.optional(),
      /** Serve Apollo Sandbox as the landing page of /graphql (admins explore the graph with it). */
      SANDBOX: flag,
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
    },
    env,
  );
}

export type GatewayConfig = ReturnType<typeof gatewayConfig>;
