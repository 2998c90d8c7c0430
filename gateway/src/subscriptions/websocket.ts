import type { Server } from 'node:http';
import type { ApolloServer } from '@apollo/server';
import { AuthenticationError, canAccessUser, forbidden, identityFromAuthorization, unauthenticated, type Identity, type Logger } from '@recs/shared';
import { CloseCode } from 'graphql-ws';
import { useServer } from 'graphql-ws/use/ws';
import { GraphQLError, parse, specifiedRules, validate, type ExecutionArgs, type ExecutionResult, type GraphQLSchema } from 'graphql';
import { WebSocketServer } from 'ws';
import type { GatewayContext } from '../identity.ts';
import type { LiveHub } from './hub.ts';
import { liveOperation } from './liveOperation.ts';

export interface WebSocketOptions {
  readonly http: Server;
  readonly path: string;
  readonly apollo: ApolloServer<GatewayContext>;
  /** The API schema Sandbox introspects (the gateway's, once loaded). */
  readonly schema: () => GraphQLSchema;
  readonly hub: LiveHub;
  readonly secret: string;
  readonly logger: Logger;
}

/** Runs a query or mutation sent over the socket through the gateway, as the socket's identity. */
async function executeThroughGateway(apollo: ApolloServer<GatewayContext>, args: ExecutionArgs): Promise<ExecutionResult> {
  const response = await apollo.executeOperation(
    { query: args.document, variables: (args.variableValues ?? {}) as Record<string, unknown>, ...(args.operationName ? { operationName: args.operationName } : {}) },
    { contextValue: args.contextValue as GatewayContext },
  );
  if (response.body.kind !== 'single') throw new GraphQLError('Incremental delivery is not supported over WebSocket');
  return response.body.singleResult as ExecutionResult;
}

function authorize(identity: Identity, field: string, args: Readonly<Record<string, unknown>>): GraphQLError | undefined {
  if (field !== 'recommendationsChanged') return undefined;
  if (identity.kind === 'anonymous') return unauthenticated('A token is required to subscribe to recommendations');
  const userId = String(args['userId']);
  return canAccessUser(identity, userId) ? undefined : forbidden(`Not allowed to subscribe to user ${userId}`);
}

/**
 * graphql-ws on the gateway's HTTP server and path. The token in connectionParams.authorization
 * is checked on connect (a bad one closes the socket with 4403 Forbidden); each subscription is
 * authorized on subscribe (another user's stream: a FORBIDDEN error).
 */
export function attachWebSocketServer(options: WebSocketOptions): { close(): Promise<void> } {
  const { apollo, hub, secret, logger } = options;
  const wss = new WebSocketServer({ server: options.http, path: options.path });
  const identities = new WeakMap<object, Identity>();

  const server = useServer(
    {
      onConnect: async (ctx) => {
        const raw = ctx.connectionParams?.['authorization'] ?? ctx.connectionParams?.['Authorization'];
        try {
          identities.set(ctx, await identityFromAuthorization(typeof raw === 'string' ? raw : undefined, secret));
          return true;
        } catch (error) {
          if (error instanceof AuthenticationError) return false;
          throw error;
        }
      },
      onSubscribe: (ctx, _id, payload) => {
        const identity = identities.get(ctx) ?? { kind: 'anonymous' };
        const schema = options.schema();
        let document;
        try {
          document = parse(payload.query);
        } catch (error) {
          return [error as GraphQLError];
        }
        const errors = validate(schema, document, specifiedRules);
        if (errors.length > 0) return errors;
        const variableValues = payload.variables ?? {};
        const args: ExecutionArgs = {
          schema,
          document,
          variableValues,
          contextValue: { identity } satisfies GatewayContext,
          ...(payload.operationName ? { operationName: payload.operationName } : {}),
        };
        const isSubscription = document.definitions.some(
          (d) => d.kind === 'OperationDefinition' && d.operation === 'subscription' && (payload.operationName ? d.name?.value === payload.operationName : true),
        );
        if (!isSubscription) return args;
        try {
          const live = liveOperation(schema, document, payload.operationName, variableValues);
          const denied = authorize(identity, live.field, live.args);
          return denied === undefined ? args : [denied];
        } catch (error) {
          return [error instanceof GraphQLError ? error : new GraphQLError(String(error))];
        }
      },
      execute: (args) => executeThroughGateway(apollo, args),
      subscribe: (args) =>
        hub.subscribe(liveOperation(args.schema, args.document, args.operationName, (args.variableValues ?? {}) as Record<string, unknown>)),
      onError: (_ctx, _id, _payload, errors) => {
        logger.debug({ errors: errors.map((e) => e.message) }, 'websocket operation refused');
      },
    },
    wss,
  );
  logger.debug({ forbiddenCloseCode: CloseCode.Forbidden }, 'graphql-ws ready');
  return {
    async close() {
      await server.dispose();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
    },
  };
}
