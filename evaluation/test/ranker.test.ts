import { readFileSync, rmSync } from 'node:fs';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DAY_MS, DEFAULT_ENGINE_CONFIG, MemoryCatalog, RANKER_FEATURE_NAMES, seededRandom } from '@recs/engine';
import { afterAll, describe, expect, it } from 'vitest';
import { parseDate, type Invoice } from '../src/data.ts';
import { evaluate, type Dataset } from '../src/evaluate.ts';
import { buildTrainingSet } from '@recs/trainer';
import { invoiceSteps, latestPrices, RankerTrainingError, trainRanker, trainServedModel } from '../src/ranker/trainRanker.ts';
import { provideRanker, provideServedModel, RANKER_STRATEGY } from '../src/strategies.ts';

/** A row's figures. */
const pick = ({ recall, ndcg, precision, hitRate, n }: { recall: number; ndcg: number; precision: number; hitRate: number; n: number }) => ({
  recall,
  ndcg,
  precision,
  hitRate,
  n,
});

const START = parseDate('2011-01-01');
const SPLIT = parseDate('2011-03-02');
const dirs: string[] = [];
const tempDir = () => {
  const dir = mkdtempSync(join(tmpdir(), 'recs-ranker-'));
  dirs.push(dir);
  return dir;
};
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

/**
 * A small shop over 90 days: 40 customers, each with three favourite products (of 24) bought on
 * their own cycle (every 4 to 9 days), plus now and then one of the four popular ones.
 */
function shop(): Dataset {
  const random = seededRandom(42);
  const products = Array.from({ length: 24 }, (_, i) => `p${i}`);
  const invoices: Invoice[] = [];
  for (let c = 0; c < 40; c++) {
    const favourites = [0, 1, 2].map(() => products[4 + Math.floor(random() * 20)]!);
    const cycle = 4 + Math.floor(random() * 6);
    for (let day = Math.floor(random() * cycle), n = 0; day < 90; day += cycle, n++) {
      const basket = new Set(favourites.filter(() => random() < 0.7));
      if (random() < 0.5) basket.add(products[Math.floor(random() * 4)]!);
      if (basket.size === 0) continue;
      const ids = [...basket];
      invoices.push({
        invoiceNo: `${c}-${n}`,
        customerId: `c${c}`,
        at: START + day * DAY_MS + c * 60_000,
        products: ids,
        lines: ids.map((id) => [id, 1, 1 + Number(id.slice(1))] as const),
      });
    }
  }
  invoices.sort((a, b) => a.at - b.at || (a.invoiceNo < b.invoiceNo ? -1 : 1));
  const catalog = new MemoryCatalog(products.map((id, i) => [id, { categoryId: `cat${i % 3}`, inStock: true }] as const));
  return { file: 'synthetic', invoices, catalog, rows: invoices.length, purchases: invoices.reduce((sum, invoice) => sum + invoice.lines.length, 0) };
}

describe('the ranker training set', () => {
  it('has one query per invoice of the period with a bought candidate, labelled with what the invoice holds', async () => {
    const { invoices, catalog } = shop();
    const dir = tempDir();
    const from = SPLIT - 20 * DAY_MS;
    const prices = latestPrices(invoices.filter((invoice) => invoice.at < SPLIT));
    const { summary } = await buildTrainingSet({
      steps: invoiceSteps(invoices.filter((invoice) => invoice.at < SPLIT)),
      catalog,
      config: DEFAULT_ENGINE_CONFIG,
      from,
      until: SPLIT,
      validFrom: SPLIT - 5 * DAY_MS,
      price: (id) => prices.get(id),
      dir,
    });
    const inPeriod = invoices.filter((invoice) => invoice.at >= from && invoice.at < SPLIT);
    expect(summary.invoices).toBe(inPeriod.length);
    expect(summary.queries + summary.withoutPositive).toBe(inPeriod.length);
    expect(summary.queries).toBeGreaterThan(inPeriod.length / 2);

    const queries = readFileSync(join(dir, 'queries.tsv'), 'utf8')
      .trim()
      .split('\n')
      .slice(1)
      .map((line) => line.split('\t'));
    expect(queries).toHaveLength(summary.queries);
    const sizes = queries.map(([, , , rows]) => Number(rows));
    expect(sizes.reduce((a, b) => a + b, 0)).toBe(summary.rows);
    expect(readFileSync(join(dir, 'features.f64')).byteLength).toBe(summary.rows * RANKER_FEATURE_NAMES.length * 8);
    const labels = readFileSync(join(dir, 'labels.u8'));
    // every query's positives are products of its invoice, and it has at least one
    let offset = 0;
    for (const [[at, customer, invoiceNo], size] of queries.map((query, i) => [query, sizes[i]!] as const)) {
      const invoice = inPeriod.find((candidate) => candidate.invoiceNo === invoiceNo)!;
      expect(invoice.customerId).toBe(customer);
      expect(invoice.at).toBe(Number(at));
      const positives = [...labels.subarray(offset, offset + size)].filter((label) => label === 1).length;
      expect(positives).toBeGreaterThan(0);
      expect(positives).toBeLessThanOrEqual(invoice.products.length);
      offset += size;
    }
    const meta = JSON.parse(readFileSync(join(dir, 'meta.json'), 'utf8')) as { features: string[]; validQueries: number };
    expect(meta.features).toEqual(RANKER_FEATURE_NAMES);
    expect(meta.validQueries).toBe(queries.filter(([at]) => Number(at) >= SPLIT - 5 * DAY_MS).length);
  });

  it('reads nothing at or after `until`: the same set with or without the purchases that follow', async () => {
    const { invoices, catalog } = shop();
    const build = async (from: readonly Invoice[]) => {
      const dir = tempDir();
      await buildTrainingSet({
        steps: invoiceSteps(from),
        catalog,
        config: DEFAULT_ENGINE_CONFIG,
        from: SPLIT - 20 * DAY_MS,
        until: SPLIT,
        validFrom: SPLIT - 5 * DAY_MS,
        price: () => 1,
        dir,
      });
      return ['features.f64', 'labels.u8', 'queries.tsv'].map((file) => readFileSync(join(dir, file)));
    };
    const all = await build(invoices);
    const before = await build(invoices.filter((invoice) => invoice.at < SPLIT));
    expect(invoices.some((invoice) => invoice.at >= SPLIT)).toBe(true);
    all.forEach((file, i) => {
      expect(file.equals(before[i]!)).toBe(true);
    });
  });
});

