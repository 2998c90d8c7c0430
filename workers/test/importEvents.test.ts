import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { testDatabase, testServices, uniqueName, type TestDatabase } from '@recs/devkit';
import { DEFAULT_ENGINE_CONFIG } from '@recs/engine';
import { COLLECTIONS, createLogger, fromBestSellersDoc, type BestSellersDoc, type RawEventDoc } from '@recs/shared';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CatalogCache } from '../src/catalog.ts';
import { backfill, type BackfillOptions } from '../src/import/backfill.ts';
import { rebuildAggregates } from '../src/rebuildAggregates.ts';
import { compareAggregates, dumpAggregator, readStoredAggregates, recomputeAggregates } from '../src/verify.ts';
import { insertCatalog } from './helpers.ts';

const here = dirname(fileURLToPath(import.meta.url));
const fixture = (name: string) => join(here, 'fixtures', name);
const RETAIL = fixture('online-retail-sample.csv');
const logger = createLogger('import-test', process.env['TEST_LOG_LEVEL'] ?? 'silent');

async function catalogOf(db: TestDatabase['db']): Promise<CatalogCache> {
  const catalog = new CatalogCache(db, logger);
  await catalog.load();
  return catalog;
}

/** backfill bound to this database's services, as the CLI binds it. */
function importInto(database: TestDatabase, options: Omit<BackfillOptions, 'db' | 'rebuild'>) {
  return backfill({
    db: database.db,
    ...options,
    rebuild: async () =>
      rebuildAggregates({
        db: database.db,
        catalog: await catalogOf(database.db),
        engine: DEFAULT_ENGINE_CONFIG,
        redisUrl: testServices().redisUrl,
        queuePrefix: uniqueName('import'),
        leaderLeaseMs: 1_000,
        logger,
      }),
  });
}

async function expectAggregatesExact(database: TestDatabase): Promise<void> {
  const expected = dumpAggregator(await recomputeAggregates(database.db, await catalogOf(database.db), DEFAULT_ENGINE_CONFIG));
  expect(compareAggregates(await readStoredAggregates(database.db), expected)).toEqual([]);
}

describe('import-events: Online Retail', () => {
  let database: TestDatabase;
  // best sellers are ranked on the clock's trailing windows: the history must end now
  const now = Date.now() - 60_000;
  beforeAll(async () => {
    database = await testDatabase('import-retail');
    await insertCatalog(
      database.db,
      (await retailProducts()).map((id) => ({ id, categoryId: 'home' })),
    );
  });
  afterAll(async () => {
    await database.drop();
  });

  it('stores the purchases as raw events and recomputes exact aggregates; best sellers rank the imported buyers', async () => {
    const summary = await importInto(database, { file: RETAIL, format: 'online-retail', shiftToNow: true, now });
    const events = await database.db.collection<RawEventDoc>(COLLECTIONS.events).find().toArray();
    expect(summary.accepted).toBe(events.length);
    expect(summary.accepted).toBeGreaterThan(100);
    expect(summary.rejected).toEqual({ INVALID_TIMESTAMP: 1 });
    expect(summary.problems).toEqual([{ line: 122, code: 'INVALID_TIMESTAMP', message: expect.any(String) }]);
    expect(summary.rebuilt).toBe(true);
    const first = events.find((e) => e._id === '17850\tor-536365-85123A-1');
    expect(first).toMatchObject({ userId: '17850', productId: '85123A', type: 'PURCHASE', quantity: 6, price: 2.55 });
    // the cancellation line (C536379) is not a purchase
    expect(events.filter((e) => e._id.includes('C536379'))).toEqual([]);
    // --shift-to-now: the newest purchase happened now
    expect(Math.max(...events.map((e) => e.occurredAt.getTime()))).toBe(now);
    await expectAggregatesExact(database);

    const buyers = new Map<string, Set<string>>();
    for (const e of events) buyers.set(e.productId, (buyers.get(e.productId) ?? new Set()).add(e.userId));
    const most = Math.max(...[...buyers.values()].map((set) => set.size));
    const ranking = await database.db.collection<BestSellersDoc>(COLLECTIONS.bestSellers).findOne({ c: null, w: 7 });
    expect(ranking).not.toBeNull();
    const [top] = fromBestSellersDoc(ranking!).items;
    expect(top![1]).toBe(most);
    expect(buyers.get(top![0])!.size).toBe(most);
  });

  it('adds nothing on a second run, shifted or not', async () => {
    const before = await database.db.collection(COLLECTIONS.events).countDocuments();
    const again = await importInto(database, { file: RETAIL, format: 'online-retail', shiftToNow: true, now: now + 86_400_000 });
    expect(again).toMatchObject({ accepted: 0, duplicates: before, rebuilt: false });
    expect(await database.db.collection(COLLECTIONS.events).countDocuments()).toBe(before);
    await expectAggregatesExact(database);
  });
});

