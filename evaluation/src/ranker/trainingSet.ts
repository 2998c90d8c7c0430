import { closeSync, mkdirSync, openSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import {
  Aggregator,
  candidateFeatures,
  dayOf,
  MemoryStore,
  RANKER_FEATURE_NAMES,
  rankerCandidates,
  type CatalogView,
  type EngineConfig,
  type TrackedEvent,
} from '@recs/engine';
import type { Invoice } from '../data.ts';

/** The purchase lines of an invoice as the engine's events (as evaluate() applies them). */
export function invoiceEvents(invoice: Invoice): TrackedEvent[] {
  return invoice.lines.map(([productId, quantity, price], line) => ({
    eventId: `${invoice.invoiceNo}:${line}`,
    userId: invoice.customerId,
    productId,
    type: 'PURCHASE',
    occurredAt: invoice.at,
    receivedAt: invoice.at,
    quantity,
    ...(price > 0 ? { price } : {}),
  }));
}

/** Each product's latest unit price among `invoices` (what the catalog would say at their end). */
export function latestPrices(invoices: readonly Invoice[]): Map<string, number> {
  const prices = new Map<string, number>();
  for (const invoice of invoices) for (const [productId, , price] of invoice.lines) if (price > 0) prices.set(productId, price);
  return prices;
}

export interface TrainingSetOptions {
  readonly invoices: readonly Invoice[];
  readonly catalog: CatalogView;
  readonly config: EngineConfig;
  /** Queries are the invoices from `from` to `until` (epoch ms, exclusive); only purchases before `until` are read. */
  readonly from: number;
  readonly until: number;
  /** Queries at or after it are the validation slice (meta.json's validFrom). */
  readonly validFrom: number;
  readonly price: (productId: string) => number | undefined;
  readonly dir: string;
  readonly onProgress?: (line: string) => void;
}

export interface TrainingSetSummary {
  readonly rows: number;
  readonly queries: number;
  readonly validQueries: number;
  /** Invoices in the query period, and those left out because no candidate was bought. */
  readonly invoices: number;
  readonly withoutPositive: number;
  /** Share of the query invoices' products that were among their candidates (the ranker's ceiling on Recall). */
  readonly candidateRecall: number;
  readonly seconds: number;
}

/**
 * Builds the ranker's training set the way the evaluation scores lists: every purchase before
 * `from` is replayed through an Aggregator (a day per batch); then, in time order, before each
 * invoice from `from` to `until` the customer's candidates and features are computed from the
 * engine's state at that moment, labelled 1 for the products the invoice holds, and the invoice
 * is applied. One query per invoice; one with no bought candidate teaches nothing and is left
 * out. Nothing at or after `until` is read, so a model for a split trained on `until` = split
 * has seen no purchase of the test period.
 *
 * Written to `dir` for evaluation/ranker/train.py: features.f64 (float64 little-endian rows,
 * NaN for a missing value; binary because LightGBM's Python reads it in one call, where a text
 * file of half a million rows takes longer to parse than to train on), labels.u8, queries.tsv
 * (at, customer, invoice, rows) and meta.json.
 */
export async function buildTrainingSet(options: TrainingSetOptions): Promise<TrainingSetSummary> {
  const started = performance.now();
  const { invoices, catalog, config, from, until, validFrom, price, dir } = options;
  mkdirSync(dir, { recursive: true });
  const aggregator = new Aggregator(new MemoryStore(), catalog, config);
  await aggregator.start();
  const before = invoices.filter((invoice) => invoice.at < from);
  const queryInvoices = invoices.filter((invoice) => invoice.at >= from && invoice.at < until);
  let lastReport = performance.now();
  const progress = (text: () => string) => {
    if (options.onProgress === undefined || performance.now() - lastReport < 2000) return;
    lastReport = performance.now();
    options.onProgress(text());
  };

  for (let i = 0; i < before.length; ) {
    const day = dayOf(before[i]!.at);
    const batch: TrackedEvent[] = [];
    let last = before[i]!.at;
    for (; i < before.length && dayOf(before[i]!.at) === day; i++) {
      batch.push(...invoiceEvents(before[i]!));
      last = before[i]!.at;
    }
    await aggregator.apply(batch, last);
    progress(() => `ranker: replaying ${i.toLocaleString('en')}/${before.length.toLocaleString('en')} invoices before the training queries`);
  }

  const features = openSync(join(dir, 'features.f64'), 'w');
  const labels = openSync(join(dir, 'labels.u8'), 'w');
  const queries: string[] = ['at\tcustomer\tinvoice\trows'];
  let rows = 0;
  let validQueries = 0;
  let withoutPositive = 0;
  let relevant = 0;
  let found = 0;
  try {
    for (const [i, invoice] of queryInvoices.entries()) {
      const bought = new Set(invoice.products);
      const { user, candidates } = rankerCandidates({
        state: aggregator.userState(invoice.customerId),
        now: invoice.at,
        catalog,
        read: aggregator,
        config,
        price,
      });
      const label = Uint8Array.from(candidates, (candidate) => (bought.has(candidate.productId) ? 1 : 0));
      const positives = label.reduce((sum, value) => sum + value, 0);
      relevant += bought.size;
      found += positives;
      if (positives === 0) withoutPositive++;
      else {
        const block = new Float64Array(candidates.length * RANKER_FEATURE_NAMES.length);
        candidates.forEach((candidate, row) => {
          block.set(candidateFeatures(user, candidate), row * RANKER_FEATURE_NAMES.length);
        });
        writeSync(features, new Uint8Array(block.buffer));
        writeSync(labels, label);
        queries.push(`${invoice.at}\t${invoice.customerId}\t${invoice.invoiceNo}\t${candidates.length}`);
        rows += candidates.length;
        if (invoice.at >= validFrom) validQueries++;
      }
      await aggregator.apply(invoiceEvents(invoice), invoice.at);
      progress(
        () =>
          `ranker: training queries ${(i + 1).toLocaleString('en')}/${queryInvoices.length.toLocaleString('en')} invoices, ${rows.toLocaleString('en')} rows, ${Math.round((performance.now() - started) / 1000)} s`,
      );
    }
  } finally {
    closeSync(features);
    closeSync(labels);
  }
  writeFileSync(join(dir, 'queries.tsv'), `${queries.join('\n')}\n`);
  const summary: TrainingSetSummary = {
    rows,
    queries: queries.length - 1,
    validQueries,
    invoices: queryInvoices.length,
    withoutPositive,
    candidateRecall: relevant === 0 ? 0 : found / relevant,
    seconds: (performance.now() - started) / 1000,
  };
  writeFileSync(join(dir, 'meta.json'), `${JSON.stringify({ features: RANKER_FEATURE_NAMES, from, until, validFrom, ...summary }, null, 1)}\n`);
  return summary;
}
