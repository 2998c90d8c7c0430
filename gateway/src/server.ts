import type { Server } from 'node:http';
import { ApolloGateway } from '@apollo/gateway';
import { ApolloServer, type ApolloServerPlugin } from '@apollo/server';
import { ApolloServerPluginLandingPageLocalDefault } from '@apollo/server/plugin/landingPage/default';
import { ApolloServerPluginLandingPageDisabled } from '@apollo/server/plugin/disabled';
import { ApolloArmor } from '@escape.tech/graphql-armor';
import { supergraphSdl } from '@recs/schema';
import { closeServer, createGraphQLHttpServer, formatError, pooledFetch, RedisNames, type Logger, type RedisClient } from '@recs/shared';
import type { ExecutionResult, GraphQLSchema } from 'graphql';
import type { GatewayConfig } from './config.ts';
import { httpContext, IdentityDataSource, type GatewayContext } from './identity.ts';
import { LiveHub } from './subscriptions/hub.ts';
import { attachWebSocketServer } from './subscriptions/websocket.ts';

export const GRAPHQL_PATH = '/graphql';

/** Subscription payloads are hydrated as this identity (each subscriber was authorized on subscribe). */
const HYDRATION_CONTEXT: GatewayContext = { identity: { kind: 'authenticated', subject: 'gateway-subscriptions', role: 'service' } };

export interface GatewayServer {
  readonly http: Server;
  readonly apollo: ApolloServer<GatewayContext>;
  readonly hub: LiveHub;
  stop(): Promise<void>;
}

export interface GatewayOptions {
  readonly config: GatewayConfig;
  readonly logger: Logger;
  readonly redis: RedisClient;
  readonly supergraph?: string;
}

/** Builds the gateway: federated HTTP GraphQL, Sandbox, and graphql-ws subscriptions on one path. */
export async function createGatewayServer({ config, logger, redis, supergraph }: GatewayOptions): Promise<GatewayServer> {
  const overrides: Record<string, string | undefined> = {
    products: config.PRODUCTS_URL,
    events: config.EVENTS_URL,
    recommendations: config.RECOMMENDATIONS_URL,
  };
  const fetcher = pooledFetch({ maxSockets: config.SUBGRAPH_CONNECTIONS, timeoutMs: config.SUBGRAPH_TIMEOUT_MS });
  const gateway = new ApolloGateway({
    supergraphSdl: supergraph ?? supergraphSdl(),
    buildService: ({ name, url }) => new IdentityDataSource(overrides[name] ?? url ?? '', config.JWT_SECRET, fetcher),
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
  }).protect();

  const apollo = new ApolloServer<GatewayContext>({
    gateway,
    formatError: formatError(production),
    includeStacktraceInErrorResponses: !production,
    introspection: true,
    logger,
    // the process handles SIGTERM itself, in order
    stopOnTerminationSignals: false,
    validationRules: armor.validationRules,
    // the plugin packages resolve Apollo Server's CommonJS typings, the gateway its ESM ones: same classes
    plugins: [
      ...armor.plugins,
      config.SANDBOX ? ApolloServerPluginLandingPageLocalDefault({ embed: { endpointIsEditable: false, runTelemetry: false }, includeCookies: false }) : ApolloServerPluginLandingPageDisabled(),
    ] as unknown as ApolloServerPlugin<GatewayContext>[],
  });
  await apollo.start();

  const subscriber = redis.duplicate();
  subscriber.on('error', () => undefined);
  await subscriber.connect();
  const hydrate = async (query: Parameters<ApolloServer['executeOperation']>[0]['query'], variables: Readonly<Record<string, unknown>>) => {
    const response = await apollo.executeOperation({ query: query!, variables: { ...variables } }, { contextValue: HYDRATION_CONTEXT });
    return (response.body.kind === 'single' ? response.body.singleResult : { errors: [] }) as ExecutionResult;
  };
  const hub = new LiveHub(subscriber, new RedisNames(config.QUEUE_PREFIX), hydrate, logger, config.HYDRATION_CONCURRENCY);

  const http = createGraphQLHttpServer({
    server: apollo,
    path: GRAPHQL_PATH,
    context: httpContext(config.JWT_SECRET),
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
    secret: config.JWT_SECRET,
    logger,
  });

  return {
    http,
    apollo,
    hub,
    async stop() {
      await hub.close();
      await ws.close();
      await closeServer(http);
      await apollo.stop();
      await subscriber.close().catch(() => undefined);
    },
  };
}
