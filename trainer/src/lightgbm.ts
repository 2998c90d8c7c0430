import { spawn } from 'node:child_process';
import { readFileSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { rankerModel, type LightgbmModel } from '@recs/engine';
import { ensurePythonEnv } from './pythonEnv.ts';

const TRAIN_SCRIPT = resolve(dirname(fileURLToPath(import.meta.url)), '../python/train.py');

export class RankerTrainingError extends Error {
  override readonly name = 'RankerTrainingError';
}

/** train.py's report.json. */
export interface TrainerReport {
  readonly lightgbm: string;
  readonly rounds: number;
  readonly refit: boolean;
  /** NDCG@10 on the validation slice at `rounds`; null for a fit of fixed rounds (no slice). */
  readonly validNdcg10: number | null;
  readonly trainQueries: number;
  readonly validQueries: number;
  readonly rows: number;
  /** [feature, share of the total gain], largest first. */
  readonly importance: readonly (readonly [string, number])[];
  readonly fitSeconds: number;
}

export interface FitOptions {
  /** A training set's directory (buildTrainingSet's `dir`). */
  readonly data: string;
  /** Where model.json, model.txt and report.json go. */
  readonly out: string;
  readonly seed?: number | undefined;
  /** Retrain on every query for the early-stopped number of rounds (default true). */
  readonly refit?: boolean | undefined;
  /** Train on every query for this many rounds: no early stopping, no validation slice (the job's final fit). */
  readonly rounds?: number | undefined;
  /** LightGBM parameters over train.py's defaults. */
  readonly params?: Readonly<Record<string, unknown>> | undefined;
  readonly venv?: string | undefined;
  readonly onProgress?: ((line: string) => void) | undefined;
}

export interface FittedModel {
  readonly model: LightgbmModel;
  /** dump_model()'s JSON, as the scorer read it (what a registry stores). */
  readonly dump: string;
  readonly report: TrainerReport;
  readonly modelBytes: number;
  /** Seconds installing the Python environment (0 when it was there) and running the trainer. */
  readonly installSeconds: number;
  readonly trainerSeconds: number;
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
 * Fits LightGBM LambdaRank on a training set: trainer/python/train.py (fixed seed, early
 * stopping on the set's validation slice) in the venv ensurePythonEnv() keeps, then the dumped
 * model loaded back for the TypeScript scorer (refused when it is not over RANKER_FEATURES).
 */
export async function fitRanker(options: FitOptions): Promise<FittedModel> {
  const log = options.onProgress ?? (() => {});
  const { python, installSeconds } = ensurePythonEnv(options.venv, log);
  const started = performance.now();
  const args = ['--data', options.data, '--out', options.out, '--seed', String(options.seed ?? 1), '--params', JSON.stringify(options.params ?? {})];
  if (options.refit === false) args.push('--no-refit');
  if (options.rounds !== undefined) args.push('--rounds', String(options.rounds));
  await runTrainer(python, args, log);
  const trainerSeconds = (performance.now() - started) / 1000;
  const modelFile = join(options.out, 'model.json');
  const dump = readFileSync(modelFile, 'utf8');
  return {
    model: rankerModel(dump),
    dump,
    report: JSON.parse(readFileSync(join(options.out, 'report.json'), 'utf8')) as TrainerReport,
    modelBytes: statSync(modelFile).size,
    installSeconds,
    trainerSeconds,
  };
}
