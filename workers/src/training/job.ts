/**
 * The ranking model's training job over the shop's raw event log (the store of record):
 * trainAndJudge (trainer/) fits a LightGBM LambdaRank model on the baskets before the last
 * `holdoutDays` and judges it on those weeks beside the blend and the model serving now; the
 * verdict is recorded in ranker_models, promoted only when it ranks them better than both. No
 * model, no change: the blend serves.
 */
import { createHash } from 'node:crypto';
import { DAY_MS, ModelFormatError, RANKER_FEATURE_NAMES, type CatalogView, type EngineConfig, type LightgbmModel, type TrackedEvent } from '@recs/engine';
import { COLLECTIONS, fromRawEventDoc, RankerModels, type RankerModelDoc, type RawEventDoc } from '@recs/shared';
import { basketSteps, trainAndJudge, trainingSettings, type HoldoutFigures, type TrainingSettings } from '@recs/trainer';
import type { Db } from 'mongodb';

export { RankerTrainingError, TRAINING_DEFAULTS, TrainingSettingsError, type TrainingSettings } from '@recs/trainer';

export interface TrainingJobOptions {
  readonly db: Db;
  readonly catalog: CatalogView;
  readonly engine: EngineConfig;
  readonly settings?: Partial<TrainingSettings> | undefined;
  /** LightGBM parameters over the trainer's defaults (tests; experiments). */
  readonly params?: Readonly<Record<string, unknown>> | undefined;
  readonly venv?: string | undefined;
  /** Where the training set and the model are written while the job runs (default: a temporary directory, removed after). */
  readonly dir?: string | undefined;
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
  const settings = trainingSettings(options.settings);
  const say = options.say ?? (() => {});
  const { db, catalog, engine } = options;
  const models = new RankerModels(db);
  let serving: { version: string; model: LightgbmModel } | undefined;
  try {
    const current = await models.serving();
    if (current !== undefined) serving = { version: current.version, model: current.model };
  } catch (error) {
    // trained on other features (an older RANKER_FEATURES): it cannot be compared, nor serve
    if (!(error instanceof ModelFormatError)) throw error;
    say(`ranker: the serving model cannot score these features (${error.message}); judging against the blend only`);
  }
  const judged = await trainAndJudge(
    {
      steps: basketSteps(rawEvents(db)),
      catalog,
      config: engine,
      price: (productId) => catalog.product(productId)?.price,
      settings,
      serving,
      params: options.params,
      venv: options.venv,
      dir: options.dir,
      say,
    },
    now,
  );
  if (judged.outcome === 'skipped') return { outcome: 'skipped', reason: judged.reason, seconds: judged.seconds };
  const { fitted, serves, candidate, blend, verdict, periods, set } = judged;
  const trainedAt = new Date(now);
  const version = `${trainedAt.toISOString().replace(/[-:]/g, '').slice(0, 15)}Z-${createHash('sha256').update(serves.dump).digest('hex').slice(0, 8)}`;
  const doc: Omit<RankerModelDoc, 'status' | 'dump'> = {
    _id: version,
    reason: verdict.reason,
    trainedAt,
    features: [...RANKER_FEATURE_NAMES],
    lightgbm: fitted.report.lightgbm,
    rounds: fitted.report.rounds,
    trees: serves.model.treeCount,
    bytes: serves.modelBytes,
    trainedOn: {
      from: new Date(periods.from),
      until: new Date(periods.until),
      queries: set.queries,
      rows: set.rows,
      events: set.events,
      // the judged fit is early-stopped on the validation days: it has their NDCG
      validNdcg: round(fitted.report.validNdcg10!),
      candidateRecall: round(set.candidateRecall),
    },
    penalty: {
      ...judged.penalty.penalty,
      tried: judged.penalty.tried.map((trial) => ({ weight: trial.weight, ndcg: round(trial.ndcg), recall: round(trial.recall), products: trial.products })),
    },
    ...(judged.finalFit === undefined
      ? {}
      : {
          finalFit: {
            from: new Date(now - settings.trainDays * DAY_MS),
            until: trainedAt,
            queries: judged.finalFit.queries,
            holdout: judged.finalFit.added,
            rows: judged.finalFit.rows,
            seconds: round(serves.trainerSeconds),
          },
        }),
    holdout: {
      from: new Date(periods.until),
      until: trainedAt,
      k: settings.k,
      queries: candidate.queries,
      model: scoreOf(candidate),
      blend: scoreOf(blend),
      ...(judged.serving === undefined ? {} : { serving: { version: judged.serving.version, ...scoreOf(judged.serving.figures) } }),
    },
    importance: serves.report.importance.map(([feature, share]) => ({ feature, share: round(share) })),
    seconds: { set: round(set.seconds), fit: round(fitted.trainerSeconds + (serves === fitted ? 0 : serves.trainerSeconds)), total: round(judged.seconds) },
  };
  if (options.record !== false) {
    if (verdict.promote) await models.promote({ ...doc, dump: serves.dump }, trainedAt);
    else await models.refuse({ ...doc, dump: serves.dump });
  }
  say(`ranker: model ${version} ${judged.outcome}: ${verdict.reason}`);
  return {
    outcome: judged.outcome,
    version,
    reason: verdict.reason,
    candidate,
    blend,
    ...(judged.serving === undefined ? {} : { serving: judged.serving }),
    doc,
    seconds: judged.seconds,
  };
}