async function retailProducts(): Promise<string[]> {
  const { readPurchaseLines } = await import('@recs/evaluation');
  const ids = new Set<string>();
  for await (const line of readPurchaseLines(RETAIL)) ids.add(line.stockCode);
  return [...ids];
}

describe('import-events: NDJSON and CSV', () => {
  let database: TestDatabase;
  beforeAll(async () => {
    database = await testDatabase('import-ndjson');
    await insertCatalog(database.db, [
      { id: 'p1', categoryId: 'c1' },
      { id: 'p2', categoryId: 'c1' },
    ]);
  });
  afterAll(async () => {
    await database.drop();
  });

  it('--dry-run validates and counts, and writes nothing', async () => {
    const summary = await importInto(database, { file: fixture('events.ndjson'), format: 'ndjson', dryRun: true });
    expect(summary).toMatchObject({ rows: 9, accepted: 5, rebuilt: false });
    expect(await database.db.collection(COLLECTIONS.events).countDocuments()).toBe(0);
    expect(await database.db.collection(COLLECTIONS.users).countDocuments()).toBe(0);
  });

  it('imports the good rows, reports the bad ones by line and code, and keeps old times (no age limit)', async () => {
    const summary = await importInto(database, { file: fixture('events.ndjson'), format: 'ndjson' });
    expect(summary.problems.map(({ line, code }) => [line, code])).toEqual([
      [5, 'INVALID_TYPE'],
      [6, 'INVALID_JSON'],
      [7, 'INVALID_ROW'],
      [8, 'INVALID_QUANTITY'],
    ]);
    expect(summary).toMatchObject({ rows: 9, accepted: 5, duplicates: 0, rebuilt: true, shiftMs: 0 });
    const events = await database.db.collection<RawEventDoc>(COLLECTIONS.events).find().sort({ occurredAt: 1 }).toArray();
    expect(events.map((e) => e._id.split('\t')[1])).toEqual(['n-1', 'n-2', 'n-3', expect.stringMatching(/^h-/), 'n-10']);
    expect(events[0]!.occurredAt.toISOString()).toBe('2024-03-01T10:00:00.000Z');
    expect(events[2]).toMatchObject({ metadata: { channel: 'web' }, price: 1.25, sessionId: 's1' });
    await expectAggregatesExact(database);
    const users = await database.db.collection(COLLECTIONS.users).countDocuments();
    expect(users).toBe(3);

    // the row without an eventId gets the same hashed id again
    const again = await importInto(database, { file: fixture('events.ndjson'), format: 'ndjson' });
    expect(again).toMatchObject({ accepted: 0, duplicates: 5, rebuilt: false });
  });

  it('reads CSV rows, metadata as JSON, through the CLI', () => {
    const run = spawnSync(process.execPath, [join(here, '../src/importEvents.ts'), '--file', fixture('events.csv'), '--format', 'csv'], {
      env: { ...process.env, MONGO_DB: database.name, QUEUE_PREFIX: uniqueName('import-cli'), AGGREGATOR_LEASE_MS: '1000' },
      encoding: 'utf8',
    });
    expect(run.status, run.stderr).toBe(0);
    expect(run.stdout).toContain('4 rows read (csv)');
    expect(run.stdout).toContain('2 events stored, 0 duplicates');
    expect(run.stdout).toContain('2 rejected: INVALID_NUMBER 1, INVALID_METADATA 1');
    expect(run.stderr).toContain('line 4: INVALID_NUMBER');
    expect(run.stderr).toContain('line 5: INVALID_METADATA');
  });
});
