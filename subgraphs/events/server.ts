import { subgraphTypeDefs } from '@recs/schema';
import { createSubgraphHttp, type SubgraphHttp, type SubgraphOptions } from '@recs/shared';
import type { Ingestor } from './ingest.ts';
import { resolvers, type EventsContext } from './resolvers.ts';
import type { EventStore } from './store.ts';

export interface EventsServerOptions extends SubgraphOptions {
  readonly store: EventStore;
  readonly ingestor: Ingestor;
}

export type EventsServer = SubgraphHttp<EventsContext>;

/** Builds the events subgraph (Apollo Server over node:http); the caller listens. */
export function createEventsServer(options: EventsServerOptions): Promise<EventsServer> {
  return createSubgraphHttp<EventsContext>(
    {
      typeDefs: subgraphTypeDefs('events'),
      resolvers,
      // a batch of 1,000 events with metadata fits comfortably in 8 MB
      maxBodyBytes: 8 * 1_048_576,
      context: () => ({ store: options.store, ingestor: options.ingestor, logger: options.logger }),
    },
    options,
  );
}
