import { join } from 'node:path';
import { DAY_MS, DEFAULT_ENGINE_CONFIG, type EngineConfig, type LightgbmModel } from '@recs/engine';
import {
  buildTrainingSet,
  fitRanker,
  RankerTrainingError,
  trainAndJudge,
  type HistoryStep,
  type Judged,
  type TrainerReport,
  type TrainingSetSummary,
  type TrainingSettings,
} from '@recs/trainer';
import type { RankerForSplit } from '../strategies.ts';
import type { Invoice } from '../data.ts';
import { invoiceEvents, type Dataset } from '../evaluate.ts';

export { RankerTrainingError, type TrainerReport } from '@recs/trainer';

/** Each product's latest unit price among `invoices` (what the catalog would say at their end). */
export function latestPrices(invoices: readonly Invoice[]): Map<string, number> {
  const prices = new Map<string, number>();
  for (const invoice of invoices) for (const [productId, , price] of invoice.lines) if (price > 0) prices.set(productId, price);
  return prices;
}

/** Invoices in time order as the training set's history: each one a basket. */
export function* invoiceSteps(invoices: readonly Invoice[]): Generator<HistoryStep> {
  for (const invoice of invoices) {
    yield {
      events: invoiceEvents(invoice),
      basket: { userId: invoice.customerId, at: invoice.at, id: invoice.invoiceNo, products: new Set(invoice.products) },
    };
  }
}

export interface RankerTrainingOptions {
  /** Purchases before it train the model (epoch ms); none at or after it is read. */
  readonly split: number;
  /** Days of training queries before the split (default 180), of which the last `validDays` (default 28) are the validation slice. */
  readonly days?: number;
  readonly validDays?: number;
  /** Where the training set and the model go. */
  readonly dir: string;
  readonly config?: EngineConfig;
  readonly seed?: number;
  /** Retrain on every query for the early-stopped number of rounds (default true). */
  readonly refit?: boolean;
  /** LightGBM parameters over train.py's defaults. */
  readonly params?: Readonly<Record<string, unknown>>;
  readonly venv?: string;
  readonly onProgress?: (line: string) => void;
}

export interface TrainedRanker {
  readonly model: LightgbmModel;
  readonly price: (productId: string) => number | undefined;
  readonly set: TrainingSetSummary;
  readonly report: TrainerReport;
  readonly modelFile: string;
  readonly modelBytes: number;
  /** Seconds installing the Python environment (0 when it was there), running the trainer, and in all. */
  readonly installSeconds: number;
  readonly trainerSeconds: number;
  readonly seconds: number;
}

/**
 * Trains the learned ranking stage for a split on the purchases before it only: the training set
 * (buildTrainingSet: one query per invoice of the `days` before the split), then fitRanker
 * (LightGBM LambdaRank, early stopping on the last `validDays`). Prices are each product's latest
 * before the split.
 */
export async function trainRanker(dataset: Dataset, options: RankerTrainingOptions): Promise<TrainedRanker> {
  const started = performance.now();
  const log = options.onProgress ?? (() => {});
  const days = options.days ?? 180;
  const validDays = options.validDays ?? 28;
  if (!(Number.isInteger(days) && days > 0 && Number.isInteger(validDays) && validDays > 0 && validDays < days))
    throw new RankerTrainingError(`the training days (${days}) and validation days (${validDays}) must be whole, positive and validation shorter`);
  const training = dataset.invoices.filter((invoice) => invoice.at < options.split);
  const prices = latestPrices(training);
  const price = (productId: string) => prices.get(productId);
  const setDir = join(options.dir, 'training-set');
  const { summary: set } = await buildTrainingSet({
    steps: invoiceSteps(training),
    catalog: dataset.catalog,
    config: options.config ?? DEFAULT_ENGINE_CONFIG,
    from: options.split - days * DAY_MS,
    until: options.split,
    validFrom: options.split - validDays * DAY_MS,
    price,
    dir: setDir,
    onProgress: log,
  });
  log(
    `ranker: training set of ${set.queries.toLocaleString('en')} queries (${set.validQueries} for validation), ${set.rows.toLocaleString('en')} rows in ${set.seconds.toFixed(1)} s; candidates hold ${(100 * set.candidateRecall).toFixed(1)}% of the products bought`,
  );
  const fitted = await fitRanker({
    data: setDir,
    out: options.dir,
    seed: options.seed,
    refit: options.refit,
    params: options.params,
    venv: options.venv,
    onProgress: log,
  });
  return {
    model: fitted.model,
    price,
    set,
    report: fitted.report,
    modelFile: join(options.dir, 'model.json'),
    modelBytes: fitted.modelBytes,
    installSeconds: fitted.installSeconds,
    trainerSeconds: fitted.trainerSeconds,
    seconds: (performance.now() - started) / 1000,
  };
}

export interface ServedModelOptions {
  /** The day production is evaluated at (epoch ms): the job runs then, on the purchases before it. */
  readonly split: number;
  readonly config?: EngineConfig;
  readonly settings?: Partial<TrainingSettings>;
  readonly params?: Readonly<Record<string, unknown>>;
  readonly venv?: string;
  readonly onProgress?: (line: string) => void;
}

export interface ServedModel {
  /** The job's verdict, with its holdout figures; `skipped` when too few baskets. */
  readonly judged: Judged;
  /** The model production would serve from the split on; undefined: the blend serves. */
  readonly served?: RankerForSplit & { readonly version: string };
}

/**
 * What production would serve at the split: the daily training job (trainAndJudge) run that day
 * on the purchases before it (invoices as baskets, prices each product's latest), its model kept
 * only when promoted. No hand tuning: the trainer's defaults, the job's periods.
 */
export async function trainServedModel(dataset: Dataset, options: ServedModelOptions): Promise<ServedModel> {
  const training = dataset.invoices.filter((invoice) => invoice.at < options.split);
  const prices = latestPrices(training);
  const price = (productId: string) => prices.get(productId);
  const judged = await trainAndJudge(
    {
      steps: invoiceSteps(training),
      catalog: dataset.catalog,
      config: options.config ?? DEFAULT_ENGINE_CONFIG,
      price,
      settings: options.settings,
      params: options.params,
      venv: options.venv,
      say: options.onProgress,
    },
    options.split,
  );
  if (judged.outcome !== 'promoted') return { judged };
  const version = `split-${new Date(options.split).toISOString().slice(0, 10)}`;
  return { judged, served: { model: judged.serves.model, price, version } };
}
