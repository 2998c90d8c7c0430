import { DEFAULT_ENGINE_CONFIG } from '@recs/engine';
import { eventsQueue, listsQueue, RedisNames, runService, TICK_JOB } from '@recs/shared';
import { AggregatorService } from './aggregate/service.ts';
import { CatalogCache } from './catalog.ts';
import { aggregatorSettings, workersConfig } from './config.ts';
import { ListService } from './lists/service.ts';
import { ListStore } from './lists/store.ts';
import { MaintenanceService } from './maintenance/service.ts';
import { Publisher } from './publisher.ts';

await runService('workers', workersConfig, async ({ config, logger: log, mongo, redis }) => {
  const names = new RedisNames(config.QUEUE_PREFIX);
  const catalog = new CatalogCache(mongo.db, log);
  log.info({ products: await catalog.load() }, 'catalog loaded');
  await catalog.watch(redis, names);
  const publisher = new Publisher(redis, names);
  const events = eventsQueue(redis, config.QUEUE_PREFIX);
  const lists = listsQueue(redis, config.QUEUE_PREFIX);
  const engine = DEFAULT_ENGINE_CONFIG;
  const roles = new Set(config.WORKER_ROLES);
  const stops: (() => Promise<unknown>)[] = [];

  let aggregation: AggregatorService | undefined;
  if (roles.has('aggregate')) {
    aggregation = new AggregatorService({
      db: mongo.db,
      redis,
      prefix: config.QUEUE_PREFIX,
      catalog,
      engine,
      lists,
      publisher,
      logger: log,
      ...aggregatorSettings(config),
      onFlush: (stats) => log.debug(stats, 'flushed'),
    });
    await aggregation.start();
    // categories or stock changed: rankings may too
    catalog.onChange(() => void events.add(TICK_JOB.name, TICK_JOB.data).catch(() => undefined));
    stops.push(() => aggregation!.stop());
  }
  if (roles.has('lists')) {
    const listService = new ListService({
      store: new ListStore(mongo.db),
      catalog,
      engine,
      publisher,
      logger: log,
      ...(aggregation === undefined ? {} : { local: () => aggregation!.aggregator }),
    });
    listService.start(redis, config.QUEUE_PREFIX, config.LIST_CONCURRENCY, config.JOB_LOCK_MS);
    stops.push(() => listService.stop());
  }
  if (roles.has('maintenance')) {
    const maintenance = new MaintenanceService({
      db: mongo.db,
      redis,
      prefix: config.QUEUE_PREFIX,
      events,
      lists,
      engine,
      logger: log,
      inboxGraceMs: config.INBOX_GRACE_MS,
      schedules: { tick: config.TICK_INTERVAL_MS, 'sweep-inbox': config.SWEEP_INTERVAL_MS, 'refresh-active': config.REFRESH_INTERVAL_MS },
    });
    await maintenance.start();
    stops.push(() => maintenance.stop());
  }
  log.info({ roles: [...roles] }, 'workers running');
  return [...stops, () => events.close(), () => lists.close(), () => catalog.close()];
});
