import type { IncomingMessage, Server } from 'node:http';
import type { ApolloServer } from '@apollo/server';
import { subgraphTypeDefs } from '@recs/schema';
import { createGraphQLHttpServer, createSubgraphServer, requestIdentity, type Logger } from '@recs/shared';
import type { Ingestor } from './ingest.ts';
import { resolvers, type EventsContext } from './resolvers.ts';
import type { EventStore } from './store.ts';

export interface EventsServerOptions {
  readonly store: EventStore;
  readonly ingestor: Ingestor;
  readonly jwtSecret: string;
  readonly logger: Logger;
  readonly production: boolean;
  readonly ready?: () => Promise<boolean>;
}

export interface EventsServer {
  readonly apollo: ApolloServer<EventsContext>;
  readonly http: Server;
}

/** Builds the events subgraph (Apollo Server over node:http); the caller listens. */
export async function createEventsServer(options: EventsServerOptions): Promise<EventsServer> {
  const apollo = createSubgraphServer<EventsContext>({
    typeDefs: subgraphTypeDefs('events'),
    resolvers,
    logger: options.logger,
    production: options.production,
  });
  await apollo.start();
  const http = createGraphQLHttpServer({
    server: apollo,
    // a batch of 1,000 events with metadata fits comfortably in 8 MB
    maxBodyBytes: 8 * 1_048_576,
    context: async (req: IncomingMessage) => ({
      identity: await requestIdentity(req, options.jwtSecret),
      store: options.store,
      ingestor: options.ingestor,
      logger: options.logger,
    }),
    ...(options.ready === undefined ? {} : { ready: options.ready }),
  });
  return { apollo, http };
}
