import type { IncomingMessage } from 'node:http';
import { RemoteGraphQLDataSource, type GraphQLDataSourceProcessOptions } from '@apollo/gateway';
import { AuthenticationError, identityFromAuthorization, IDENTITY_HEADER, signInternalIdentity, type Identity, type PooledFetch } from '@recs/shared';
import { GraphQLError } from 'graphql';

export interface GatewayContext {
  readonly identity: Identity;
}

/** Who a client is, from `Authorization: Bearer <token>`; a bad token is a 401 UNAUTHENTICATED. */
export async function identityOf(authorization: string | undefined, secret: string): Promise<Identity> {
  try {
    return await identityFromAuthorization(authorization, secret);
  } catch (error) {
    if (error instanceof AuthenticationError) {
      throw new GraphQLError(error.message, { extensions: { code: 'UNAUTHENTICATED', http: { status: 401 } } });
    }
    throw error;
  }
}

export function httpContext(secret: string) {
  return async (req: IncomingMessage): Promise<GatewayContext> => ({ identity: await identityOf(req.headers.authorization, secret) });
}

/** Forwards the verified identity to subgraphs in a header only the gateway can sign. */
export class IdentityDataSource extends RemoteGraphQLDataSource<GatewayContext> {
  private readonly secret: string;

  constructor(url: string, secret: string, fetcher: PooledFetch) {
    // not the default client stack: it builds a stack trace per request to tell https endpoints
    // apart, a measurable cost on every subgraph call
    super({ url, fetcher: fetcher as never });
    this.secret = secret;
  }

  override async willSendRequest({ request, context }: GraphQLDataSourceProcessOptions<GatewayContext>): Promise<void> {
    const identity = 'identity' in context && context.identity !== undefined ? context.identity : { kind: 'anonymous' as const };
    request.http?.headers.set(IDENTITY_HEADER, await signInternalIdentity(identity, this.secret));
  }
}
