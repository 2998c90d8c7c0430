import type { IncomingMessage, Server } from 'node:http';
import type { ApolloServer } from '@apollo/server';
import { AuthenticationError, ErrorCode, serviceUnavailable, unauthenticated, type Identity, type Logger } from '@recs/shared';
import { CloseCode } from 'graphql-ws';
import { useServer } from 'graphql-ws/use/ws';
import {
  getOperationAST,
  getVariableValues,
  GraphQLError,
  parse,
  specifiedRules,
  validate,
  type ExecutionArgs,
  type ExecutionResult,
  type GraphQLSchema,
  type ValidationRule,
} from 'graphql';
import { WebSocket, WebSocketServer } from 'ws';
import type { GatewayContext } from '../identity.ts';
import type { GatewayMetrics } from '../metrics.ts';
import { rateLimitedError, type RateLimits } from '../rateLimits.ts';
import { socketErrorFormat, withCode } from './errors.ts';
import { runAt, tokenExpiry } from './expiry.ts';
import type { LiveHub } from './hub.ts';
import { clientIp, ConnectionLimiter, LimitCloseCode } from './limits.ts';
import { liveOperation } from './liveOperation.ts';

/** As on HTTP: createGraphQLHttpServer refuses a larger body; ws closes the socket with 1009. */
const MAX_MESSAGE_BYTES = 1_048_576;

export interface WebSocketLimits {
  /** Subscriptions one connection may hold; the next subscribe gets a RATE_LIMITED error. */
  readonly subscriptionsPerConnection: number;
  /** Open connections per token subject, and per client IP (0: no limit); more are closed with 1013. */
  readonly connectionsPerIdentity: number;
  readonly connectionsPerIp: number;
  /** Reverse proxies in front that append to X-Forwarded-For (see clientIp). */
  readonly trustedProxyHops: number;
}

export interface WebSocketOptions {
  readonly http: Server;
  readonly path: string;
  readonly apollo: ApolloServer<GatewayContext>;
  /** The API schema Sandbox introspects (the gateway's, once loaded). */
  readonly schema: () => GraphQLSchema;
  readonly hub: LiveHub;
  /** The identity in `connectionParams.authorization`; throws AuthenticationError for a bad token. */
  readonly authenticate: (authorization: string | undefined) => Promise<Identity>;
  /** Run after graphql-js's own rules, as on HTTP (graphql-armor's depth, alias and cost limits). */
  readonly validationRules: readonly ValidationRule[];
  /** Longest document, in tokens, as on HTTP (the ApolloServer's parseOptions). */
  readonly maxTokens: number;
  /** In production, error messages leave out "Did you mean ...". */
  readonly production: boolean;
  readonly limits: WebSocketLimits;
  /** The HTTP budgets: queries and mutations spend them through Apollo (rateLimitPlugin), a subscribe here. */
  readonly rateLimits?: RateLimits;
  readonly logger: Logger;
  /** Where connections opened and closed (by close code) are counted. */
  readonly metrics?: GatewayMetrics;
}

/** What the gateway knows of one socket. */
interface Connection {
  identity: Identity;
  /** The client's address (see clientIp). */
  readonly ip: string;
  /** When the token expires (epoch ms); the socket is closed then. */
  expiresAt: number;
  /** Ids of the subscriptions (not queries or mutations) the socket holds. */
  readonly subscriptions: Set<string>;
  readonly cleanups: (() => void)[];
}

const internalError = () => new GraphQLError('Internal server error', { extensions: { code: ErrorCode.INTERNAL_SERVER_ERROR } });

/**
 * Runs a query or mutation sent over the socket through the gateway, as the socket's identity.
 * Never throws (graphql-ws would close the whole socket with 4500); the errors of the result are
 * Apollo's formatted ones, sent as they are (see onNext).
 */
async function executeThroughGateway(apollo: ApolloServer<GatewayContext>, args: ExecutionArgs, logger: Logger): Promise<ExecutionResult> {
  try {
    const response = await apollo.executeOperation(
      {
        query: args.document,
        variables: (args.variableValues ?? {}) as Record<string, unknown>,
        ...(args.operationName ? { operationName: args.operationName } : {}),
      },
      { contextValue: args.contextValue as GatewayContext },
    );
    if (response.body.kind !== 'single')
      return { errors: [new GraphQLError('Incremental delivery is not supported over WebSocket', { extensions: { code: 'BAD_REQUEST' } })] };
    return response.body.singleResult as ExecutionResult;
  } catch (error) {
    logger.error({ err: (error as Error).message }, 'executing a websocket operation failed');
    return { errors: [internalError()] };
  }
}

