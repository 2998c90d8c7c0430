/**
 * Scores a grid of list-building settings in one walk of the data, for choosing the defaults:
 *   node evaluation/tune.ts [--data FILE] [--split 2011-07-01] [--until 2011-09-01] [--k 10]
 *                           --grid '{"repurchaseBoost": [0, 1], "blend.popular": [0.1, 0.2]}'
 * Only settings read when a list is built may vary (blend.*, half-lives, anchors, topCategories,
 * listWindowDays, repurchaseBoost): the aggregates are built once, with the defaults. Each
 * combination is printed against buy-again on the warm segment, with the targets the defaults
 * are held to: Recall and NDCG at least 10% above buy-again, item coverage at least buy-again's.
 */
import { parseArgs } from 'node:util';
import { DEFAULT_ENGINE_CONFIG, engineConfig, type EngineConfig } from '@recs/engine';
import { defaultDataFile } from './src/data.ts';
import { evaluate, loadDataset } from './src/evaluate.ts';

const LIST_SETTINGS = new Set(['repeatHalfLifeDays', 'affinityHalfLifeDays', 'anchors', 'topCategories', 'listWindowDays', 'repurchaseBoost', 'weights']);

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
  if (!(top === 'blend' || LIST_SETTINGS.has(top)) || !Array.isArray(options) || options.some((v) => typeof v !== 'number')) {
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
    const blend: Record<string, number> = { ...DEFAULT_ENGINE_CONFIG.blend };
    const weights: Record<string, number> = { ...DEFAULT_ENGINE_CONFIG.weights };
    const top: Record<string, number> = {};
    for (const [key, value] of Object.entries(chosen)) {
      const [head, field] = key.split('.');
      if (head === 'blend') blend[field!] = value;
      else if (head === 'weights') weights[field!] = value;
      else top[head!] = value;
    }
    return [name || 'defaults', engineConfig({ ...top, blend: blend as unknown as EngineConfig['blend'], weights: weights as unknown as EngineConfig['weights'] })];
  });
}

const dataset = await loadDataset(values.data ?? defaultDataFile());
const variants = Object.fromEntries(combinations());
console.error(`${Object.keys(variants).length} combinations, split ${values.split} until ${values.until}`);
const result = await evaluate(dataset, { split: values.split, until: values.until, k: Number(values.k), strategies: ['buy-again'], variants });

const warm = (strategy: string) => result.results.find((row) => row.strategy === strategy && row.segment === 'warm')!;
const reference = warm('buy-again');
const lift = (value: number, base: number) => `${value >= base ? '+' : ''}${((100 * (value - base)) / base).toFixed(1)}%`;
console.log(`buy-again (warm): Recall ${reference.recall.toFixed(4)}, NDCG ${reference.ndcg.toFixed(4)}, item coverage ${reference.itemCoverage.toFixed(4)}\n`);
const rows = Object.keys(variants)
  .map((name) => ({ name, row: warm(name) }))
  .sort((a, b) => Math.min(b.row.recall / reference.recall, b.row.ndcg / reference.ndcg) - Math.min(a.row.recall / reference.recall, a.row.ndcg / reference.ndcg));
for (const { name, row } of rows) {
  const meets = row.recall >= 1.1 * reference.recall && row.ndcg >= 1.1 * reference.ndcg && row.itemCoverage >= reference.itemCoverage;
  console.log(
    `${meets ? 'meets ' : 'misses'}  Recall ${row.recall.toFixed(4)} (${lift(row.recall, reference.recall)})  NDCG ${row.ndcg.toFixed(4)} (${lift(row.ndcg, reference.ndcg)})  coverage ${row.itemCoverage.toFixed(4)}  novelty ${row.novelty.toFixed(2)}  ${name}`,
  );
}
