import { eventsQueue, redisErrorListener, runService, serve, storesReady } from '@recs/shared';
import { eventsConfig } from './config.ts';
import { Ingestor } from './ingest.ts';
import { IngestMetrics } from './metrics.ts';
import { createEventsServer } from './server.ts';
import { EventStore } from './store.ts';

await runService('events', eventsConfig, async (context) => {
  const { config, logger, mongo, redis } = context;
  const queue = eventsQueue(redis, config.QUEUE_PREFIX);
  // without a listener every failed reconnection is printed with its stack
  queue.on('error', redisErrorListener(logger, 'events queue'));
  const store = new EventStore(mongo.db);
  const server = await createEventsServer({
    store,
    ingestor: new Ingestor({ store, queue, logger, metrics: new IngestMetrics(context.metrics), jwtSecret: config.JWT_SECRET }),
    jwtSecret: config.JWT_SECRET,
    logger,
    production: config.NODE_ENV === 'production',
    ready: storesReady(context),
    // GraphQL and HTTP metrics, and GET /metrics (with the process and store metrics runService put there)
    metrics: context.metrics,
  });
  return [...(await serve(context, 'events subgraph', server)), () => queue.close()];
});
