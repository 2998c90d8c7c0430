/**
 * Trains the ranking model from the shop's raw events now, judges it on the latest weeks and
 * promotes it when it ranks them better than the blend and the model serving (what the daily
 * job does, on demand):
 *   npm run train [-- --dry-run] [--holdout-days 28] [--days 180] [--valid-days 28] [--min-holdout 50] [--params JSON]
 * Prints the figures and the verdict; a promotion is announced to the list workers and every
 * stored list is queued. --dry-run trains and judges, recording nothing.
 */
import { parseArgs } from 'node:util';
import { DEFAULT_ENGINE_CONFIG } from '@recs/engine';
import { connectMongo, connectRedis, createLogger, listsQueue, RedisNames, type Logger } from '@recs/shared';
import { PythonEnvError } from '@recs/trainer';
import { CatalogCache } from './catalog.ts';
import { workersConfig } from './config.ts';
import { RankerTrainingError, TRAINING_DEFAULTS, trainFromEvents, TrainingSettingsError, type TrainingSettings } from './training/job.ts';
import { announcePromotion } from './training/service.ts';

const USAGE = `npm run train -- [options]: trains the ranking model from the raw events and promotes it when it beats what serves

  --holdout-days N   the latest N days judge the model, never trained on (default ${TRAINING_DEFAULTS.holdoutDays})
  --days N           days of training baskets before them (default ${TRAINING_DEFAULTS.trainDays})
  --valid-days N     the last N of those stop the training early (default ${TRAINING_DEFAULTS.validDays})
  --min-holdout N    holdout baskets needed to promote (default ${TRAINING_DEFAULTS.minHoldoutQueries})
  --params JSON      LightGBM parameters over the trainer's defaults
  --dry-run          train and judge, record nothing`;

function fail(message: string, code = 2): never {
  console.error(`train: ${message}`);
  process.exit(code);
}

let values;
try {
  ({ values } = parseArgs({
    options: {
      'holdout-days': { type: 'string' },
      days: { type: 'string' },
      'valid-days': { type: 'string' },
      'min-holdout': { type: 'string' },
      params: { type: 'string', default: '{}' },
      'dry-run': { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  }));
} catch (error) {
  fail(`${(error as Error).message}\n${USAGE}`);
}
if (values.help) {
  console.log(USAGE);
  process.exit(0);
}
const whole = (name: string, value: string | undefined): number | undefined => {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0) fail(`--${name} must be a whole number above 0 (got ${JSON.stringify(value)})`);
  return n;
};
const settings: Partial<TrainingSettings> = Object.fromEntries(
  Object.entries({
    holdoutDays: whole('holdout-days', values['holdout-days']),
    trainDays: whole('days', values.days),
    validDays: whole('valid-days', values['valid-days']),
    minHoldoutQueries: whole('min-holdout', values['min-holdout']),
  }).filter(([, value]) => value !== undefined),
);
let params: Record<string, unknown>;
try {
  params = JSON.parse(values.params) as Record<string, unknown>;
  if (params === null || typeof params !== 'object' || Array.isArray(params)) throw new Error('not an object');
} catch (error) {
  fail(`--params must be a JSON object of LightGBM parameters: ${(error as Error).message}`);
}

let logger: Logger | undefined;
try {
  const config = workersConfig();
  logger = createLogger('train', config.LOG_LEVEL === 'info' ? 'warn' : config.LOG_LEVEL);
  const mongo = await connectMongo(config.MONGO_URL, config.MONGO_DB, logger, 'recs-train');
  const catalog = new CatalogCache(mongo.db, logger);
  console.error(`train: ${await catalog.load()} products in the catalog`);
  const outcome = await trainFromEvents({
    db: mongo.db,
    catalog,
    engine: DEFAULT_ENGINE_CONFIG,
    settings,
    params,
    venv: config.TRAINER_VENV,
    record: !values['dry-run'],
    say: (line) => console.error(line),
  });
  if (outcome.outcome === 'skipped') {
    console.log(`not trained: ${outcome.reason}`);
  } else {
    const { candidate, blend, serving, doc } = outcome;
    const row = (name: string, f: { recall: number; ndcg: number }) => `  ${name.padEnd(28)} ${f.recall.toFixed(4)}   ${f.ndcg.toFixed(4)}`;
    console.log(
      [
        `model ${outcome.version}: ${doc.trees} trees, ${(doc.bytes / 1024).toFixed(0)} KiB, trained on ${doc.trainedOn.queries.toLocaleString('en')} baskets in ${doc.seconds.total.toFixed(0)} s`,
        `holdout: ${candidate.queries.toLocaleString('en')} baskets of the last ${settings.holdoutDays ?? TRAINING_DEFAULTS.holdoutDays} days, at k = ${candidate.k}`,
        `  ${'ranking'.padEnd(28)} Recall   NDCG`,
        row(`this model (penalty ${doc.penalty?.weight ?? 0})`, candidate),
        row('the blend', blend),
        ...(serving === undefined ? [] : [row(`serving (${serving.version})`, serving.figures)]),
        ...(doc.penalty === undefined
          ? []
          : [
              `popularity penalty by weight (NDCG / distinct products): ${doc.penalty.tried.map((t) => `${t.weight}: ${t.ndcg.toFixed(4)} / ${t.products}`).join(', ')}`,
            ]),
        ...(doc.finalFit === undefined
          ? []
          : [
              `serves its final fit: the same rounds on the ${doc.finalFit.queries.toLocaleString('en')} baskets of ${doc.finalFit.from.toISOString().slice(0, 10)} to ${doc.finalFit.until.toISOString().slice(0, 10)} (${doc.finalFit.holdout.toLocaleString('en')} of the holdout)`,
            ]),
        `top features: ${doc.importance
          .slice(0, 5)
          .map(({ feature, share }) => `${feature} ${(100 * share).toFixed(1)}%`)
          .join(', ')}`,
        `${values['dry-run'] ? '(dry run, nothing recorded) ' : ''}${outcome.outcome}: ${outcome.reason}`,
      ].join('\n'),
    );
    if (outcome.outcome === 'promoted' && !values['dry-run']) {
      const redis = await connectRedis(config.REDIS_URL, logger, 'recs-train');
      const lists = listsQueue(redis, config.QUEUE_PREFIX);
      const queued = await announcePromotion(redis, new RedisNames(config.QUEUE_PREFIX), mongo.db, lists);
      console.log(`announced to the list workers; ${queued.toLocaleString('en')} stored lists are queued to follow the model`);
      await lists.close();
      await redis.close();
    }
  }
  await mongo.close();
} catch (error) {
  const known = error instanceof TrainingSettingsError || error instanceof RankerTrainingError || error instanceof PythonEnvError;
  logger?.error({ err: error }, 'training failed');
  fail(`${known ? '' : 'failed: '}${(error as Error).message}`, known ? 2 : 1);
}
