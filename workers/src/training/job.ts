/**
 * The ranking model's training job: from the shop's raw event log (the store of record), a
 * LightGBM LambdaRank model is fitted on the baskets before the last `holdoutDays`, then scored
 * on those weeks beside the blend and the model serving now; it is promoted only when it ranks
 * them better than both, else recorded as refused with the reason. No model, no change: the
 * blend serves.
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DAY_MS, ModelFormatError, RANKER_FEATURE_NAMES, type CatalogView, type EngineConfig, type TrackedEvent } from '@recs/engine';
import { COLLECTIONS, fromRawEventDoc, RankerModels, type RankerModelDoc, type RawEventDoc } from '@recs/shared';
import { basketSteps, buildTrainingSet, fitRanker, judgeModel, RankerTrainingError, scoreHoldout, type HoldoutFigures } from '@recs/trainer';
import type { Db } from 'mongodb';

export interface TrainingSettings {
  /** The latest days, never trained on: the model is judged on their baskets (default 28). */
  readonly holdoutDays: number;
  /** Days of training baskets before the holdout (default 180)... */
  readonly trainDays: number;
  /** ...of which the last ones are the trainer's early-stopping slice (default 28). */
  readonly validDays: number;
  /** Fewer training baskets than this: nothing is fitted (default 200). */
  readonly minTrainQueries: number;
  /** Fewer holdout baskets than this: a model is refused, whatever its figures (default 50). */
  readonly minHoldoutQueries: number;
  /** Holdout baskets kept at most (the first ones; default 20,000), so the job's memory is bounded. */
  readonly maxHoldoutQueries: number;
  /** List length the holdout is scored at (default 10). */
  readonly k: number;
}

export const TRAINING_DEFAULTS: TrainingSettings = {
  holdoutDays: 28,
  trainDays: 180,
  validDays: 28,
  minTrainQueries: 200,
  minHoldoutQueries: 50,
  maxHoldoutQueries: 20_000,
  k: 10,
};

export interface TrainingJobOptions {
  readonly db: Db;
  readonly catalog: CatalogView;
  readonly engine: EngineConfig;
  readonly settings?: Partial<TrainingSettings> | undefined;
  /** LightGBM parameters over the trainer's defaults (tests; experiments). */
  readonly params?: Readonly<Record<string, unknown>> | undefined;
  readonly venv?: string | undefined;
  /** Where the training set and the model are written while the job runs (default: a temporary directory, removed after). */
  readonly dir?: string;
  /** Record the verdict in ranker_models (default true); false trains and judges only. */
  readonly record?: boolean;
  /** Progress lines. */
  readonly say?: (line: string) => void;
}

export type TrainingOutcome =
  | { readonly outcome: 'skipped'; readonly reason: string; readonly seconds: number }
  | {
      readonly outcome: 'promoted' | 'refused';
      readonly version: string;
      readonly reason: string;
      readonly candidate: HoldoutFigures;
      readonly blend: HoldoutFigures;
      readonly serving?: { readonly version: string; readonly figures: HoldoutFigures };
      readonly doc: Omit<RankerModelDoc, 'status' | 'dump'>;
      readonly seconds: number;
    };

export class TrainingSettingsError extends Error {
  override readonly name = 'TrainingSettingsError';
}

function checkSettings(settings: TrainingSettings): void {
  const { holdoutDays, trainDays, validDays, minTrainQueries, minHoldoutQueries, maxHoldoutQueries, k } = settings;
  const whole = (value: number) => Number.isInteger(value) && value > 0;
  if (![holdoutDays, trainDays, validDays, minTrainQueries, minHoldoutQueries, maxHoldoutQueries, k].every(whole))
    throw new TrainingSettingsError('every training setting must be a whole number above 0');
  if (validDays >= trainDays) throw new TrainingSettingsError(`the validation days (${validDays}) must be fewer than the training days (${trainDays})`);
  if (minHoldoutQueries > maxHoldoutQueries) throw new TrainingSettingsError('the holdout cannot need more baskets than it keeps');
}

/** The raw events in the order they happened, as the engine applies them. */
async function* rawEvents(db: Db): AsyncGenerator<TrackedEvent> {
  const cursor = db
    .collection<RawEventDoc>(COLLECTIONS.events)
    .find({}, { projection: { metadata: 0, recommendationId: 0 } })
    .sort({ occurredAt: 1 })
    .batchSize(5_000);
  try {
    for await (const doc of cursor) yield fromRawEventDoc(doc);
  } finally {
    await cursor.close();
  }
}

const round = (value: number) => Math.round(value * 10_000) / 10_000;
const scoreOf = (figures: HoldoutFigures) => ({ recall: round(figures.recall), ndcg: round(figures.ndcg) });

