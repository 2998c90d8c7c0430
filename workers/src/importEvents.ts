/**
 * Imports past events (a shop's order history) into the raw event log and the aggregates:
 *   npm run import-events -- --file F [--format online-retail|ndjson|csv] [--shift-to-now] [--dry-run]
 * Idempotent: ids come from the rows, so a second run stores nothing and counts duplicates. Bad
 * rows are reported with their line and code, and do not stop the import. The aggregates are
 * then recomputed from the whole raw log, as `npm run rebuild -- --yes` does (the running
 * leader stands by meanwhile, and every user's list is queued). Formats: docs/events-format.md.
 * Exit codes: 0 done (even with rejected rows), 1 failure, 2 usage.
 */
import { parseArgs } from 'node:util';
import { DEFAULT_ENGINE_CONFIG } from '@recs/engine';
import { connectMongo, createLogger, type Logger } from '@recs/shared';
import { CatalogCache } from './catalog.ts';
import { workersConfig } from './config.ts';
import { backfill } from './import/backfill.ts';
import { EVENT_FORMATS, guessFormat, type EventFormat } from './import/eventSources.ts';
import { progressBar } from './import/progressBar.ts';
import { rebuildAggregates } from './rebuildAggregates.ts';

const { values } = parseArgs({
  options: {
    file: { type: 'string' },
    format: { type: 'string' },
    'shift-to-now': { type: 'boolean', default: false },
    'dry-run': { type: 'boolean', default: false },
  },
});
const isFormat = (value: string): value is EventFormat => (EVENT_FORMATS as readonly string[]).includes(value);
if (values.file === undefined || (values.format !== undefined && !isFormat(values.format))) {
  console.error(`usage: npm run import-events -- --file F [--format ${EVENT_FORMATS.join('|')}] [--shift-to-now] [--dry-run]`);
  process.exit(2);
}
const file = values.file;
const format: EventFormat = values.format !== undefined && isFormat(values.format) ? values.format : guessFormat(file);

let logger: Logger | undefined;
try {
  const config = workersConfig();
  logger = createLogger('import-events', config.LOG_LEVEL === 'info' ? 'warn' : config.LOG_LEVEL);
  const mongo = await connectMongo(config.MONGO_URL, config.MONGO_DB, logger, 'recs-import-events');
  const catalog = new CatalogCache(mongo.db, logger);
  const bar = progressBar(values['dry-run'] ? 'checking' : 'importing');
  const log = logger;
  const summary = await backfill({
    db: mongo.db,
    file,
    format,
    shiftToNow: values['shift-to-now'],
    dryRun: values['dry-run'],
    onProgress: (done, total) => bar.update(done, total),
    rebuild: async () => {
      bar.end();
      console.error('recomputing the aggregates from the raw events...');
      await catalog.load();
      return rebuildAggregates({
        db: mongo.db,
        catalog,
        engine: DEFAULT_ENGINE_CONFIG,
        redisUrl: config.REDIS_URL,
        queuePrefix: config.QUEUE_PREFIX,
        leaderLeaseMs: config.AGGREGATOR_LEASE_MS,
        logger: log,
        say: (message) => console.error(message),
      });
    },
  });
  bar.end();
  await mongo.close();
  for (const problem of summary.problems) console.error(`line ${problem.line}: ${problem.code}: ${problem.message}`);
  const rejected = Object.entries(summary.rejected);
  const rejectedCount = rejected.reduce((sum, [, count]) => sum + count, 0);
  console.log(
    [
      `${values['dry-run'] ? 'dry run (nothing written): ' : ''}${summary.rows} rows read (${format}) in ${summary.seconds.toFixed(1)} s, ${Math.round(summary.rows / Math.max(summary.seconds, 0.001))} rows/s`,
      `  ${summary.accepted} events ${values['dry-run'] ? 'valid' : 'stored'}, ${summary.duplicates} duplicates (imported before)`,
      `  ${rejectedCount} rejected${rejected.length === 0 ? '' : `: ${rejected.map(([code, count]) => `${code} ${count}`).join(', ')}`}`,
      summary.shiftMs === 0 ? undefined : `  timestamps shifted by ${(summary.shiftMs / 86_400_000).toFixed(1)} days`,
      summary.rebuilt ? "  aggregates recomputed; every user's list is queued" : values['dry-run'] ? undefined : '  nothing new: aggregates unchanged',
    ]
      .filter((line) => line !== undefined)
      .join('\n'),
  );
} catch (error) {
  console.error(`\nimport failed: ${(error as Error).message}`);
  logger?.error({ err: error }, 'import failed');
  process.exit(1);
}
