/**
 * Test only (e2e/test/faults.e2e.test.ts): an aggregation worker that kills its own process in
 * the middle of its Nth commit, with the plan written and half of the documents a commit writes
 * at once written, to prove recovery. The crash is injected through the store's afterPlan hook,
 * so production code knows nothing of it.
 *   node workers/test/crashingWorker.ts <N>   (with the workers' environment)
 */
import { DEFAULT_ENGINE_CONFIG } from '@recs/engine';
import { connectMongo, connectRedis, createLogger, listsQueue, RedisNames } from '@recs/shared';
import { AggregatorService } from '../src/aggregate/service.ts';
import { CatalogCache } from '../src/catalog.ts';
import { aggregatorSettings, workersConfig } from '../src/config.ts';
import { Publisher } from '../src/publisher.ts';

const crashAt = Number(process.argv[2]);
if (!Number.isInteger(crashAt) || crashAt < 1) throw new Error('usage: node workers/test/crashingWorker.ts <commit number, from 1>');

const config = workersConfig();
const logger = createLogger('workers', config.LOG_LEVEL);
const mongo = await connectMongo(config.MONGO_URL, config.MONGO_DB, logger, 'recs-crashing-worker');
const redis = await connectRedis(config.REDIS_URL, logger, 'crashing-worker');
const catalog = new CatalogCache(mongo.db, logger);
await catalog.load();
let commits = 0;
await new AggregatorService({
  db: mongo.db,
  redis,
  prefix: config.QUEUE_PREFIX,
  catalog,
  engine: DEFAULT_ENGINE_CONFIG,
  lists: listsQueue(redis, config.QUEUE_PREFIX),
  publisher: new Publisher(redis, new RedisNames(config.QUEUE_PREFIX)),
  logger,
  ...aggregatorSettings(config),
  afterPlan: async ({ immediate, write }) => {
    if (++commits !== crashAt) return;
    await write(immediate.slice(0, Math.floor(immediate.length / 2)));
    process.kill(process.pid, 'SIGKILL');
  },
}).start();