describe('trainRanker and the ranker strategy', () => {
  it('trains LightGBM on the purchases before the split, loads the model back and ranks in evaluate()', async () => {
    const dataset = shop();
    const dir = tempDir();
    const trained = await trainRanker(dataset, { split: SPLIT, days: 40, validDays: 10, dir, params: { min_data_in_leaf: 20 } });
    expect(trained.model.featureNames).toEqual(RANKER_FEATURE_NAMES);
    expect(trained.model.treeCount).toBeGreaterThan(0);
    expect(trained.report.importance.map(([name]) => name).sort()).toEqual([...RANKER_FEATURE_NAMES].sort());
    expect(trained.report.trainQueries + trained.report.validQueries).toBe(trained.set.queries);

    const withdraw = provideRanker(SPLIT, trained);
    const withdrawServed = provideServedModel(SPLIT, { ...trained, version: 'test' });
    try {
      const result = await evaluate(dataset, { split: '2011-03-02', k: 5, strategies: ['buy-again', RANKER_STRATEGY, 'served'] });
      // a promoted model: served is its ranking, what the ranker strategy scores too (but for
      // customers never seen, who are served the best sellers)
      const served = result.results.find((row) => row.strategy === 'served' && row.segment === 'warm')!;
      expect(served).toMatchObject(pick(result.results.find((row) => row.strategy === RANKER_STRATEGY && row.segment === 'warm')!));
      const ranker = result.results.find((row) => row.strategy === RANKER_STRATEGY && row.segment === 'all')!;
      const buyAgain = result.results.find((row) => row.strategy === 'buy-again' && row.segment === 'all')!;
      expect(ranker.n).toBe(buyAgain.n);
      expect(ranker.userCoverage).toBe(1);
      // the shop's customers rebuy their favourites: a ranker that learned anything finds them
      expect(ranker.recall).toBeGreaterThan(0.5);
      expect(result.baselines).not.toContain(RANKER_STRATEGY);
    } finally {
      withdraw();
      withdrawServed();
    }
    await expect(evaluate(dataset, { split: '2011-03-02', k: 5, strategies: [RANKER_STRATEGY] })).rejects.toThrow(/no ranker model for split 2011-03-02/);
  });

  it('serves the blend when the training job at the split refuses its model, as production would', async () => {
    const dataset = shop();
    // no tree may split: the model ranks as the blend does, and a tie is refused
    const { judged, served } = await trainServedModel(dataset, {
      split: SPLIT,
      settings: { holdoutDays: 10, trainDays: 40, validDays: 10, minTrainQueries: 50, minHoldoutQueries: 20 },
      params: { min_data_in_leaf: 1_000_000_000, min_sum_hessian_in_leaf: 1e12 },
    });
    expect(judged.outcome).toBe('refused');
    expect(judged.outcome !== 'skipped' && judged.verdict.reason).toMatch(/is not above the blend's/);
    expect(served).toBeUndefined();
    const result = await evaluate(dataset, { split: '2011-03-02', k: 5, strategies: ['blend', 'served'] });
    for (const segment of ['warm', 'cold', 'all'] as const) {
      const row = (strategy: string) => result.results.find((r) => r.strategy === strategy && r.segment === segment)!;
      expect(pick(row('served'))).toEqual(pick(row('blend')));
    }
  }, 120_000);

  it('refuses training and validation days that do not make a slice, before building anything', async () => {
    await expect(trainRanker(shop(), { split: SPLIT, days: 10, validDays: 10, dir: tempDir() })).rejects.toThrow(RankerTrainingError);
  });
});
