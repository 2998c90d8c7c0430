import type { ApolloServerPlugin, BaseContext } from '@apollo/server';
import { GraphQLError, Kind } from 'graphql';

const badRequest = (message: string) => new GraphQLError(message, { extensions: { code: 'BAD_REQUEST', http: { status: 400 } } });

/**
 * Client mistakes about which operation to run, answered as 400 BAD_REQUEST before the query
 * planner sees them (there they fail as a 500 INVALID_GRAPHQL):
 * - no operation of the document matches (several operations and no operationName, or an
 *   operationName the document does not define);
 * - a subscription over HTTP: @apollo/gateway cannot execute subscriptions (the gateway serves
 *   them with graphql-ws on the same path).
 */
export function operationChecks(path: string): ApolloServerPlugin<BaseContext> {
  return {
    async requestDidStart() {
      return {
        async didResolveOperation({ operation, document, request }) {
          if (operation === undefined) {
            const operations = document.definitions.filter((definition) => definition.kind === Kind.OPERATION_DEFINITION).length;
            throw badRequest(
              request.operationName
                ? `Unknown operation named "${request.operationName}".`
                : operations > 1
                  ? 'Must provide operation name if query contains multiple operations.'
                  : 'The document contains no operation.',
            );
          }
          if (operation.operation === 'subscription') {
            throw badRequest(`Subscriptions are served over WebSocket (graphql-ws protocol) on ${path}, not over HTTP`);
          }
        },
      };
    },
  };
}
