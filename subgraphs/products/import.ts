/**
 * Imports a catalog into MongoDB:
 *   npm run import-catalog -- [--file PATH] [--format online-retail|csv|json] [--dry-run]
 * Without --file it imports the demo catalog shipped in data/online-retail/. Existing products
 * are replaced by id, unchanged ones left alone; running it twice is harmless.
 */
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { connectMongo, connectRedis, createLogger, ensureIndexes, RedisNames, type RedisClient } from '@recs/shared';
import { CatalogFileError, detectFormat, readCatalog, type CatalogFormat } from './catalog/read.ts';
import { importConfig } from './config.ts';
import { ProductStore } from './store.ts';

export const DEMO_CATALOG = join(import.meta.dirname, '../../data/online-retail/online-retail-2010-12-to-2011-10.csv.gz');

const { values } = parseArgs({
  options: {
    file: { type: 'string', default: DEMO_CATALOG },
    format: { type: 'string' },
    'dry-run': { type: 'boolean', default: false },
    help: { type: 'boolean', default: false },
  },
});
if (values.help) {
  console.log('usage: npm run import-catalog -- [--file PATH] [--format online-retail|csv|json] [--dry-run]');
  process.exit(0);
}

try {
  const config = importConfig();
  const logger = createLogger('import-catalog', config.LOG_LEVEL === 'info' ? 'warn' : config.LOG_LEVEL);
  const file = values.file;
  const format = (values.format as CatalogFormat | undefined) ?? (await detectFormat(file));
  if (!['online-retail', 'csv', 'json'].includes(format)) throw new CatalogFileError(`unknown --format ${format}`);
  const started = Date.now();
  console.log(`reading ${file} (${format})`);
  const records = await readCatalog(file, format);
  console.log(`${records.length} products, ${new Set(records.map((r) => r.categoryId)).size} categories, read in ${Date.now() - started} ms`);
  if (values['dry-run']) process.exit(0);

  const mongo = await connectMongo(config.MONGO_URL, config.MONGO_DB, logger, 'recs-import');
  await ensureIndexes(mongo.db);
  let redis: RedisClient | undefined;
  try {
    redis = await connectRedis(config.REDIS_URL, logger, 'import');
  } catch {
    console.warn('Redis is unreachable: running workers will pick the catalog up at their next refresh');
  }
  const store = new ProductStore(mongo.db, redis === undefined ? {} : { publish: { redis, names: new RedisNames(config.QUEUE_PREFIX) }, cacheTtlMs: 0 });
  const totals = { created: 0, updated: 0, unchanged: 0 };
  for (let i = 0; i < records.length; i += 1_000) {
    const result = await store.upsert(records.slice(i, i + 1_000));
    totals.created += result.created;
    totals.updated += result.updated;
    totals.unchanged += result.unchanged;
    process.stdout.write(`\rimported ${Math.min(i + 1_000, records.length)}/${records.length}`);
  }
  console.log(`\ndone in ${((Date.now() - started) / 1000).toFixed(1)} s: ${totals.created} created, ${totals.updated} updated, ${totals.unchanged} unchanged`);
  await redis?.close();
  await mongo.close();
} catch (error) {
  console.error(error instanceof CatalogFileError || (error as Error).name === 'ConfigError' ? (error as Error).message : error);
  process.exit(1);
}
