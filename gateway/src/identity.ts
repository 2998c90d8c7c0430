import type { IncomingMessage } from 'node:http';
import { RemoteGraphQLDataSource, type GraphQLDataSourceProcessOptions } from '@apollo/gateway';
import {
  AuthenticationError,
  identityFromAuthorization,
  IDENTITY_HEADER,
  READ_FRESH_HEADER,
  refusedCredential,
  secondsSince,
  serviceUnavailable,
  signInternalIdentity,
  type Identity,
  type Logger,
  type PooledFetch,
  type TokenPolicy,
} from '@recs/shared';
import { GraphQLError } from 'graphql';
import type { GatewayMetrics } from './metrics.ts';

export interface GatewayContext {
  readonly identity: Identity;
  /**
   * The client's address (see clientIp), on every client request, HTTP or websocket; absent on
   * the gateway's own operations (subscription hydrations), which no rate limit applies to.
   */
  readonly clientIp?: string;
  /** A subscription's hydration: subgraphs read their stores, not their caches (READ_FRESH_HEADER). */
  readonly fresh?: boolean;
}

/** Who a client is, from `Authorization: Bearer <token>`; a bad token is a 401 UNAUTHENTICATED. */
export async function identityOf(authorization: string | undefined, secret: string, policy: TokenPolicy): Promise<Identity> {
  try {
    return await identityFromAuthorization(authorization, secret, policy);
  } catch (error) {
    if (error instanceof AuthenticationError) throw refusedCredential(error.message);
    throw error;
  }
}

export function httpContext(secret: string, policy: TokenPolicy) {
  return async (req: IncomingMessage): Promise<GatewayContext> => ({ identity: await identityOf(req.headers.authorization, secret, policy) });
}

/** Codes a subgraph refuses a request's input with (values the gateway cannot check, like a malformed DateTime). */
const INPUT_CODES = new Set(['BAD_USER_INPUT', 'GRAPHQL_VALIDATION_FAILED']);

/**
 * A subgraph's 400 answer to input the gateway passed on unchecked (custom scalars are opaque to
 * the gateway): the client's mistake, a BAD_USER_INPUT with the subgraph's words, not a 500.
 */
function inputRefusal(response: unknown): GraphQLError | undefined {
  const errors = (response as { body?: { errors?: unknown } } | undefined)?.body?.errors;
  if (!Array.isArray(errors) || errors.length === 0) return undefined;
  const first = errors[0] as { message?: unknown; extensions?: { code?: unknown } };
  if (typeof first.message !== 'string' || !INPUT_CODES.has(String(first.extensions?.code))) return undefined;
  return new GraphQLError(first.message, { extensions: { code: 'BAD_USER_INPUT' } });
}

/** Proxies and load balancers in front of a subgraph answer these while it is down or restarting. */
const UNAVAILABLE_STATUSES = new Set([502, 503, 504]);

/**
 * Forwards the verified identity to subgraphs in a header only the gateway can sign, tied to the
 * operation sent with it; a subgraph that cannot be reached is a retryable SERVICE_UNAVAILABLE.
 * Each fetch is timed, and counted as an error (by the first error's code) when it fails or
 * answers with errors.
 */
export class IdentityDataSource extends RemoteGraphQLDataSource<GatewayContext> {
  private readonly secret: string;
  private readonly serviceName: string;
  private readonly logger: Logger;
  private readonly metrics: GatewayMetrics | undefined;

  constructor(name: string, url: string, secret: string, fetcher: PooledFetch, logger: Logger, metrics?: GatewayMetrics) {
    // not the default client stack: it builds a stack trace per request to tell https endpoints
    // apart, a measurable cost on every subgraph call
    super({ url, fetcher: fetcher as never });
    this.serviceName = name;
    this.secret = secret;
    this.logger = logger;
    this.metrics = metrics;
  }

  override async process(options: GraphQLDataSourceProcessOptions<GatewayContext>): ReturnType<RemoteGraphQLDataSource<GatewayContext>['process']> {
    const started = performance.now();
    try {
      const response = await super.process(options);
      this.metrics?.subgraphFetch(this.serviceName, secondsSince(started), response.errors);
      return response;
    } catch (error) {
      // didEncounterError's answer: SERVICE_UNAVAILABLE, BAD_USER_INPUT, or the subgraph's error
      this.metrics?.subgraphFetch(this.serviceName, secondsSince(started), [error instanceof GraphQLError ? { extensions: error.extensions } : {}]);
      throw error;
    }
  }

  override async willSendRequest({ request, context }: GraphQLDataSourceProcessOptions<GatewayContext>): Promise<void> {
    const identity = 'identity' in context && context.identity !== undefined ? context.identity : { kind: 'anonymous' as const };
    request.http?.headers.set(IDENTITY_HEADER, await signInternalIdentity(identity, this.secret, request.query ?? ''));
    if ('fresh' in context && context.fresh === true) request.http?.headers.set(READ_FRESH_HEADER, '1');
  }

  override didEncounterError(...[error, , response]: Parameters<RemoteGraphQLDataSource<GatewayContext>['didEncounterError']>): void {
    // no response at all: the fetcher failed (refused, reset, timed out), so the subgraph is down or stuck
    const status = error instanceof GraphQLError ? (error.extensions['response'] as { status?: number } | undefined)?.status : undefined;
    if (response === undefined || (status !== undefined && UNAVAILABLE_STATUSES.has(status))) {
      this.logger.warn({ err: error, subgraph: this.serviceName }, 'subgraph unavailable');
      throw serviceUnavailable('A backend service is unavailable; retry shortly');
    }
    const refusal = status === 400 && error instanceof GraphQLError ? inputRefusal(error.extensions['response']) : undefined;
    throw refusal ?? error;
  }
}