/** Trains a model on the shop's events as of `now`, judges it and (unless `record` is false) records the verdict. */
export async function trainFromEvents(options: TrainingJobOptions, now = Date.now()): Promise<TrainingOutcome> {
  const started = performance.now();
  const settings: TrainingSettings = { ...TRAINING_DEFAULTS, ...options.settings };
  checkSettings(settings);
  const say = options.say ?? (() => {});
  const seconds = () => (performance.now() - started) / 1000;
  const until = now - settings.holdoutDays * DAY_MS;
  const from = until - settings.trainDays * DAY_MS;
  const validFrom = until - settings.validDays * DAY_MS;
  const dir = options.dir ?? mkdtempSync(join(tmpdir(), 'recs-train-'));
  try {
    const date = (at: number) => new Date(at).toISOString().slice(0, 10);
    say(`ranker: training on baskets from ${date(from)} to ${date(until)}, judging on ${date(until)} to ${date(now)}`);
    const { catalog, engine } = options;
    const set = await buildTrainingSet({
      steps: basketSteps(rawEvents(options.db)),
      catalog,
      config: engine,
      from,
      until,
      validFrom,
      holdout: { maxQueries: settings.maxHoldoutQueries },
      price: (productId) => catalog.product(productId)?.price,
      dir: join(dir, 'training-set'),
      onProgress: say,
    });
    const { summary, holdout } = set;
    say(
      `ranker: ${summary.events.toLocaleString('en')} events replayed; ${summary.queries.toLocaleString('en')} training baskets (${summary.rows.toLocaleString('en')} rows), ${holdout.length.toLocaleString('en')} held out, in ${summary.seconds.toFixed(1)} s`,
    );
    const trainQueries = summary.queries - summary.validQueries;
    if (summary.queries < settings.minTrainQueries || trainQueries === 0 || summary.validQueries === 0) {
      const reason = `${summary.queries} training baskets (${summary.validQueries} in the validation days), fewer than the ${settings.minTrainQueries} needed to fit a model, or a slice is empty`;
      return { outcome: 'skipped', reason, seconds: seconds() };
    }
    const fitted = await fitRanker({ data: join(dir, 'training-set'), out: join(dir, 'model'), params: options.params, venv: options.venv, onProgress: say });
    const models = new RankerModels(options.db);
    let serving: { version: string; figures: HoldoutFigures } | undefined;
    try {
      const current = await models.serving();
      if (current !== undefined) serving = { version: current.version, figures: scoreHoldout(holdout, current.model, settings.k) };
    } catch (error) {
      // trained on other features (an older RANKER_FEATURES): it cannot be compared, nor serve
      if (!(error instanceof ModelFormatError)) throw error;
      say(`ranker: the serving model cannot score these features (${error.message}); judging against the blend only`);
    }
    const candidate = scoreHoldout(holdout, fitted.model, settings.k);
    const blend = scoreHoldout(holdout, undefined, settings.k);
    const verdict = judgeModel({ candidate, blend, serving, minQueries: settings.minHoldoutQueries });
    const trainedAt = new Date(now);
    const version = `${trainedAt.toISOString().replace(/[-:]/g, '').slice(0, 15)}Z-${createHash('sha256').update(fitted.dump).digest('hex').slice(0, 8)}`;
    const doc: Omit<RankerModelDoc, 'status' | 'dump'> = {
      _id: version,
      reason: verdict.reason,
      trainedAt,
      features: [...RANKER_FEATURE_NAMES],
      lightgbm: fitted.report.lightgbm,
      rounds: fitted.report.rounds,
      trees: fitted.model.treeCount,
      bytes: fitted.modelBytes,
      trainedOn: {
        from: new Date(from),
        until: new Date(until),
        queries: summary.queries,
        rows: summary.rows,
        events: summary.events,
        validNdcg: round(fitted.report.validNdcg10),
        candidateRecall: round(summary.candidateRecall),
      },
      holdout: {
        from: new Date(until),
        until: trainedAt,
        k: settings.k,
        queries: candidate.queries,
        model: scoreOf(candidate),
        blend: scoreOf(blend),
        ...(serving === undefined ? {} : { serving: { version: serving.version, ...scoreOf(serving.figures) } }),
      },
      importance: fitted.report.importance.map(([feature, share]) => ({ feature, share: round(share) })),
      seconds: { set: round(summary.seconds), fit: round(fitted.trainerSeconds), total: round(seconds()) },
    };
    if (options.record !== false) {
      if (verdict.promote) await models.promote({ ...doc, dump: fitted.dump }, trainedAt);
      else await models.refuse({ ...doc, dump: fitted.dump });
    }
    say(`ranker: model ${version} ${verdict.promote ? 'promoted' : 'refused'}: ${verdict.reason}`);
    return {
      outcome: verdict.promote ? 'promoted' : 'refused',
      version,
      reason: verdict.reason,
      candidate,
      blend,
      ...(serving === undefined ? {} : { serving }),
      doc,
      seconds: seconds(),
    };
  } finally {
    if (options.dir === undefined) rmSync(dir, { recursive: true, force: true });
  }
}

export { RankerTrainingError };
