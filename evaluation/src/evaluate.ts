import { Aggregator, dayOf, DEFAULT_ENGINE_CONFIG, MemoryStore, type EngineConfig, type MemoryCatalog, type TrackedEvent } from '@recs/engine';
import { parseDate, readCatalog, readInvoices, type Invoice } from './data.ts';
import { MetricAccumulator, novelty, type MetricSummary } from './metrics.ts';
import { replayRate, type ReplayRate } from './replayRate.ts';
import { blendStrategy, createStrategies, PurchaseHistory, STRATEGY_NAMES, type Strategy, type StrategyContext, type StrategyName } from './strategies.ts';

export const SEGMENTS = ['warm', 'cold', 'all'] as const;
export type Segment = (typeof SEGMENTS)[number];

/** A data file read once, for evaluating many configurations (tuning). */
export interface Dataset {
  readonly file: string;
  readonly invoices: readonly Invoice[];
  readonly catalog: MemoryCatalog;
  readonly rows: number;
  readonly purchases: number;
}

export async function loadDataset(file: string): Promise<Dataset> {
  const [{ invoices, rows, purchases }, { catalog }] = await Promise.all([readInvoices(file), readCatalog(file)]);
  return { file, invoices, catalog, rows, purchases };
}

export interface EvaluationOptions {
  readonly split: string;
  /** Walk the test period up to this day (exclusive); default: to the end of the data. */
  readonly until?: string;
  readonly k: number;
  readonly config?: EngineConfig;
  readonly strategies?: readonly StrategyName[];
  /**
   * Extra `blend` lists under other list-building settings, scored in the same walk (tuning).
   * Only settings read when a list is built may differ from `config`: the aggregates are shared.
   */
  readonly variants?: Readonly<Record<string, EngineConfig>>;
  /**
   * More strategies, built on the walk's context (its aggregator, history, split), scored in the
   * same walk: studies of a serving step without a change to the strategy table.
   */
  readonly extra?: (ctx: StrategyContext) => readonly Strategy[];
  /** Stop after replaying the training period (to time the replay): no invoice is scored, `results` is empty. */
  readonly replayOnly?: boolean;
  /** Called about once a second while replaying and while scoring. */
  readonly onProgress?: (progress: Progress) => void;
}

export interface Progress {
  readonly phase: 'train' | 'test';
  /** Purchase lines applied so far, of `total`. */
  readonly events: number;
  readonly total: number;
  readonly eventsPerSecond: number;
  readonly invoicesScored: number;
}

export interface ResultRow extends MetricSummary {
  readonly strategy: string;
  readonly segment: Segment;
}

export interface EvaluationResult {
  readonly k: number;
  readonly split: string;
  readonly until: string | null;
  readonly data: string;
  readonly results: readonly ResultRow[];
  readonly catalogSize: number;
  readonly customers: { readonly training: number; readonly warm: number; readonly cold: number };
  readonly replay: { readonly events: number; readonly seconds: number; readonly eventsPerSecond: number; readonly rate: ReplayRate };
  readonly seconds: number;
  readonly strategies: Readonly<Record<string, string>>;
  /** The strategies scored that are references to beat (every one but `blend`, `served`, `ranker` and the tuning variants). */
  readonly baselines: readonly string[];
}

export class EvaluationInputError extends Error {
  override readonly name = 'EvaluationInputError';
}

function dayBound(text: string, name: string): number {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(text) || Number.isNaN(parseDate(text)))
    throw new EvaluationInputError(`--${name} must be a date YYYY-MM-DD, got ${JSON.stringify(text)}`);
  return parseDate(text);
}

/** The purchase lines of an invoice as the engine's events (as evaluate() applies them, and the ranker's training reads them). */
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

/**
 * The evaluation protocol. Every purchase before the split is replayed through the engine's
 * Aggregator (the code the workers run, over an in-memory store), a day per batch. Then, in time
 * order, before each invoice from the split on, every strategy gives the customer's top k, which
 * is scored against the invoice's distinct products; the invoice is then applied, so later
 * invoices see it, as in production.
 */
