import type { IncomingMessage, Server } from 'node:http';
import { ApolloServer, type ApolloServerPlugin, type BaseContext } from '@apollo/server';
import { ApolloServerPluginInlineTraceDisabled } from '@apollo/server/plugin/disabled';
import { buildSubgraphSchema, type GraphQLResolverMap } from '@apollo/subgraph';
import type { DocumentNode } from 'graphql';
import { DateTimeResolver, JSONResolver } from 'graphql-scalars';
import type { Registry } from 'prom-client';
import { AuthenticationError, IDENTITY_HEADER, verifyInternalIdentity, type Identity } from './auth.ts';
import { formatError, isUnavailable, refusedCredential, serviceUnavailable } from './errors.ts';
import { finiteNumbersRule } from './finiteNumbers.ts';
import { graphqlMetricsPlugin } from './graphqlMetrics.ts';
import { literalDepthRule } from './literalDepth.ts';
import { createGraphQLHttpServer, requestQuery } from './http.ts';
import type { Logger } from './logger.ts';
import { metricsRoute } from './metrics.ts';

export interface SubgraphContext extends BaseContext {
  /** Who the gateway says is calling. */
  readonly identity: Identity;
}

export type Resolvers<TContext> = GraphQLResolverMap<TContext>;

/** Logs unexpected resolver errors (the response shows only a masked error in production). */
function errorLogging(logger: Logger): ApolloServerPlugin<BaseContext> {
  return {
    async requestDidStart() {
      return {
        async didEncounterErrors({ errors, operationName }) {
          for (const error of errors) {
            const code = error.extensions?.['code'];
            if (code === undefined || code === 'INTERNAL_SERVER_ERROR') {
              logger.error({ err: error.originalError ?? error, path: error.path, operationName }, 'resolver failed');
            }
          }
        },
      };
    },
  };
}

/**
 * Unreachable MongoDB or Redis surfaces as a retryable SERVICE_UNAVAILABLE instead of an
 * opaque internal error.
 */
function unavailableAsCode(): ApolloServerPlugin<BaseContext> {
  return {
    async requestDidStart() {
      return {
        async willSendResponse({ response, errors }) {
          if (response.body.kind !== 'single' || errors === undefined) return;
          const result = response.body.singleResult;
          if (result.errors === undefined) return;
          result.errors = result.errors.map((formatted, i) => {
            const original = errors[i]?.originalError;
            if (original !== undefined && isUnavailable(original)) {
              const replacement = serviceUnavailable();
              return { message: replacement.message, ...(formatted.path === undefined ? {} : { path: formatted.path }), extensions: replacement.extensions };
            }
            return formatted;
          });
        },
      };
    },
  };
}

export interface SubgraphServerOptions<TContext extends SubgraphContext> {
  readonly typeDefs: DocumentNode;
  readonly resolvers: Resolvers<TContext>;
  readonly logger: Logger;
  readonly production: boolean;
  /** The process's registry, for the recs_graphql_* metrics. */
  readonly metrics?: Registry;
}

export function createSubgraphServer<TContext extends SubgraphContext>(options: SubgraphServerOptions<TContext>): ApolloServer<TContext> {
  return new ApolloServer<TContext>({
    schema: buildSubgraphSchema([
      {
        typeDefs: options.typeDefs,
        resolvers: { DateTime: DateTimeResolver, JSON: JSONResolver, ...options.resolvers } as GraphQLResolverMap,
      },
    ]),
    formatError: formatError(options.production),
    validationRules: [finiteNumbersRule, literalDepthRule],
    includeStacktraceInErrorResponses: !options.production,
    logger: options.logger,
    // the process handles SIGTERM itself (shutdown.ts), in order
    stopOnTerminationSignals: false,
    plugins: [
      errorLogging(options.logger) as ApolloServerPlugin<TContext>,
      unavailableAsCode() as ApolloServerPlugin<TContext>,
      // federated tracing is only useful with Apollo Studio
      ApolloServerPluginInlineTraceDisabled() as unknown as ApolloServerPlugin<TContext>,
      // last: it reads the code the response goes out with (unavailableAsCode rewrites it)
      ...(options.metrics === undefined ? [] : [graphqlMetricsPlugin<TContext>(options.metrics)]),
    ],
  });
}

/**
 * The identity a request carries (see IDENTITY_HEADER), checked against the operation it came
 * with; a forged, stale or replayed header is a 401 UNAUTHENTICATED.
 */
export async function requestIdentity(req: IncomingMessage, secret: string): Promise<Identity> {
  const header = req.headers[IDENTITY_HEADER];
  try {
    return await verifyInternalIdentity(Array.isArray(header) ? header[0] : header, secret, requestQuery(req));
  } catch (error) {
    if (error instanceof AuthenticationError) throw refusedCredential(error.message);
    throw error;
  }
}

/** What every subgraph's server builder takes besides its own data sources. */
export interface SubgraphOptions {
  readonly jwtSecret: string;
  readonly logger: Logger;
  readonly production: boolean;
  /** GET /ready answers 200 only while this resolves true. */
  readonly ready?: () => Promise<boolean>;
  /**
   * The process's registry (runService's): GraphQL and HTTP metrics are recorded in it and it is
   * served on GET /metrics. Without one the subgraph has neither (tests that do not need them).
   */
  readonly metrics?: Registry;
}

/** A subgraph built and started, not listening: the caller listens (index.ts) or a test does. */
export interface SubgraphHttp<TContext extends SubgraphContext> {
  readonly apollo: ApolloServer<TContext>;
  readonly http: Server;
}

export interface SubgraphDefinition<TContext extends SubgraphContext> {
  readonly typeDefs: DocumentNode;
  readonly resolvers: Resolvers<TContext>;
  /** The per-request context besides the identity, which comes from the gateway's header. */
  readonly context: (req: IncomingMessage) => Omit<TContext, 'identity'>;
  /** Larger request bodies are refused with 413 (default 1 MB). */
  readonly maxBodyBytes?: number;
}

/** Builds and starts a subgraph's Apollo Server on node:http, identity checked per request. */
export async function createSubgraphHttp<TContext extends SubgraphContext>(
  definition: SubgraphDefinition<TContext>,
  options: SubgraphOptions,
): Promise<SubgraphHttp<TContext>> {
  const apollo = createSubgraphServer<TContext>({
    typeDefs: definition.typeDefs,
    resolvers: definition.resolvers,
    logger: options.logger,
    production: options.production,
    ...(options.metrics === undefined ? {} : { metrics: options.metrics }),
  });
  await apollo.start();
  const http = createGraphQLHttpServer({
    server: apollo,
    context: async (req: IncomingMessage) => ({ ...definition.context(req), identity: await requestIdentity(req, options.jwtSecret) }) as TContext,
    ...(definition.maxBodyBytes === undefined ? {} : { maxBodyBytes: definition.maxBodyBytes }),
    ...(options.ready === undefined ? {} : { ready: options.ready }),
    ...(options.metrics === undefined ? {} : { metrics: options.metrics, routes: [metricsRoute(options.metrics)] }),
  });
  return { apollo, http };
}
