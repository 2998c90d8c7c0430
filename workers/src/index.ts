import { DEFAULT_ENGINE_CONFIG } from '@recs/engine';
import {
  closeServer,
  eventsQueue,
  listen,
  listsQueue,
  maintenanceQueue,
  RedisNames,
  redisErrorListener,
  runService,
  storesReady,
  TICK_JOB,
  trainingQueue,
} from '@recs/shared';
import { AggregatorService } from './aggregate/service.ts';
import { CatalogCache } from './catalog.ts';
import { aggregatorSettings, workersConfig } from './config.ts';
import { ListService } from './lists/service.ts';
import { createWorkersHttpServer } from './http.ts';
import { ListStore } from './lists/store.ts';
import { MaintenanceService } from './maintenance/service.ts';
import { WorkersMetrics } from './metrics.ts';
import { Publisher } from './publisher.ts';
import { CurrentModel } from './training/currentModel.ts';
import { TrainingService } from './training/service.ts';

await runService('workers', workersConfig, async ({ config, logger: log, mongo, redis, metrics: registry }) => {
  const names = new RedisNames(config.QUEUE_PREFIX);
  const catalog = new CatalogCache(mongo.db, log);
  log.info({ products: await catalog.load() }, 'catalog loaded');
  await catalog.watch(redis, names);
  const metrics = new WorkersMetrics(registry);
  const publisher = new Publisher(redis, names, metrics);
  const events = eventsQueue(redis, config.QUEUE_PREFIX);
  const lists = listsQueue(redis, config.QUEUE_PREFIX);
  // every process reports every queue and the lag, whatever its roles: any one of them answers
  const maintenanceJobs = maintenanceQueue(redis, config.QUEUE_PREFIX);
  // a Queue without an 'error' listener prints every failed reconnection with its stack
  events.on('error', redisErrorListener(log, 'events queue'));
  lists.on('error', redisErrorListener(log, 'lists queue'));
  maintenanceJobs.on('error', redisErrorListener(log, 'maintenance queue'));
  const trainingJobs = trainingQueue(redis, config.QUEUE_PREFIX);
  trainingJobs.on('error', redisErrorListener(log, 'training queue'));
  metrics.watchQueues({ events, lists, maintenance: maintenanceJobs, training: trainingJobs });
  metrics.watchInbox(mongo.db);
  const engine = DEFAULT_ENGINE_CONFIG;
  const roles = new Set(config.WORKER_ROLES);
  const stops: (() => Promise<unknown>)[] = [];

  let aggregation: AggregatorService | undefined;
  // built before aggregation starts: the leader recomputes its flushes' lists through it (the live path)
  let listService: ListService | undefined;
  let model: CurrentModel | undefined;
  if (roles.has('lists')) {
    model = new CurrentModel(mongo.db, log);
    await model.watch(redis, names);
    metrics.watchModel(model);
    listService = new ListService({
      model,
      store: new ListStore(mongo.db),
      catalog,
      engine,
      publisher,
      logger: log,
      metrics,
      ...(roles.has('aggregate') ? { local: () => aggregation?.aggregator } : {}),
    });
  }
  if (roles.has('aggregate')) {
    aggregation = new AggregatorService({
      db: mongo.db,
      redis,
      prefix: config.QUEUE_PREFIX,
      catalog,
      engine,
      lists,
      ...(listService === undefined ? {} : { liveLists: listService }),
      publisher,
      logger: log,
      metrics,
      ...aggregatorSettings(config),
      onFlush: (stats) => log.debug(stats, 'flushed'),
    });
    await aggregation.start();
    // categories or stock changed: rankings may too
    catalog.onChange(() => void events.add(TICK_JOB.name, TICK_JOB.data).catch(() => undefined));
    stops.push(() => aggregation!.stop());
  }
  if (listService !== undefined) {
    listService.start(redis, config.QUEUE_PREFIX, config.LIST_CONCURRENCY, config.JOB_LOCK_MS);
    const [service, serving] = [listService, model!];
    // after aggregation stopped: its last live lists use both
    stops.push(
      () => service.stop(),
      () => serving.close(),
    );
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
      metrics,
      schedules: { tick: config.TICK_INTERVAL_MS, 'sweep-inbox': config.SWEEP_INTERVAL_MS, 'refresh-active': config.REFRESH_INTERVAL_MS },
    });
    await maintenance.start();
    stops.push(() => maintenance.stop());
  }
  if (roles.has('train')) {
    const training = new TrainingService({
      db: mongo.db,
      redis,
      prefix: config.QUEUE_PREFIX,
      catalog,
      engine,
      logger: log,
      schedule: config.TRAIN_SCHEDULE,
      venv: config.TRAINER_VENV,
      metrics,
      lists,
    });
    await training.start();
    stops.push(() => training.stop());
  }
  const http = createWorkersHttpServer({ registry: metrics.registry, ready: storesReady({ mongo, redis }) });
  const port = await listen(http, config.WORKERS_PORT, config.HOST);
  log.info({ roles: [...roles], metrics: `http://${config.HOST}:${port}/metrics` }, 'workers running');
  return [
    () => closeServer(http),
    ...stops,
    () => events.close(),
    () => lists.close(),
    () => maintenanceJobs.close(),
    () => trainingJobs.close(),
    () => catalog.close(),
  ];
});
