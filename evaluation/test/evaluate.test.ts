import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { evaluate, EvaluationInputError, loadDataset, type Dataset, type EvaluationResult } from '../src/evaluate.ts';
import { toHtml, toJson } from '../src/report.ts';

const HEADER = 'InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country';
const ROWS = [
  // training: before 2011-01-10
  '100,10001,RED MUG,2,2011-01-01 10:00:00,1.5,1.0,United Kingdom',
  '100,10002,BLUE MUG,1,2011-01-01 10:00:00,1.5,1.0,United Kingdom',
  '100,10001,RED MUG,1,2011-01-01 10:00:00,1.5,1.0,United Kingdom',
  '101,10001,RED MUG,1,2011-01-02 10:00:00,1.5,2.0,United Kingdom',
  '101,10003,GREEN CANDLE,1,2011-01-02 10:00:00,2,2.0,United Kingdom',
  '102,10001,RED MUG,1,2011-01-03 10:00:00,1.5,1.0,United Kingdom',
  // not purchases under the protocol: a cancellation, a guest order, a fee, a zero quantity
  'C103,10002,BLUE MUG,-1,2011-01-03 11:00:00,1.5,1.0,United Kingdom',
  '104,10004,YELLOW BAG,1,2011-01-04 10:00:00,3,,United Kingdom',
  '105,POST,POSTAGE,1,2011-01-04 10:00:00,18,3.0,United Kingdom',
  '106,10005,PINK BAG,0,2011-01-04 10:00:00,3,3.0,United Kingdom',
  // test period
  '200,10002,BLUE MUG,1,2011-01-10 09:00:00,1.5,1.0,United Kingdom',
  '201,10003,GREEN CANDLE,1,2011-01-11 09:00:00,2,9.0,United Kingdom',
  '202,10003,GREEN CANDLE,1,2011-01-12 09:00:00,2,9.0,United Kingdom',
];

