import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { ApolloGateway } from '@apollo/gateway';
import { ApolloServer, type ApolloServerPlugin } from '@apollo/server';
import { ApolloServerPluginLandingPageLocalDefault } from '@apollo/server/plugin/landingPage/default';
import { ApolloServerPluginLandingPageDisabled } from '@apollo/server/plugin/disabled';
import { ApolloArmor } from '@escape.tech/graphql-armor';
import cors from 'cors';
import { supergraphSdl } from '@recs/schema';
import {
  closeServer,
  createGraphQLHttpServer,
  finiteNumbersRule,
  formatError,
  graphqlMetricsPlugin,
  identityFromAuthorization,
  instrumentRedis,
  literalDepthRule,
  metricsRoute,
  pooledFetch,
  RedisNames,
  tokenPolicy,
  type Logger,
  type RedisClient,
  type Registry,
} from '@recs/shared';
import type { ExecutionResult, GraphQLSchema } from 'graphql';
import type { GatewayConfig } from './config.ts';
import { operationChecks } from './operationChecks.ts';
import { httpContext, IdentityDataSource, type GatewayContext } from './identity.ts';
import { GatewayMetrics } from './metrics.ts';
import { DEFAULT_RETRY } from './subscriptions/hydration.ts';
import { LiveHub, type Hydrate } from './subscriptions/hub.ts';
import { attachWebSocketServer } from './subscriptions/websocket.ts';
import { clientIp } from './subscriptions/limits.ts';
import { rateLimitPlugin, RateLimits } from './rateLimits.ts';
import { queueBoard } from './admin/queueBoard.ts';

// tests build a gateway's config as its process does, from the same defaults
export { gatewayConfig, type GatewayConfig } from './config.ts';

export const GRAPHQL_PATH = '/graphql';

/** Tokens per document at most (graphql-armor's default): parsing stops there, before it costs much. */
const MAX_TOKENS = 1_000;

/** Subscription payloads are hydrated as this identity (each subscriber was authorized on subscribe). */
const HYDRATION_CONTEXT: GatewayContext = { identity: { kind: 'authenticated', subject: 'gateway-subscriptions', role: 'service' }, fresh: true };

export interface GatewayServer {
  readonly http: Server;
  readonly apollo: ApolloServer<GatewayContext>;
  readonly hub: LiveHub;
  /** The registry served on GET /metrics. */
  readonly metrics: Registry;
  stop(): Promise<void>;
}

export interface GatewayOptions {
  readonly config: GatewayConfig;
  readonly logger: Logger;
  readonly redis: RedisClient;
  readonly supergraph?: string;
  /**
   * The process's registry (index.ts: createRegistry('gateway'), with the Redis metrics), served
   * on GET /metrics; by default one of the gateway's own without process metrics.
   */
  readonly metrics?: Registry;
}

