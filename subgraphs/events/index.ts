import { eventsQueue, runService, serve, storesReady } from '@recs/shared';
import { eventsConfig } from './config.ts';
import { Ingestor } from './ingest.ts';
import { createEventsServer } from './server.ts';
import { EventStore } from './store.ts';

await runService('events', eventsConfig, async (context) => {
  const { config, logger, mongo, redis } = context;
  const queue = eventsQueue(redis, config.QUEUE_PREFIX);
  const store = new EventStore(mongo.db);
  const server = await createEventsServer({
    store,
    ingestor: new Ingestor({ store, queue, logger }),
    jwtSecret: config.JWT_SECRET,
    logger,
    production: config.NODE_ENV === 'production',
    ready: storesReady(context),
  });
  return [...(await serve(context, 'events subgraph', server)), () => queue.close()];
});
