import { closeSync, mkdirSync, openSync, readFileSync, readSync, writeFileSync, writeSync } from 'node:fs';
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

/** One customer's purchases made together (an invoice, an order): one ranking query. */
export interface Basket {
  readonly userId: string;
  /** When it was bought (its first purchase), epoch ms. */
  readonly at: number;
  /** What names it in queries.tsv (an invoice number, the first purchase's event id). */
  readonly id: string;
  readonly products: ReadonlySet<string>;
}

/**
 * A shop's history in time order, as the training set reads it: events to apply, or a basket
 * (its purchase events) that is a query when it falls in the training or holdout period: its
 * customer's candidates and features are computed from everything before it, then its events
 * are applied.
 */
export type HistoryStep =
  | { readonly events: readonly TrackedEvent[]; readonly basket?: undefined }
  | { readonly events: readonly TrackedEvent[]; readonly basket: Basket };

export interface TrainingSetOptions {
  /** The history, in time order; nothing after `until` (or the holdout's end) needs to be given. */
  readonly steps: Iterable<HistoryStep> | AsyncIterable<HistoryStep>;
  readonly catalog: CatalogView;
  readonly config: EngineConfig;
  /** Training queries are the baskets from `from` to `until` (epoch ms, exclusive). */
  readonly from: number;
  readonly until: number;
  /** Queries at or after it are the validation slice (meta.json's validFrom). */
  readonly validFrom: number;
  /**
   * Baskets from `until` on are kept in memory as the holdout (at most `maxQueries`, the first
   * ones), never written to the training set: what a new model is compared on.
   */
  readonly holdout?: { readonly maxQueries: number };
  readonly price: (productId: string) => number | undefined;
  readonly dir: string;
  readonly onProgress?: (line: string) => void;
}

export interface TrainingSetSummary {
  readonly rows: number;
  readonly queries: number;
  readonly validQueries: number;
  /** Baskets in the training period, and those left out because no candidate was bought. */
  readonly invoices: number;
  readonly withoutPositive: number;
  /** Share of the training baskets' products that were among their candidates (the ranker's ceiling on Recall). */
  readonly candidateRecall: number;
  /** Events applied in all. */
  readonly events: number;
  readonly seconds: number;
}

/** One holdout basket: its candidates in the blended list's order, their feature rows, what was bought. */
export interface HoldoutQuery {
  readonly basket: Basket;
  readonly productIds: readonly string[];
  /** candidates × RANKER_FEATURE_NAMES.length values, row by row. */
  readonly features: Float64Array;
}

export interface TrainingSet {
  readonly summary: TrainingSetSummary;
  readonly holdout: readonly HoldoutQuery[];
  /** Holdout baskets not kept because `maxQueries` was reached. */
  readonly holdoutDropped: number;
}

/**
 * Builds the ranker's training set the way lists are served: the history is replayed through an
 * Aggregator (events before `from` a day per batch); before each basket of the training period,
 * its customer's candidates and features are computed from the engine's state at that moment,
 * labelled 1 for the products the basket holds, then the basket is applied. One query per
 * basket; one with no bought candidate teaches nothing and is left out. Nothing at or after
 * `until` reaches the training set, so a model trained on it has seen no purchase of what
 * follows (the test period of an evaluation, the holdout of the training job).
 *
 * Written to `dir` for trainer/python/train.py: features.f64 (float64 little-endian rows,
 * NaN for a missing value; binary because LightGBM's Python reads it in one call, where a text
 * file of half a million rows takes longer to parse than to train on), labels.u8, queries.tsv
 * (at, customer, basket, rows) and meta.json.
 */