let dir: string;
let dataset: Dataset;
let result: EvaluationResult;
const row = (strategy: string, segment: string) => result.results.find((r) => r.strategy === strategy && r.segment === segment)!;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'recs-evaluate-'));
  const file = join(dir, 'retail.csv');
  writeFileSync(file, `${[HEADER, ...ROWS].join('\n')}\n`);
  dataset = await loadDataset(file);
  result = await evaluate(dataset, { split: '2011-01-10', k: 2 });
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('evaluate', () => {
  it('reads only the protocol’s purchases, as invoices of distinct products', () => {
    expect(dataset.rows).toBe(ROWS.length);
    expect(dataset.purchases).toBe(9);
    expect(dataset.invoices.map((invoice) => [invoice.invoiceNo, invoice.customerId, invoice.products])).toEqual([
      ['100', '1', ['10001', '10002']],
      ['101', '2', ['10001', '10003']],
      ['102', '1', ['10001']],
      ['200', '1', ['10002']],
      ['201', '9', ['10003']],
      ['202', '9', ['10003']],
    ]);
    expect(result.catalogSize).toBe(3);
    expect(result.customers).toEqual({ training: 2, warm: 1, cold: 1 });
  });

  it('scores every invoice of the test period before applying it, per segment', () => {
    expect(row('served', 'warm').n).toBe(1);
    expect(row('served', 'cold').n).toBe(2);
    expect(row('served', 'all').n).toBe(3);
    // customer 1 bought 10001 in two invoices and 10002 in one: buy-again ranks 10002 second, a hit
    expect(row('buy-again', 'warm')).toMatchObject({ precision: 0.5, recall: 1, hitRate: 1, userCoverage: 1 });
    expect(row('buy-again', 'warm').ndcg).toBeCloseTo(1 / Math.log2(3), 12);
    // customer 9 has nothing to buy again before 201: the best sellers [10001, 10002], a miss; then
    // 10003 (learnt from 201) before 202, a hit, filled with 10001: every list full
    expect(row('buy-again', 'cold')).toMatchObject({ precision: 0.25, recall: 0.5, ndcg: 0.5, hitRate: 0.5, userCoverage: 1 });
    expect(row('buy-again-decayed', 'cold')).toMatchObject({ precision: 0.25, recall: 0.5, ndcg: 0.5, hitRate: 0.5, userCoverage: 1 });
    // best sellers: before 201 [10001 (2 buyers), 10002 (1, id before 10003)]: a miss;
    // before 202, 10003 has 2 buyers too: [10001, 10003], a hit at rank 2
    expect(row('best-sellers', 'cold').recall).toBe(0.5);
    expect(row('best-sellers', 'cold').ndcg).toBeCloseTo(0.5 / Math.log2(3), 12);
    expect(row('best-sellers', 'all').itemCoverage).toBe(1);
  });

  it('writes the JSON results and a report that needs no network', () => {
    const json = JSON.parse(toJson(result));
    expect(json).toMatchObject({ k: 2, split: '2011-01-10' });
    expect(json.results).toHaveLength(7 * 3);
    expect(json.baselines).toEqual(['best-sellers', 'category-best-sellers', 'buy-again', 'buy-again-decayed', 'also-bought']);
    expect(json.leads.map((lead: { strategy: string; segment: string }) => `${lead.strategy}/${lead.segment}`)).toEqual([
      'blend/warm',
      'served/warm',
      'blend/cold',
      'served/cold',
      'blend/all',
      'served/all',
    ]);
    expect(Object.keys(json.results[0]).sort()).toEqual(
      ['strategy', 'segment', 'precision', 'recall', 'ndcg', 'hitRate', 'novelty', 'itemCoverage', 'userCoverage', 'n'].sort(),
    );
    const html = toHtml(result);
    expect(html.match(/<svg/g)).toHaveLength(7);
    expect(html).not.toMatch(/<script|<link|src=|@import/);
  });

  it('scores extra strategies built on the walk, in the same walk, and refuses one named as another', async () => {
    const always = (name: string, ids: readonly string[]) => () => [{ name, describe: name, baseline: false, recommend: () => ids }];
    const extra = await evaluate(dataset, { split: '2011-01-10', k: 2, strategies: ['buy-again'], extra: always('fixed', ['10003', '10001']) });
    const fixed = extra.results.find((r) => r.strategy === 'fixed' && r.segment === 'cold')!;
    // customer 9 bought 10003 in both test invoices: a hit at rank 1 each time
    expect(fixed).toMatchObject({ n: 2, recall: 1, ndcg: 1 });
    expect(extra.baselines).toEqual(['buy-again']);
    await expect(evaluate(dataset, { split: '2011-01-10', k: 2, extra: always('buy-again', []) })).rejects.toThrow(/named as another/);
  });

  it('times the replay per tenth of its events, a day per batch, and replays alone when asked', async () => {
    // training: 6 purchase lines over 3 days (3, 2, 1): each tenth ends at the first day reaching it
    expect(result.replay.events).toBe(6);
    expect(result.replay.rate.tenths.map((slice) => slice.events)).toEqual([3, 2, 1]);
    expect(JSON.parse(toJson(result)).replay).toMatchObject({ events: 6, tenths: [{ events: 3 }, { events: 2 }, { events: 1 }] });
    const replayed = await evaluate(dataset, { split: '2011-01-10', k: 2, replayOnly: true });
    expect(replayed.results).toEqual([]);
    expect(replayed.replay.events).toBe(6);
    expect(replayed.customers).toEqual({ training: 2, warm: 0, cold: 0 });
  });

  it('refuses options it cannot honour, with a clear message', async () => {
    await expect(evaluate(dataset, { split: '2011-13-01', k: 2 })).rejects.toThrow(EvaluationInputError);
    await expect(evaluate(dataset, { split: '2010-01-01', k: 2 })).rejects.toThrow(/nothing to learn from/);
    await expect(evaluate(dataset, { split: '2011-01-10', until: '2011-01-05', k: 2 })).rejects.toThrow(/must be after/);
    await expect(evaluate(dataset, { split: '2011-01-10', k: 0 })).rejects.toThrow(/--k/);
  });
});