/** Builds the gateway: federated HTTP GraphQL, Sandbox, and graphql-ws subscriptions on one path. */
export async function createGatewayServer({ config, logger, redis, supergraph, metrics: registry }: GatewayOptions): Promise<GatewayServer> {
  const metrics = new GatewayMetrics(registry);
  const overrides: Record<string, string | undefined> = {
    products: config.PRODUCTS_URL,
    events: config.EVENTS_URL,
    recommendations: config.RECOMMENDATIONS_URL,
  };
  const fetcher = pooledFetch({ maxSockets: config.SUBGRAPH_CONNECTIONS, timeoutMs: config.SUBGRAPH_TIMEOUT_MS });
  const gateway = new ApolloGateway({
    supergraphSdl: supergraph ?? supergraphSdl(),
    buildService: ({ name, url }) => new IdentityDataSource(name, overrides[name] ?? url ?? '', config.JWT_SECRET, fetcher, logger, metrics),
    logger,
  });
  let apiSchema: GraphQLSchema | undefined;
  gateway.onSchemaLoadOrUpdate(({ apiSchema: schema }) => {
    apiSchema = schema;
  });

  const production = config.NODE_ENV === 'production';
  const armor = new ApolloArmor({
    maxDepth: { n: config.MAX_QUERY_DEPTH },
    costLimit: { maxCost: config.MAX_QUERY_COST },
    maxAliases: { n: config.MAX_ALIASES },
    blockFieldSuggestion: { enabled: production },
    // its token limit throws from a plugin hook, so every syntax error became a 500: graphql-js's
    // own limit (parseOptions below) fails parsing as a 400 GRAPHQL_PARSE_FAILED instead
    maxTokens: { enabled: false },
  }).protect();
  const sandbox = config.SANDBOX ?? !production;
  // one set of document checks for both transports (HTTP here, the websocket below)
  const validationRules = [...armor.validationRules, finiteNumbersRule, literalDepthRule];
  const policy = tokenPolicy(config);
  const authenticate = (authorization: string | undefined) => identityFromAuthorization(authorization, config.JWT_SECRET, policy);
  const rateLimits = new RateLimits(redis, config, logger);

  const apollo = new ApolloServer<GatewayContext>({
    gateway,
    formatError: formatError(production),
    includeStacktraceInErrorResponses: !production,
    // Sandbox needs it; otherwise off by default in production, where it hands anyone the whole schema
    introspection: sandbox || (config.INTROSPECTION ?? !production),
    parseOptions: { maxTokens: MAX_TOKENS },
    logger,
    // the process handles SIGTERM itself, in order
    stopOnTerminationSignals: false,
    validationRules,
    // the plugin packages resolve Apollo Server's CommonJS typings, the gateway its ESM ones: same classes
    plugins: [
      ...armor.plugins,
      operationChecks(GRAPHQL_PATH),
      rateLimitPlugin(rateLimits),
      sandbox
        ? ApolloServerPluginLandingPageLocalDefault({ embed: { endpointIsEditable: false, runTelemetry: false }, includeCookies: false })
        : ApolloServerPluginLandingPageDisabled(),
      // last, to see the code the response goes out with; hydrations have metrics of their own (Apollo
      // copies the context object, not the identity in it)
      graphqlMetricsPlugin<GatewayContext>(metrics.registry, { ignore: (context) => context.identity === HYDRATION_CONTEXT.identity }),
    ] as unknown as ApolloServerPlugin<GatewayContext>[],
  });
  await apollo.start();

  const subscriber = redis.duplicate();
  subscriber.on('error', () => undefined);
  instrumentRedis(subscriber, metrics.registry);
  await subscriber.connect();
  // Apollo's formatted result (plain errors, not GraphQLError instances): the hub tells transient
  // failures from good results by their codes, and the websocket server sends errors as they are
  const hydrate: Hydrate = async (query, variables) => {
    const response = await apollo.executeOperation({ query, variables: { ...variables } }, { contextValue: HYDRATION_CONTEXT });
    if (response.body.kind !== 'single') throw new Error('hydration answered with incremental delivery');
    return response.body.singleResult as ExecutionResult;
  };
  const hub = new LiveHub(subscriber, new RedisNames(config.QUEUE_PREFIX), hydrate, logger, config.HYDRATION_CONCURRENCY, DEFAULT_RETRY, metrics);

  const board = queueBoard({
    redis,
    prefix: config.QUEUE_PREFIX,
    authenticate,
    write: config.BULL_BOARD_WRITE,
    secureCookies: production,
    logger,
  });
  const identityContext = httpContext(config.JWT_SECRET, policy);
  // browsers' cross-origin calls (a storefront on its own origin): preflights answered here, the
  // headers added to every /graphql answer for the origins configured, none for any other
  const allowOrigins = cors({
    origin: config.CORS_ORIGINS,
    methods: ['GET', 'POST'],
    allowedHeaders: ['content-type', 'authorization', 'apollo-require-preflight'],
    maxAge: 600,
  });
  const corsFor = (req: IncomingMessage, res: ServerResponse) =>
    new Promise<boolean>((resolve) => {
      allowOrigins(req, res, () => resolve(false));
      // a preflight is answered (204) without calling next
      if (res.writableEnded) resolve(true);
    });
  const http = createGraphQLHttpServer({
    server: apollo,
    path: GRAPHQL_PATH,
    context: async (req) => ({ ...(await identityContext(req)), clientIp: clientIp(req, config.TRUSTED_PROXY_HOPS) }),
    routes: [board.route, metricsRoute(metrics.registry)],
    metrics: metrics.registry,
    ...(config.CORS_ORIGINS.length === 0 ? {} : { beforeGraphQL: corsFor }),
    ready: async () => apiSchema !== undefined && redis.isReady && subscriber.isReady,
  });
  const ws = attachWebSocketServer({
    http,
    path: GRAPHQL_PATH,
    apollo,
    schema: () => {
      if (apiSchema === undefined) throw new Error('the gateway has not loaded its schema');
      return apiSchema;
    },
    hub,
    authenticate,
    rateLimits,
    metrics,
    // the same document checks as HTTP (the ApolloServer's parseOptions and validationRules above)
    maxTokens: MAX_TOKENS,
    validationRules,
    production,
    limits: {
      subscriptionsPerConnection: config.MAX_SUBSCRIPTIONS_PER_CONNECTION,
      connectionsPerIdentity: config.MAX_CONNECTIONS_PER_IDENTITY,
      connectionsPerIp: config.MAX_CONNECTIONS_PER_IP,
      trustedProxyHops: config.TRUSTED_PROXY_HOPS,
    },
    logger,
  });

  return {
    http,
    apollo,
    hub,
    metrics: metrics.registry,
    async stop() {
      // the sockets first, closed with 1001 Going Away: clients reconnect (to another replica, or
      // this one restarted) and resume. Ending the streams first would send each subscription a
      // `complete`, which tells a client the stream is over for good.
      await ws.close();
      await hub.close();
      await closeServer(http);
      await apollo.stop();
      await board.close();
      await subscriber.close().catch(() => undefined);
    },
  };
}
