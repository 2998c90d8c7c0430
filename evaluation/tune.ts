/**
 * Scores a grid of list-building settings in one walk of the data, for choosing the defaults:
 *   node evaluation/tune.ts [--data FILE] [--split 2011-07-01] [--until 2011-09-01] [--k 10]
 *                           --grid '{"repurchaseBoost": [0, 1], "blend.popular": [0.1, 0.2]}'
 * Only settings read when a list is built may vary (blend.*, weights.*, repurchasePrior.*,
 * half-lives, anchors, topCategories, listWindowDays, repurchaseBoost, demand*, repeatCandidates): the aggregates are built once, with the defaults. Each
 * combination is printed against the baselines, with the targets the defaults are held to: Recall
 * and NDCG above every baseline's in the warm and cold segments (by 10% in warm), item coverage
 * at least buy-again's and novelty at least best-sellers' in every segment.
 */
import { parseArgs } from 'node:util';
import { DEFAULT_ENGINE_CONFIG, engineConfig, type EngineConfig } from '@recs/engine';
import { defaultDataFile } from './src/data.ts';
import { evaluate, loadDataset, SEGMENTS, type Segment } from './src/evaluate.ts';
import { STRATEGY_NAMES } from './src/strategies.ts';

const LIST_SETTINGS = new Set([
  'repeatHalfLifeDays',
  'affinityHalfLifeDays',
  'anchors',
  'topCategories',
  'listWindowDays',
  'repurchaseBoost',
  'repurchasePrior',
  'demandExponent',
  'demandWindowDays',
  'repeatCandidates',
  'weights',
  'blend',
]);
/** Settings that are objects: varied a field at a time, as `blend.popular`. */
const NESTED = ['blend', 'weights', 'repurchasePrior'] as const;

const { values } = parseArgs({
  options: {
    data: { type: 'string' },
    split: { type: 'string', default: '2011-07-01' },
    until: { type: 'string', default: '2011-09-01' },
    k: { type: 'string', default: '10' },
    grid: { type: 'string', default: '{}' },
  },
});

let grid: Record<string, number[]>;
try {
  grid = JSON.parse(values.grid) as Record<string, number[]>;
} catch (error) {
  console.error(`tune: --grid is not JSON: ${(error as Error).message}`);
  process.exit(2);
}
for (const [key, options] of Object.entries(grid)) {
  const top = key.split('.')[0]!;
  if (!LIST_SETTINGS.has(top) || (NESTED as readonly string[]).includes(top) !== key.includes('.') || !Array.isArray(options) || options.some((v) => typeof v !== 'number')) {
    console.error(`tune: ${key} cannot vary here (list-building settings only, each an array of numbers)`);
    process.exit(2);
  }
}

/** Every combination of the grid, as config overrides. */
function combinations(): [string, EngineConfig][] {
  let result: [string, Record<string, number>][] = [['', {}]];
  for (const [key, options] of Object.entries(grid)) {
    result = result.flatMap(([name, chosen]) => options.map((value): [string, Record<string, number>] => [`${name} ${key}=${value}`.trim(), { ...chosen, [key]: value }]));
  }
  return result.map(([name, chosen]) => {
    const overrides: Record<string, unknown> = {};
    for (const head of NESTED) overrides[head] = { ...DEFAULT_ENGINE_CONFIG[head] };
    for (const [key, value] of Object.entries(chosen)) {
      const [head, field] = key.split('.');
      if (field === undefined) overrides[head!] = value;
      else (overrides[head!] as Record<string, number>)[field] = value;
    }
    return [name || 'defaults', engineConfig(overrides as Partial<EngineConfig>)];
  });
}

const dataset = await loadDataset(values.data ?? defaultDataFile());
const variants = Object.fromEntries(combinations());
console.error(`${Object.keys(variants).length} combinations, split ${values.split} until ${values.until}`);
const baselines = STRATEGY_NAMES.filter((name) => name !== 'served');
const result = await evaluate(dataset, { split: values.split, until: values.until, k: Number(values.k), strategies: baselines, variants });

const row = (strategy: string, segment: Segment) => result.results.find((r) => r.strategy === strategy && r.segment === segment)!;
const best = (segment: Segment, metric: 'recall' | 'ndcg') => Math.max(...baselines.map((name) => row(name, segment)[metric]));
const lift = (value: number, base: number) => `${value >= base ? '+' : ''}${((100 * (value - base)) / base).toFixed(1)}%`;
for (const segment of SEGMENTS) {
  const again = row('buy-again', segment);
  console.log(
    `${segment.padEnd(4)} best baseline Recall ${best(segment, 'recall').toFixed(4)}, NDCG ${best(segment, 'ndcg').toFixed(4)}; buy-again coverage ${again.itemCoverage.toFixed(4)}; best-sellers novelty ${row('best-sellers', segment).novelty.toFixed(2)}`,
  );
}
console.log();
/** How far a variant is from the targets: its smallest margin (1 = just met). */
function margins(name: string) {
  const warm = row(name, 'warm');
  const cold = row(name, 'cold');
  const accuracy = Math.min(warm.recall / (1.1 * best('warm', 'recall')), warm.ndcg / (1.1 * best('warm', 'ndcg')), cold.recall / best('cold', 'recall'), cold.ndcg / best('cold', 'ndcg'));
  const coverage = Math.min(...SEGMENTS.map((segment) => row(name, segment).itemCoverage / row('buy-again', segment).itemCoverage));
  const novelty = Math.min(...SEGMENTS.map((segment) => row(name, segment).novelty / row('best-sellers', segment).novelty));
  return { accuracy, coverage, novelty, meets: accuracy >= 1 && coverage >= 1 && novelty >= 1 };
}
const names = Object.keys(variants).sort((a, b) => margins(b).accuracy - margins(a).accuracy);
for (const name of names) {
  const { meets, coverage, accuracy } = margins(name);
  const warm = row(name, 'warm');
  const cold = row(name, 'cold');
  console.log(
    `${meets ? 'meets ' : 'misses'}  warm Recall ${warm.recall.toFixed(4)} (${lift(warm.recall, best('warm', 'recall'))}) NDCG ${warm.ndcg.toFixed(4)} (${lift(warm.ndcg, best('warm', 'ndcg'))})  cold Recall ${cold.recall.toFixed(4)} (${lift(cold.recall, best('cold', 'recall'))}) NDCG ${cold.ndcg.toFixed(4)} (${lift(cold.ndcg, best('cold', 'ndcg'))})  coverage ${SEGMENTS.map((segment) => row(name, segment).itemCoverage.toFixed(4)).join('/')} (${coverage >= 1 ? 'ok' : 'low'})  margins: accuracy ${lift(accuracy, 1)}, coverage ${lift(coverage, 1)}  ${name}`,
  );
}