export async function buildTrainingSet(options: TrainingSetOptions): Promise<TrainingSet> {
  const started = performance.now();
  const { catalog, config, from, until, validFrom, price, dir } = options;
  mkdirSync(dir, { recursive: true });
  const aggregator = new Aggregator(new MemoryStore(), catalog, config, { rankOnRead: true });
  await aggregator.start();
  let lastReport = performance.now();
  const progress = (text: () => string) => {
    if (options.onProgress === undefined || performance.now() - lastReport < 2000) return;
    lastReport = performance.now();
    options.onProgress(text());
  };

  // events wait here until a query needs the state they make, or their day ends
  let pending: TrackedEvent[] = [];
  let pendingDay: number | undefined;
  let events = 0;
  const applyPending = async () => {
    if (pending.length === 0) return;
    const batch = pending;
    pending = [];
    pendingDay = undefined;
    events += batch.length;
    await aggregator.apply(batch, batch[batch.length - 1]!.occurredAt);
  };

  const features = openSync(join(dir, 'features.f64'), 'w');
  const labels = openSync(join(dir, 'labels.u8'), 'w');
  const queries: string[] = ['at\tcustomer\tinvoice\trows'];
  const holdout: HoldoutQuery[] = [];
  let holdoutDropped = 0;
  let rows = 0;
  let validQueries = 0;
  let baskets = 0;
  let withoutPositive = 0;
  let relevant = 0;
  let found = 0;
  try {
    for await (const step of options.steps) {
      const basket = step.basket;
      const isQuery = basket !== undefined && basket.at >= from && (basket.at < until || options.holdout !== undefined);
      if (isQuery) {
        await applyPending();
        const { user, candidates } = rankerCandidates({ state: aggregator.userState(basket.userId), now: basket.at, catalog, read: aggregator, config, price });
        const block = new Float64Array(candidates.length * RANKER_FEATURE_NAMES.length);
        candidates.forEach((candidate, row) => {
          block.set(candidateFeatures(user, candidate), row * RANKER_FEATURE_NAMES.length);
        });
        if (basket.at >= until) {
          if (holdout.length < options.holdout!.maxQueries) holdout.push({ basket, productIds: candidates.map((c) => c.productId), features: block });
          else holdoutDropped++;
        } else {
          baskets++;
          const label = Uint8Array.from(candidates, (candidate) => (basket.products.has(candidate.productId) ? 1 : 0));
          const positives = label.reduce((sum, value) => sum + value, 0);
          relevant += basket.products.size;
          found += positives;
          if (positives === 0) withoutPositive++;
          else {
            writeSync(features, new Uint8Array(block.buffer));
            writeSync(labels, label);
            queries.push(`${basket.at}\t${basket.userId}\t${basket.id}\t${candidates.length}`);
            rows += candidates.length;
            if (basket.at >= validFrom) validQueries++;
          }
        }
        events += step.events.length;
        await aggregator.apply(step.events, basket.at);
      } else if (step.events.length > 0) {
        const day = dayOf(step.events[0]!.occurredAt);
        if (pendingDay !== undefined && day !== pendingDay) await applyPending();
        pendingDay = day;
        for (const event of step.events) pending.push(event);
      }
      progress(
        () =>
          `ranker: ${(events + pending.length).toLocaleString('en')} events replayed, ${baskets.toLocaleString('en')} training baskets (${rows.toLocaleString('en')} rows), ${holdout.length.toLocaleString('en')} held out, ${Math.round((performance.now() - started) / 1000)} s`,
      );
    }
    await applyPending();
  } finally {
    closeSync(features);
    closeSync(labels);
  }
  writeFileSync(join(dir, 'queries.tsv'), `${queries.join('\n')}\n`);
  const summary: TrainingSetSummary = {
    rows,
    queries: queries.length - 1,
    validQueries,
    invoices: baskets,
    withoutPositive,
    candidateRecall: relevant === 0 ? 0 : found / relevant,
    events,
    seconds: (performance.now() - started) / 1000,
  };
  writeFileSync(join(dir, 'meta.json'), `${JSON.stringify({ features: RANKER_FEATURE_NAMES, from, until, validFrom, ...summary }, null, 1)}\n`);
  return { summary, holdout, holdoutDropped };
}

/** Appends the bytes of `file` from `offset` on to the open `target`, a chunk at a time; returns how many. */
function copyFrom(file: string, offset: number, target: number): number {
  const source = openSync(file, 'r');
  const chunk = Buffer.allocUnsafe(8 * 1024 * 1024);
  let copied = 0;
  try {
    for (let read = readSync(source, chunk, 0, chunk.length, offset); read > 0; read = readSync(source, chunk, 0, chunk.length, offset + copied)) {
      writeSync(target, chunk, 0, read);
      copied += read;
    }
  } finally {
    closeSync(source);
  }
  return copied;
}

/**
 * The training set in `dir` with its queries before `since` left out and the holdout's baskets
 * added (labelled as the training ones, those with no bought candidate left out), written to
 * `out`: the final fit of a model promoted on them learns from the latest weeks, over as many
 * days as it was trained on. Returns the queries and rows it holds, and those the holdout added.
 */
export function withHoldout(
  dir: string,
  holdout: readonly HoldoutQuery[],
  out: string,
  since: number,
): { readonly queries: number; readonly rows: number; readonly added: number } {
  mkdirSync(out, { recursive: true });
  const width = RANKER_FEATURE_NAMES.length;
  const [header, ...lines] = readFileSync(join(dir, 'queries.tsv'), 'utf8').trimEnd().split('\n');
  // queries are in time order: the first ones kept start at row `skipRows`
  let skipRows = 0;
  let first = 0;
  for (; first < lines.length; first++) {
    const [at, , , rows] = lines[first]!.split('\t');
    if (Number(at) >= since) break;
    skipRows += Number(rows);
  }
  const kept = lines.slice(first);
  const featureFile = openSync(join(out, 'features.f64'), 'w');
  const labelFile = openSync(join(out, 'labels.u8'), 'w');
  let rows = 0;
  let added = 0;
  try {
    rows = copyFrom(join(dir, 'labels.u8'), skipRows, labelFile);
    copyFrom(join(dir, 'features.f64'), skipRows * width * 8, featureFile);
    for (const { basket, productIds, features: block } of holdout) {
      const label = Uint8Array.from(productIds, (productId) => (basket.products.has(productId) ? 1 : 0));
      if (!label.includes(1)) continue;
      writeSync(featureFile, new Uint8Array(block.buffer, block.byteOffset, block.byteLength));
      writeSync(labelFile, label);
      kept.push(`${basket.at}\t${basket.userId}\t${basket.id}\t${productIds.length}`);
      added++;
      rows += productIds.length;
    }
  } finally {
    closeSync(featureFile);
    closeSync(labelFile);
  }
  writeFileSync(join(out, 'queries.tsv'), `${[header, ...kept].join('\n')}\n`);
  const meta = JSON.parse(readFileSync(join(dir, 'meta.json'), 'utf8')) as Record<string, unknown>;
  writeFileSync(join(out, 'meta.json'), `${JSON.stringify({ ...meta, from: since, rows, queries: kept.length, holdoutQueries: added }, null, 1)}\n`);
  return { queries: kept.length, rows, added };
}
