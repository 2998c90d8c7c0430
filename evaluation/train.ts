/**
 * Trains the learned ranking stage for a split and scores it offline beside every other strategy:
 *   node evaluation/train.ts [--split 2011-09-01] [--until YYYY-MM-DD] [--out DIR] [--data FILE] [--k 10]
 *                            [--days 180] [--valid-days 28] [--seed 1] [--no-refit] [--params JSON]
 * The model for the split is trained on purchases before it only (the training set's queries are
 * the invoices of the `--days` before it, the last `--valid-days` for early stopping), by
 * trainer/python/train.py (LightGBM LambdaRank) in ~/.cache/recs/venv (created on first use);
 * then evaluate() walks the test period with the `ranker` strategy added. Prints the table, the
 * leads over the strongest baseline, the gain importances, the times and the model's size; writes
 * the model (model.json, model.txt), report.json and results.json to --out (default
 * evaluation/out/ranker/<split>).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { WALK_OPTIONS } from './src/cliOptions.ts';
import { DataFileError, defaultDataFile, parseDate } from './src/data.ts';
import { evaluate, EvaluationInputError, loadDataset, type Progress } from './src/evaluate.ts';
import { PythonEnvError } from '@recs/trainer';
import { RankerTrainingError, trainRanker } from './src/ranker/trainRanker.ts';
import { formatLeads, formatTable, toJson } from './src/report.ts';
import { provideRanker, RANKER_STRATEGY, STRATEGY_NAMES } from './src/strategies.ts';

const here = dirname(fileURLToPath(import.meta.url));

function fail(message: string): never {
  console.error(`train: ${message}`);
  process.exit(2);
}

let values;
try {
  ({ values } = parseArgs({
    options: {
      ...WALK_OPTIONS,
      out: { type: 'string' },
      days: { type: 'string', default: '180' },
      'valid-days': { type: 'string', default: '28' },
      seed: { type: 'string', default: '1' },
      'no-refit': { type: 'boolean', default: false },
      params: { type: 'string', default: '{}' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  }));
} catch (error) {
  fail((error as Error).message);
}
if (values.help) {
  console.log(`node evaluation/train.ts [options]: trains the LightGBM ranker on purchases before --split and scores it beside every strategy

  --split YYYY-MM-DD   purchases before it train, invoices from it on are scored (default: 2011-09-01)
  --until YYYY-MM-DD   score invoices before this day only (default: to the end of the data)
  --out DIR            model, training set and results (default: evaluation/out/ranker/<split>)
  --data FILE          an Online Retail CSV, optionally .gz (default: ${defaultDataFile()})
  --k N                list length scored (default: 10)
  --days N             days of training queries before the split (default: 180)
  --valid-days N       the last N of them are the early-stopping slice (default: 28)
  --seed N             LightGBM's seed (default: 1)
  --no-refit           keep the early-stopped model instead of retraining on every query
  --params JSON        LightGBM parameters over trainer/python/train.py's defaults
  -h, --help           this text`);
  process.exit(0);
}

const split = parseDate(values.split);
if (!/^\d{4}-\d{2}-\d{2}$/.test(values.split) || Number.isNaN(split)) fail(`--split must be a date YYYY-MM-DD, got ${JSON.stringify(values.split)}`);
const integer = (name: string, text: string) => {
  const value = Number(text);
  if (!Number.isInteger(value) || value < 1) fail(`--${name} must be a positive integer, got ${JSON.stringify(text)}`);
  return value;
};
let params: Record<string, unknown>;
try {
  params = JSON.parse(values.params) as Record<string, unknown>;
  if (params === null || typeof params !== 'object' || Array.isArray(params)) throw new Error('not an object');
} catch (error) {
  fail(`--params must be a JSON object: ${(error as Error).message}`);
}
const out = resolve(values.out ?? join(here, 'out', 'ranker', values.split));
const dataFile = resolve(values.data ?? defaultDataFile());
const log = (line: string) => console.error(line);
const seconds = (from: number) => ((performance.now() - from) / 1000).toFixed(1);

try {
  const started = performance.now();
  log(`reading ${dataFile}`);
  const dataset = await loadDataset(dataFile);
  log(`${dataset.invoices.length.toLocaleString('en')} invoices read in ${seconds(started)} s`);

  const trained = await trainRanker(dataset, {
    split,
    days: integer('days', values.days),
    validDays: integer('valid-days', values['valid-days']),
    dir: out,
    seed: integer('seed', values.seed),
    refit: !values['no-refit'],
    params,
    onProgress: log,
  });
  log(`ranker: trained in ${trained.seconds.toFixed(1)} s (trainer ${trained.trainerSeconds.toFixed(1)} s, ${trained.report.rounds} rounds)`);

  const withdraw = provideRanker(split, trained);
  const evaluationStarted = performance.now();
  const result = await evaluate(dataset, {
    split: values.split,
    ...(values.until === undefined ? {} : { until: values.until }),
    k: integer('k', values.k),
    strategies: [...STRATEGY_NAMES, RANKER_STRATEGY],
    onProgress: (progress: Progress) =>
      log(
        `${progress.phase === 'train' ? 'replaying' : 'scoring  '} ${progress.events.toLocaleString('en')}/${progress.total.toLocaleString('en')} purchases · ${progress.invoicesScored.toLocaleString('en')} invoices scored`,
      ),
  });
  withdraw();

  console.log(formatTable(result));
  const leads = formatLeads(result);
  if (leads !== '') console.log(`\n${leads}`);
  const { report, set } = trained;
  console.log(`\nranker feature importance (share of the total gain):`);
  for (const [name, share] of report.importance) console.log(`  ${name.padEnd(24)} ${(100 * share).toFixed(2)}%`);
  console.log(
    `\nranker: ${set.queries.toLocaleString('en')} training queries (${report.trainQueries} train, ${report.validQueries} validation), ${set.rows.toLocaleString('en')} rows, candidates holding ${(100 * set.candidateRecall).toFixed(1)}% of the products bought; ` +
      `LightGBM ${report.lightgbm}, ${report.rounds} rounds${report.refit ? ' (refit on all queries)' : ''}, validation NDCG@10 ${report.validNdcg10?.toFixed(4) ?? 'none (fixed rounds)'}`,
  );
  console.log(
    `times: Python environment ${trained.installSeconds > 0 ? `installed in ${trained.installSeconds.toFixed(1)} s` : 'ready'}, training set ${set.seconds.toFixed(1)} s, trainer ${trained.trainerSeconds.toFixed(1)} s (fit ${report.fitSeconds.toFixed(1)} s), evaluation ${seconds(evaluationStarted)} s, total ${seconds(started)} s`,
  );
  console.log(`model: ${trained.modelFile}, ${(trained.modelBytes / 1024).toFixed(0)} KiB, ${trained.model.treeCount} trees`);
  mkdirSync(out, { recursive: true });
  writeFileSync(join(out, 'results.json'), `${toJson(result)}\n`);
  console.log(`wrote ${join(out, 'results.json')}`);
} catch (error) {
  if (error instanceof EvaluationInputError || error instanceof DataFileError || error instanceof RankerTrainingError || error instanceof PythonEnvError)
    fail(error.message);
  throw error;
}
