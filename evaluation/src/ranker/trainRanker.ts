import { spawn } from 'node:child_process';
import { readFileSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DAY_MS, DEFAULT_ENGINE_CONFIG, rankerModel, type EngineConfig, type LightgbmModel } from '@recs/engine';
import type { Dataset } from '../evaluate.ts';
import { ensurePythonEnv } from './pythonEnv.ts';
import { buildTrainingSet, latestPrices, type TrainingSetSummary } from './trainingSet.ts';

const TRAIN_SCRIPT = resolve(dirname(fileURLToPath(import.meta.url)), '../../ranker/train.py');

export class RankerTrainingError extends Error {
  override readonly name = 'RankerTrainingError';
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

/** train.py's report.json. */
export interface TrainerReport {
  readonly lightgbm: string;
  readonly rounds: number;
  readonly refit: boolean;
  readonly validNdcg10: number;
  readonly trainQueries: number;
  readonly validQueries: number;
  readonly rows: number;
  /** [feature, share of the total gain], largest first. */
  readonly importance: readonly (readonly [string, number])[];
  readonly fitSeconds: number;
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

function runTrainer(python: string, args: readonly string[], onLine: (line: string) => void): Promise<void> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(python, [TRAIN_SCRIPT, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    const lines = (chunk: Buffer) => {
      for (const line of chunk.toString('utf8').split('\n')) if (line.trim() !== '' && !line.startsWith('{')) onLine(`ranker: train.py: ${line}`);
    };
    child.stdout.on('data', lines);
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString('utf8');
      lines(chunk);
    });
    child.on('error', (error) => reject(new RankerTrainingError(`could not run ${python}: ${error.message}`)));
    child.on('close', (code, signal) => {
      if (code === 0) resolvePromise();
      else reject(new RankerTrainingError(`train.py failed (exit ${code ?? signal}): ${stderr.trim().split('\n').slice(-5).join(' / ')}`));
    });
  });
}

/**
 * Trains the learned ranking stage for a split on the purchases before it only: the training set
 * (buildTrainingSet: one query per invoice of the `days` before the split), then
 * evaluation/ranker/train.py (LightGBM LambdaRank, fixed seed, early stopping on the last
 * `validDays`) in the venv ensurePythonEnv() keeps, then the dumped model loaded back for the
 * TypeScript scorer. Prices are each product's latest before the split.
 */
export async function trainRanker(dataset: Dataset, options: RankerTrainingOptions): Promise<TrainedRanker> {
  const started = performance.now();
  const log = options.onProgress ?? (() => {});
  const days = options.days ?? 180;
  const validDays = options.validDays ?? 28;
  if (!(Number.isInteger(days) && days > 0 && Number.isInteger(validDays) && validDays > 0 && validDays < days))
    throw new RankerTrainingError(`the training days (${days}) and validation days (${validDays}) must be whole, positive and validation shorter`);
  const { python, installSeconds } = ensurePythonEnv(options.venv, log);
  const training = dataset.invoices.filter((invoice) => invoice.at < options.split);
  const prices = latestPrices(training);
  const price = (productId: string) => prices.get(productId);
  const setDir = join(options.dir, 'training-set');
  const set = await buildTrainingSet({
    invoices: training,
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
  const trainerStarted = performance.now();
  const args = ['--data', setDir, '--out', options.dir, '--seed', String(options.seed ?? 1), '--params', JSON.stringify(options.params ?? {})];
  if (options.refit === false) args.push('--no-refit');
  await runTrainer(python, args, log);
  const trainerSeconds = (performance.now() - trainerStarted) / 1000;
  const modelFile = join(options.dir, 'model.json');
  const model = rankerModel(readFileSync(modelFile, 'utf8'));
  const report = JSON.parse(readFileSync(join(options.dir, 'report.json'), 'utf8')) as TrainerReport;
  return {
    model,
    price,
    set,
    report,
    modelFile,
    modelBytes: statSync(modelFile).size,
    installSeconds,
    trainerSeconds,
    seconds: (performance.now() - started) / 1000,
  };
}
