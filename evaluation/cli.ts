/**
 * Offline recommendation quality on real purchases, every strategy side by side:
 *   npm run evaluate -- [--data FILE] [--split YYYY-MM-DD] [--until YYYY-MM-DD] [--k 10]
 *                       [--json OUT.json] [--html OUT.html] [--strategies a,b,...] [--replay-only] [--help]
 * Defaults: the Online Retail file in data/online-retail, split 2011-09-01, k 10, output in
 * evaluation/out/. Prints a table (the strongest baseline of each segment marked) and served's
 * lead or gap against it, and the replay's rate per tenth; writes the JSON results and a
 * self-contained HTML report. --replay-only times the replay alone (JSON only, replay.json).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { WALK_OPTIONS } from './src/cliOptions.ts';
import { defaultDataFile, DataFileError, parseDate } from './src/data.ts';
import { evaluate, EvaluationInputError, loadDataset, type Progress } from './src/evaluate.ts';
import { formatLeads, formatReplay, formatTable, STRONGEST_MARK, toHtml, toJson } from './src/report.ts';
import { trainServedModel, type ServedModel } from './src/ranker/trainRanker.ts';
import { provideServedModel, STRATEGY_NAMES, type StrategyName } from './src/strategies.ts';

const here = dirname(fileURLToPath(import.meta.url));

function fail(message: string): never {
  console.error(`evaluate: ${message}`);
  process.exit(2);
}

let values;
try {
  ({ values } = parseArgs({
    options: {
      ...WALK_OPTIONS,
      json: { type: 'string' },
      html: { type: 'string' },
      strategies: { type: 'string', default: STRATEGY_NAMES.join(',') },
      'replay-only': { type: 'boolean', default: false },
      'no-train': { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  }));
} catch (error) {
  fail((error as Error).message);
}

if (values.help) {
  console.log(`npm run evaluate -- [options]: offline recommendation quality on real purchases, every strategy side by side

  --data FILE          an Online Retail CSV, optionally .gz (default: ${defaultDataFile()})
  --split YYYY-MM-DD   purchases before it train, invoices from it on are scored (default: 2011-09-01)
  --until YYYY-MM-DD   score invoices before this day only (default: to the end of the data)
  --k N                list length scored, 1-100 (default: 10)
  --json OUT.json      results file (default: evaluation/out/results.json; with --replay-only, evaluation/out/replay.json)
  --html OUT.html      report (default: the JSON file's name with .html; none with --replay-only)
  --strategies a,b     strategies to score, comma-separated (default: all: ${STRATEGY_NAMES.join(', ')})
  --replay-only        replay the training purchases and stop: times the replay (events/s per tenth), scores nothing
  --no-train           do not run the training job at the split: \`served\` is then the blend
  -h, --help           this text

\`served\` is what production would serve at the split: the daily training job is run that day on the
purchases before it (a LightGBM model fitted on the baskets before its last 28 days, judged on them
against the blend); when it promotes the model, \`served\` is that model's ranking, else the blend.

Prints a table per segment (warm: bought before the split; cold: did not), marks the strongest baseline
of each segment (${STRONGEST_MARK}: the highest Recall@k of the baselines) and states served's lead or gap against it,
then the replay's rate in each tenth of its events and the last tenth's over the first's (1: per-event cost flat).`);
  process.exit(0);
}

const strategies = values.strategies.split(',').map((name) => name.trim()) as StrategyName[];
const unknown = strategies.filter((name) => !STRATEGY_NAMES.includes(name));
if (unknown.length > 0) fail(`unknown strategy ${unknown.join(', ')} (known: ${STRATEGY_NAMES.join(', ')})`);
const k = Number(values.k);
if (Number.isNaN(parseDate(values.split))) fail(`--split must be a date YYYY-MM-DD (got ${JSON.stringify(values.split)})`);
const dataFile = resolve(values.data ?? defaultDataFile());
const replayOnly = values['replay-only'];
const jsonFile = resolve(values.json ?? join(here, 'out', replayOnly ? 'replay.json' : 'results.json'));
const htmlFile = resolve(values.html ?? `${jsonFile.replace(/\.json$/i, '')}.html`);

const progressLine = (progress: Progress) => {
  const percent = ((100 * progress.events) / Math.max(1, progress.total)).toFixed(0);
  const text = `${progress.phase === 'train' ? 'replaying' : 'scoring  '} ${progress.events.toLocaleString('en')}/${progress.total.toLocaleString('en')} purchases (${percent}%) · ${Math.round(progress.eventsPerSecond).toLocaleString('en')} events/s · ${progress.invoicesScored.toLocaleString('en')} invoices scored`;
  if (process.stderr.isTTY) process.stderr.write(`\r${text}\u001b[K`);
  else console.error(text);
};

try {
  const loading = performance.now();
  console.error(`reading ${dataFile}`);
  const dataset = await loadDataset(dataFile);
  console.error(
    `${dataset.rows.toLocaleString('en')} rows, ${dataset.purchases.toLocaleString('en')} purchases in ${dataset.invoices.length.toLocaleString('en')} invoices, read in ${((performance.now() - loading) / 1000).toFixed(1)} s`,
  );
  let served: ServedModel | undefined;
  if (strategies.includes('served') && !replayOnly && !values['no-train']) {
    console.error(`running the training job at ${values.split} on the purchases before it (what production would serve from then on)`);
    served = await trainServedModel(dataset, { split: parseDate(values.split), onProgress: (line) => console.error(line) });
    const { judged } = served;
    console.error(
      judged.outcome === 'skipped'
        ? `the job fitted no model (${judged.reason}): served is the blend`
        : `the job ${judged.outcome} its model (${judged.verdict.reason}) in ${judged.seconds.toFixed(0)} s: served is ${served.served === undefined ? 'the blend' : 'its ranking'}`,
    );
    if (served.served !== undefined) provideServedModel(parseDate(values.split), served.served);
  }
  const result = await evaluate(dataset, {
    split: values.split,
    ...(values.until === undefined ? {} : { until: values.until }),
    k,
    strategies,
    replayOnly,
    onProgress: progressLine,
  });
  if (process.stderr.isTTY) process.stderr.write('\n');
  if (!replayOnly) {
    console.log(formatTable(result));
    const leads = formatLeads(result);
    if (leads !== '') console.log(`\n${leads}`);
    console.log(
      `\nk=${result.k}, split ${result.split}${result.until ? `, until ${result.until}` : ''}: ${result.customers.warm} warm and ${result.customers.cold} cold customers, catalog ${result.catalogSize} products`,
    );
    if (served !== undefined && served.judged.outcome !== 'skipped') {
      const { judged } = served;
      const importance = judged.serves.report.importance
        .slice(0, 8)
        .map(([name, share]) => `${name} ${(100 * share).toFixed(1)}%`)
        .join(', ');
      console.log(
        `served: the training job at the split ${judged.outcome} its model: ${judged.verdict.reason} (holdout ${judged.candidate.queries} baskets, Recall@10 ${judged.candidate.recall.toFixed(4)} vs the blend's ${judged.blend.recall.toFixed(4)}); popularity penalty ${judged.penalty.penalty.weight}${judged.finalFit === undefined ? '' : `; final fit on ${judged.finalFit.queries.toLocaleString('en')} baskets (${judged.finalFit.added.toLocaleString('en')} of the holdout)`}; ${judged.serves.model.treeCount} trees, ${(judged.serves.modelBytes / 1024).toFixed(0)} KiB, training set ${judged.set.seconds.toFixed(0)} s, LightGBM ${(judged.fitted.trainerSeconds + (judged.serves === judged.fitted ? 0 : judged.serves.trainerSeconds)).toFixed(0)} s; gain: ${importance}`,
      );
    }
  }
  console.log(formatReplay(result));
  mkdirSync(dirname(jsonFile), { recursive: true });
  writeFileSync(jsonFile, `${toJson(result)}\n`);
  console.log(`wrote ${jsonFile}`);
  if (!replayOnly) {
    mkdirSync(dirname(htmlFile), { recursive: true });
    writeFileSync(htmlFile, toHtml(result));
    console.log(`wrote ${htmlFile}`);
  }
} catch (error) {
  if (error instanceof EvaluationInputError || error instanceof DataFileError) fail(error.message);
  throw error;
}