/**
 * graphql-ws on the gateway's HTTP server and path.
 * - Identity: the token in connectionParams.authorization is checked on connect (a bad one closes
 *   the socket with 4403 Forbidden), and the socket is closed with 4403 when the token expires.
 *   Each subscription is authorized on subscribe (another user's stream: a FORBIDDEN error).
 * - Limits: messages of at most 1 MiB; per connection a number of subscriptions (the next one is
 *   refused with RATE_LIMITED, the socket stays open); per identity and per client IP a number of
 *   connections (the next is closed with LimitCloseCode.TooManyConnections). Connections are
 *   counted per replica.
 * - Documents get the same validation as on HTTP (graphql-armor's rules), and in production no
 *   "Did you mean" suggestions.
 * - An error in one operation is that operation's answer; it never closes the socket.
 */
export function attachWebSocketServer(options: WebSocketOptions): { close(): Promise<void> } {
  const { apollo, hub, logger, limits } = options;
  const format = socketErrorFormat(options.production);
  const wss = new WebSocketServer({ server: options.http, path: options.path, maxPayload: MAX_MESSAGE_BYTES });
  const rules = [...specifiedRules, ...options.validationRules];
  const { maxTokens } = options;
  const connections = new WeakMap<WebSocket, Connection>();
  const perIp = new ConnectionLimiter(limits.connectionsPerIp);
  const perIdentity = new ConnectionLimiter(limits.connectionsPerIdentity);

  const refuse = (socket: WebSocket) => socket.close(LimitCloseCode.TooManyConnections, 'Too many connections');

  // before graphql-ws sees the socket: a client over its IP's limit gets no further
  wss.on('connection', (socket: WebSocket, request: IncomingMessage) => {
    const { metrics } = options;
    if (metrics !== undefined) {
      metrics.connectionOpened();
      socket.once('close', (code: number) => metrics.connectionClosed(code));
    }
    const ip = clientIp(request, limits.trustedProxyHops);
    const release = perIp.acquire(ip);
    if (release === undefined) return refuse(socket);
    const connection: Connection = { identity: { kind: 'anonymous' }, ip, expiresAt: Infinity, subscriptions: new Set(), cleanups: [release] };
    connections.set(socket, connection);
    socket.once('close', () => {
      for (const cleanup of connection.cleanups.splice(0)) cleanup();
    });
  });

  const server = useServer(
    {
      isProd: options.production,
      onConnect: async (ctx) => {
        const { socket } = ctx.extra;
        const connection = connections.get(socket);
        if (connection === undefined) return false; // refused on arrival, already closing
        const raw = ctx.connectionParams?.['authorization'] ?? ctx.connectionParams?.['Authorization'];
        const authorization = typeof raw === 'string' ? raw : undefined;
        try {
          connection.identity = await options.authenticate(authorization);
        } catch (error) {
          if (error instanceof AuthenticationError) return false;
          throw error;
        }
        // closed while the token was being checked: take no place
        if (socket.readyState !== WebSocket.OPEN) return false;
        const { identity } = connection;
        if (identity.kind === 'anonymous') return true;
        // expired by this clock, though within the verifier's clock tolerance: refused like any expired token
        connection.expiresAt = tokenExpiry(authorization!) ?? Infinity;
        if (connection.expiresAt <= Date.now()) return false;
        const release = perIdentity.acquire(`${identity.role}\u0000${identity.subject}`);
        if (release === undefined) {
          refuse(socket);
          return false;
        }
        connection.cleanups.push(release);
        if (Number.isFinite(connection.expiresAt)) {
          connection.cleanups.push(runAt(connection.expiresAt, () => socket.close(CloseCode.Forbidden, 'Token expired')));
        }
        return true;
      },
      onSubscribe: async (ctx, id, payload) => {
        const { socket } = ctx.extra;
        const connection = connections.get(socket);
        if (connection === undefined) return [internalError()];
        // the timer closes the socket at expiry; nothing is served in between
        if (connection.expiresAt <= Date.now()) {
          socket.close(CloseCode.Forbidden, 'Token expired');
          return [unauthenticated('token has expired')];
        }
        const schema = options.schema();
        let document;
        try {
          document = parse(payload.query, { maxTokens });
        } catch (error) {
          return [error instanceof GraphQLError ? withCode(error, 'GRAPHQL_PARSE_FAILED') : internalError()];
        }
        const errors = validate(schema, document, rules);
        if (errors.length > 0) return errors.map((error) => withCode(error, 'GRAPHQL_VALIDATION_FAILED'));
        // as Apollo Server answers over HTTP (graphql-ws's own message would carry no code)
        const operation = getOperationAST(document, payload.operationName);
        if (operation == null) {
          const message = payload.operationName
            ? `Unknown operation named "${payload.operationName}".`
            : 'Must provide operation name if query contains multiple operations.';
          return [new GraphQLError(message, { extensions: { code: 'OPERATION_RESOLUTION_FAILURE' } })];
        }
        const args: ExecutionArgs = {
          schema,
          document,
          variableValues: payload.variables ?? {},
          contextValue: { identity: connection.identity, clientIp: connection.ip } satisfies GatewayContext,
          ...(payload.operationName ? { operationName: payload.operationName } : {}),
        };
        // queries and mutations: Apollo coerces the variables, and answers BAD_USER_INPUT
        if (operation.operation !== 'subscription') return args;
        // a subscribe costs one query (its hydrations cost the client nothing)
        const limited = await options.rateLimits?.take(connection.identity, connection.ip, { queries: 1, events: 0 });
        if (limited !== undefined) return [rateLimitedError(limited)];
        // graphql-ws forgets a completed operation at once, and calls onComplete a little later
        for (const held of connection.subscriptions) if (!(held in ctx.subscriptions)) connection.subscriptions.delete(held);
        if (connection.subscriptions.size >= limits.subscriptionsPerConnection) {
          return [
            new GraphQLError(`At most ${limits.subscriptionsPerConnection} subscriptions per connection; complete one first`, {
              extensions: { code: ErrorCode.RATE_LIMITED, limit: limits.subscriptionsPerConnection },
            }),
          ];
        }
        const coerced = getVariableValues(schema, operation.variableDefinitions ?? [], payload.variables ?? {}, { maxErrors: 10 });
        if (coerced.errors !== undefined) return coerced.errors.map((error) => withCode(error, ErrorCode.BAD_USER_INPUT));
        try {
          const live = liveOperation(schema, document, payload.operationName, coerced.coerced);
          const denied = live.descriptor.deny(connection.identity, live.stream);
          if (denied !== undefined) return [denied];
        } catch (error) {
          if (error instanceof GraphQLError) return [error.extensions['code'] === undefined ? withCode(error, ErrorCode.BAD_USER_INPUT) : error];
          logger.error({ err: (error as Error).message }, 'reading a subscription failed');
          return [internalError()];
        }
        args.variableValues = coerced.coerced;
        connection.subscriptions.add(id);
        return args;
      },
      execute: (args) => executeThroughGateway(apollo, args, logger),
      subscribe: async (args) => {
        try {
          return await hub.subscribe(liveOperation(args.schema, args.document, args.operationName, (args.variableValues ?? {}) as Record<string, unknown>));
        } catch (error) {
          // Redis refused the channel: this subscription fails, the socket stays
          logger.warn({ err: (error as Error).message }, 'subscribing to a change channel failed');
          return { errors: [serviceUnavailable('Live updates are unavailable right now; subscribe again shortly')] };
        }
      },
      onNext: (_ctx, _id, _payload, _args, result) => format.result(result),
      onError: (ctx, id, _payload, errors) => {
        connections.get(ctx.extra.socket)?.subscriptions.delete(id);
        logger.debug({ errors: errors.map((e) => e.message) }, 'websocket operation refused');
        return errors.map(format.error);
      },
      onComplete: (ctx, id) => {
        connections.get(ctx.extra.socket)?.subscriptions.delete(id);
      },
    },
    wss,
  );
  return {
    async close() {
      await server.dispose();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
    },
  };
}
