/**
 * Scores a grid of list-building settings against the baselines, for choosing the defaults:
 *   node evaluation/tune.ts [--data FILE] [--windows 2011-03-01:2011-05-01,...] [--k 10]
 *                           --grid '{"repurchaseBoost": [0, 1], "blend.popular": [0.1, 0.2]}'
 * Each window (split:until, all before the 2011-09-01 split the targets are measured on) is one
 * walk of the data scoring every combination at once; the default is the three two-month windows
 * of 2011-03..08, so a setting is chosen for holding everywhere, not for one stretch of the year.
 * `--split D --until E` scores a single window.
 * Only settings read when a list is built may vary (blend.*, weights.*, repurchasePrior.*,
 * half-lives, anchors, topCategories, listWindowDays, repurchaseBoost, demand*, dueExponent,
 * repeatCandidates): the aggregates are built once per window, with the defaults. Each
 * combination is printed against the targets the defaults are held to: Recall and NDCG above
 * every baseline's in the warm and cold segments (by 10% in warm), item coverage at least
 * buy-again's and novelty at least best-sellers' in every segment; its margins are the smallest
 * over the windows.
 */
import { parseArgs } from 'node:util';
import { DEFAULT_ENGINE_CONFIG, engineConfig, type EngineConfig } from '@recs/engine';
import { defaultDataFile } from './src/data.ts';
import { evaluate, loadDataset, SEGMENTS, type Segment } from './src/evaluate.ts';
import { STRATEGY_NAMES } from './src/strategies.ts';

const LIST_SETTINGS = new Set([
  'repeatHalfLifeDays',
  'dueExponent',
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
    windows: { type: 'string', default: '2011-03-01:2011-05-01,2011-05-01:2011-07-01,2011-07-01:2011-09-01' },
    split: { type: 'string' },
    until: { type: 'string' },
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
  if (
    !LIST_SETTINGS.has(top) ||
    (NESTED as readonly string[]).includes(top) !== key.includes('.') ||
    !Array.isArray(options) ||
    options.some((v) => typeof v !== 'number')
  ) {
    console.error(`tune: ${key} cannot vary here (list-building settings only, each an array of numbers)`);
    process.exit(2);
  }
}

/** Every combination of the grid, as config overrides. */
function combinations(): [string, EngineConfig][] {
  let result: [string, Record<string, number>][] = [['', {}]];
  for (const [key, options] of Object.entries(grid)) {
    result = result.flatMap(([name, chosen]) =>
      options.map((value): [string, Record<string, number>] => [`${name} ${key}=${value}`.trim(), { ...chosen, [key]: value }]),
    );
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

const windows =
  values.split !== undefined
    ? [[values.split, values.until ?? '2011-09-01'] as const]
    : values.windows.split(',').map((window) => window.split(':') as [string, string]);
if (windows.some((window) => window.length !== 2)) {
  console.error('tune: --windows takes split:until pairs, comma-separated');
  process.exit(2);
}
const dataset = await loadDataset(values.data ?? defaultDataFile());
const variants = Object.fromEntries(combinations());
const baselines = STRATEGY_NAMES.filter((name) => name !== 'served' && name !== 'blend');
const lift = (value: number, base: number) => `${value >= base ? '+' : ''}${((100 * (value - base)) / base).toFixed(1)}%`;

interface Margins {
  /** The smallest of served / target over Recall and NDCG in warm (target: 1.1 × best baseline) and cold (best baseline). */
  readonly accuracy: number;
  readonly coverage: number;
  readonly novelty: number;
  readonly summary: string;
}

/** One walk of a window: every variant's margins against the targets. */
async function scoreWindow(split: string, until: string): Promise<Map<string, Margins>> {
  console.error(`${Object.keys(variants).length} combinations, split ${split} until ${until}`);
  const result = await evaluate(dataset, { split, until, k: Number(values.k), strategies: baselines, variants });
  const row = (strategy: string, segment: Segment) => result.results.find((r) => r.strategy === strategy && r.segment === segment)!;
  const best = (segment: Segment, metric: 'recall' | 'ndcg') => Math.max(...baselines.map((name) => row(name, segment)[metric]));
  console.log(`window ${split}..${until}`);
  for (const segment of SEGMENTS) {
    console.log(
      `  ${segment.padEnd(4)} best baseline Recall ${best(segment, 'recall').toFixed(4)}, NDCG ${best(segment, 'ndcg').toFixed(4)}; buy-again coverage ${row('buy-again', segment).itemCoverage.toFixed(4)}; best-sellers novelty ${row('best-sellers', segment).novelty.toFixed(2)}`,
    );
  }
  const margins = new Map<string, Margins>();
  for (const name of Object.keys(variants)) {
    const warm = row(name, 'warm');
    const cold = row(name, 'cold');
    margins.set(name, {
      accuracy: Math.min(
        warm.recall / (1.1 * best('warm', 'recall')),
        warm.ndcg / (1.1 * best('warm', 'ndcg')),
        cold.recall / best('cold', 'recall'),
        cold.ndcg / best('cold', 'ndcg'),
      ),
      coverage: Math.min(...SEGMENTS.map((segment) => row(name, segment).itemCoverage / row('buy-again', segment).itemCoverage)),
      novelty: Math.min(...SEGMENTS.map((segment) => row(name, segment).novelty / row('best-sellers', segment).novelty)),
      summary: `warm Recall ${lift(warm.recall, best('warm', 'recall'))} NDCG ${lift(warm.ndcg, best('warm', 'ndcg'))}, cold ${lift(cold.recall, best('cold', 'recall'))} / ${lift(cold.ndcg, best('cold', 'ndcg'))}, coverage ${SEGMENTS.map((segment) => row(name, segment).itemCoverage.toFixed(3)).join('/')}`,
    });
  }
  return margins;
}

const perWindow: Map<string, Margins>[] = [];
for (const [split, until] of windows) perWindow.push(await scoreWindow(split, until));
const worst = (name: string, key: 'accuracy' | 'coverage' | 'novelty') => Math.min(...perWindow.map((margins) => margins.get(name)![key]));
const meets = (name: string) => worst(name, 'accuracy') >= 1 && worst(name, 'coverage') >= 1 && worst(name, 'novelty') >= 1;
console.log();
for (const name of Object.keys(variants).sort((a, b) => worst(b, 'accuracy') - worst(a, 'accuracy'))) {
  console.log(
    `${meets(name) ? 'meets ' : 'misses'}  margins: accuracy ${lift(worst(name, 'accuracy'), 1)}, coverage ${lift(worst(name, 'coverage'), 1)}  ${name}`,
  );
  windows.forEach(([split], i) => {
    console.log(`          ${split}: ${perWindow[i]!.get(name)!.summary}`);
  });
}