export async function evaluate(dataset: Dataset, options: EvaluationOptions): Promise<EvaluationResult> {
  const started = performance.now();
  const { k } = options;
  if (!Number.isInteger(k) || k < 1 || k > 100) throw new EvaluationInputError(`--k must be an integer from 1 to 100, got ${k}`);
  const split = dayBound(options.split, 'split');
  const until = options.until === undefined ? Infinity : dayBound(options.until, 'until');
  if (until <= split) throw new EvaluationInputError(`--until (${options.until}) must be after --split (${options.split})`);
  const training = dataset.invoices.filter((invoice) => invoice.at < split);
  const test = dataset.invoices.filter((invoice) => invoice.at >= split && invoice.at < until);
  if (training.length === 0) throw new EvaluationInputError(`no purchase before --split ${options.split}: nothing to learn from`);
  if (test.length === 0)
    throw new EvaluationInputError(`no purchase from --split ${options.split}${options.until ? ` to --until ${options.until}` : ''}: nothing to score`);

  const config = options.config ?? DEFAULT_ENGINE_CONFIG;
  const aggregator = new Aggregator(new MemoryStore(), dataset.catalog, config, { rankOnRead: true });
  await aggregator.start();
  const history = new PurchaseHistory();
  let appliedAt = Number.NEGATIVE_INFINITY;
  const context = { aggregator, catalog: dataset.catalog, history, config, split, appliedAt: () => appliedAt };
  const strategies: Record<string, Strategy> = createStrategies(context);
  for (const [name, variant] of Object.entries(options.variants ?? {})) strategies[name] = blendStrategy(context, variant, name);
  const extra = options.extra?.(context) ?? [];
  for (const strategy of extra) {
    if (Object.hasOwn(strategies, strategy.name)) throw new EvaluationInputError(`extra strategy ${strategy.name} is named as another`);
    strategies[strategy.name] = strategy;
  }
  const names: string[] = [...(options.strategies ?? STRATEGY_NAMES), ...Object.keys(options.variants ?? {}), ...extra.map((strategy) => strategy.name)];

  const total = [...training, ...test].reduce((sum, invoice) => sum + invoice.lines.length, 0);
  let applied = 0;
  let scored = 0;
  let lastReport = performance.now();
  const report = (phase: Progress['phase'], force = false) => {
    const now = performance.now();
    if (options.onProgress === undefined || (!force && now - lastReport < 1000)) return;
    lastReport = now;
    options.onProgress({ phase, events: applied, total, eventsPerSecond: applied / ((now - started) / 1000), invoicesScored: scored });
  };

  // training: a day per batch
  const replayStarted = performance.now();
  const cpuStarted = process.cpuUsage();
  /** [events, seconds, CPU seconds] since the replay started, after each batch: the rate per tenth. */
  const marks: [number, number, number][] = [];
  for (let i = 0; i < training.length; ) {
    const day = dayOf(training[i]!.at);
    const batch: TrackedEvent[] = [];
    let last = training[i]!.at;
    for (; i < training.length && dayOf(training[i]!.at) === day; i++) {
      const invoice = training[i]!;
      batch.push(...invoiceEvents(invoice));
      history.add(invoice.customerId, invoice.products, invoice.at);
      last = invoice.at;
    }
    await aggregator.apply(batch, last);
    appliedAt = last;
    applied += batch.length;
    const cpu = process.cpuUsage(cpuStarted);
    marks.push([applied, (performance.now() - replayStarted) / 1000, (cpu.user + cpu.system) / 1e6]);
    report('train');
  }
  const trainingEvents = applied;
  const trainingSeconds = (performance.now() - replayStarted) / 1000;
  const replay = {
    events: trainingEvents,
    seconds: trainingSeconds,
    eventsPerSecond: trainingEvents / Math.max(trainingSeconds, 1e-9),
    rate: replayRate(marks),
  };

  // popularity on the training period, for novelty
  const trainingBuyers = new Map<string, Set<string>>();
  const trainingCustomers = new Set<string>();
  for (const invoice of training) {
    trainingCustomers.add(invoice.customerId);
    for (const productId of invoice.products) {
      let buyers = trainingBuyers.get(productId);
      if (buyers === undefined) trainingBuyers.set(productId, (buyers = new Set()));
      buyers.add(invoice.customerId);
    }
  }
  const buyersOf = (productId: string) => trainingBuyers.get(productId)?.size ?? 0;

  const accumulators = new Map<string, MetricAccumulator>();
  const accumulator = (strategy: string, segment: Segment) => {
    const key = `${strategy}/${segment}`;
    let found = accumulators.get(key);
    if (found === undefined) accumulators.set(key, (found = new MetricAccumulator(k)));
    return found;
  };
  const segmentCustomers = { warm: new Set<string>(), cold: new Set<string>() };

  for (const invoice of options.replayOnly === true ? [] : test) {
    const segment: Segment = trainingCustomers.has(invoice.customerId) ? 'warm' : 'cold';
    segmentCustomers[segment].add(invoice.customerId);
    const relevant = new Set(invoice.products);
    for (const name of names) {
      const list = strategies[name]!.recommend(invoice.customerId, invoice.at, k);
      const listNovelty = novelty(list, buyersOf, trainingCustomers.size);
      accumulator(name, segment).add(invoice.customerId, list, relevant, listNovelty);
      accumulator(name, 'all').add(invoice.customerId, list, relevant, listNovelty);
    }
    scored++;
    const events = invoiceEvents(invoice);
    await aggregator.apply(events, invoice.at);
    appliedAt = invoice.at;
    history.add(invoice.customerId, invoice.products, invoice.at);
    applied += events.length;
    report('test');
  }
  report('test', true);

  const catalogSize = new Set(dataset.invoices.flatMap((invoice) => invoice.products)).size;
  const results: ResultRow[] = [];
  for (const name of options.replayOnly === true ? [] : names) {
    for (const segment of SEGMENTS) results.push({ strategy: name, segment, ...accumulator(name, segment).summary(catalogSize) });
  }
  return {
    k,
    split: options.split,
    until: options.until ?? null,
    data: dataset.file,
    results,
    catalogSize,
    customers: { training: trainingCustomers.size, warm: segmentCustomers.warm.size, cold: segmentCustomers.cold.size },
    replay,
    seconds: (performance.now() - started) / 1000,
    strategies: Object.fromEntries(names.map((name) => [name, strategies[name]!.describe])),
    baselines: names.filter((name) => strategies[name]!.baseline),
  };
}
