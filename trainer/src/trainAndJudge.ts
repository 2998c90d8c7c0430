import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DAY_MS, dumpWithPenalty, type CatalogView, type EngineConfig, type LightgbmModel } from '@recs/engine';
import { choosePenalty, judgeModel, scoreHoldout, type HoldoutFigures, type PenaltyChoice, type Verdict } from './holdout.ts';
import { fitRanker, type FittedModel } from './lightgbm.ts';
import { buildTrainingSet, withHoldout, type HistoryStep, type TrainingSetSummary } from './trainingSet.ts';

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
  /**
   * A promoted model is fitted once more, for the rounds it was early-stopped at, on the baskets
   * of the `trainDays` up to now (the holdout's included): what serves has learned from the
   * latest weeks too (default true).
   */
  readonly finalFit: boolean;
}

export const TRAINING_DEFAULTS: TrainingSettings = {
  holdoutDays: 28,
  trainDays: 180,
  validDays: 28,
  minTrainQueries: 200,
  minHoldoutQueries: 50,
  maxHoldoutQueries: 20_000,
  k: 10,
  finalFit: true,
};

export class TrainingSettingsError extends Error {
  override readonly name = 'TrainingSettingsError';
}

/** The settings with TRAINING_DEFAULTS for what is left out; a TrainingSettingsError when they make no periods. */
export function trainingSettings(partial: Partial<TrainingSettings> = {}): TrainingSettings {
  const settings = { ...TRAINING_DEFAULTS, ...partial };
  const { holdoutDays, trainDays, validDays, minTrainQueries, minHoldoutQueries, maxHoldoutQueries, k, finalFit } = settings;
  const whole = (value: number) => Number.isInteger(value) && value > 0;
  if (![holdoutDays, trainDays, validDays, minTrainQueries, minHoldoutQueries, maxHoldoutQueries, k].every(whole))
    throw new TrainingSettingsError('every training setting must be a whole number above 0');
  if (typeof finalFit !== 'boolean') throw new TrainingSettingsError('finalFit must be true or false');
  if (validDays >= trainDays) throw new TrainingSettingsError(`the validation days (${validDays}) must be fewer than the training days (${trainDays})`);
  if (minHoldoutQueries > maxHoldoutQueries) throw new TrainingSettingsError('the holdout cannot need more baskets than it keeps');
  return settings;
}

export interface TrainAndJudgeOptions {
  /** The shop's history in time order, up to `now`. */
  readonly steps: Iterable<HistoryStep> | AsyncIterable<HistoryStep>;
  readonly catalog: CatalogView;
  readonly config: EngineConfig;
  readonly price: (productId: string) => number | undefined;
  readonly settings?: Partial<TrainingSettings> | undefined;
  /** The model serving now, scored on the same holdout (a new one must beat it too). */
  readonly serving?: { readonly version: string; readonly model: LightgbmModel } | undefined;
  /** LightGBM parameters over the trainer's defaults. */
  readonly params?: Readonly<Record<string, unknown>> | undefined;
  readonly venv?: string | undefined;
  /** Where the training set and the model go while it runs (default: a temporary directory, removed after). */
  readonly dir?: string | undefined;
  readonly say?: ((line: string) => void) | undefined;
}

/** The periods a training at `now` reads (epoch ms): training baskets [from, until), validation from validFrom, holdout [until, now). */
export interface TrainingPeriods {
  readonly from: number;
  readonly until: number;
  readonly validFrom: number;
  readonly now: number;
}

export type Judged =
  | { readonly outcome: 'skipped'; readonly reason: string; readonly periods: TrainingPeriods; readonly set: TrainingSetSummary; readonly seconds: number }
  | {
      readonly outcome: 'promoted' | 'refused';
      readonly verdict: Verdict;
      readonly periods: TrainingPeriods;
      readonly set: TrainingSetSummary;
      /** The model judged (fitted on the training baskets only, its penalty chosen on the holdout): `candidate` is its figures. */
      readonly fitted: FittedModel;
      /** The popularity penalty chosen on the holdout, and every weight tried. */
      readonly penalty: PenaltyChoice;
      /**
       * What serves when promoted: the final fit (the same rounds on the baskets of the
       * `trainDays` up to now, the holdout's included), or `fitted` itself without one (finalFit
       * false, refused, or no basket to fit on).
       */
      readonly serves: FittedModel;
      /** The final fit's baskets (and rows), and how many of them the holdout added, when there was one. */
      readonly finalFit?: { readonly queries: number; readonly rows: number; readonly added: number };
      readonly candidate: HoldoutFigures;
      readonly blend: HoldoutFigures;
      readonly serving?: { readonly version: string; readonly figures: HoldoutFigures };
      readonly seconds: number;
    };

/** A fitted model under the penalty chosen: its scorer and its dump (what is stored and loaded) both carry it. */
function penalized(fitted: FittedModel, { penalty }: PenaltyChoice): FittedModel {
  if (penalty.weight === 0) return fitted;
  const dump = dumpWithPenalty(fitted.dump, penalty);
  return { ...fitted, dump, model: fitted.model.withPenalty(penalty) };
}

/**
 * The ranking model's training as the daily job runs it, wherever the history comes from (the
 * raw event log, the evaluation's invoices): the baskets of the `trainDays` before the last
 * `holdoutDays` train a LightGBM LambdaRank model (fitRanker; early stopping on the last
 * `validDays` of them); the holdout's baskets, never trained on, choose its popularity penalty
 * (choosePenalty: the largest that costs no NDCG there) and score it beside the blend (the
 * candidates in recommend()'s order) and the serving model; judgeModel gives the verdict. Too few
 * training baskets: nothing is fitted (`skipped`). A promoted model is then fitted once more on
 * the baskets of the `trainDays` up to now, the holdout's included, for the rounds the judged one
 * was early-stopped at (`serves`), as the trainer refits on its validation slice: the recipe is
 * what was judged, and what serves has seen the latest weeks, the ones nearest the lists it
 * will rank.
 */
export async function trainAndJudge(options: TrainAndJudgeOptions, now: number): Promise<Judged> {
  const started = performance.now();
  const settings = trainingSettings(options.settings);
  const say = options.say ?? (() => {});
  const seconds = () => (performance.now() - started) / 1000;
  const until = now - settings.holdoutDays * DAY_MS;
  const periods: TrainingPeriods = { from: until - settings.trainDays * DAY_MS, until, validFrom: until - settings.validDays * DAY_MS, now };
  const dir = options.dir ?? mkdtempSync(join(tmpdir(), 'recs-train-'));
  try {
    const date = (at: number) => new Date(at).toISOString().slice(0, 10);
    say(`ranker: training on baskets from ${date(periods.from)} to ${date(until)}, judging on ${date(until)} to ${date(now)}`);
    const { summary, holdout } = await buildTrainingSet({
      steps: options.steps,
      catalog: options.catalog,
      config: options.config,
      from: periods.from,
      until,
      validFrom: periods.validFrom,
      holdout: { maxQueries: settings.maxHoldoutQueries },
      price: options.price,
      dir: join(dir, 'training-set'),
      onProgress: say,
    });
    say(
      `ranker: ${summary.events.toLocaleString('en')} events replayed; ${summary.queries.toLocaleString('en')} training baskets (${summary.rows.toLocaleString('en')} rows), ${holdout.length.toLocaleString('en')} held out, in ${summary.seconds.toFixed(1)} s`,
    );
    if (summary.queries < settings.minTrainQueries || summary.validQueries === 0 || summary.validQueries === summary.queries) {
      const reason = `${summary.queries} training baskets (${summary.validQueries} in the validation days), fewer than the ${settings.minTrainQueries} needed to fit a model, or a slice is empty`;
      return { outcome: 'skipped', reason, periods, set: summary, seconds: seconds() };
    }
    const trees = await fitRanker({ data: join(dir, 'training-set'), out: join(dir, 'model'), params: options.params, venv: options.venv, onProgress: say });
    const penalty = choosePenalty(holdout, trees.model, settings.k);
    say(
      `ranker: popularity penalty ${penalty.penalty.weight} (holdout NDCG@${settings.k} / distinct products by weight: ${penalty.tried.map((trial) => `${trial.weight}: ${trial.ndcg.toFixed(4)} / ${trial.products}`).join(', ')})`,
    );
    const fitted = penalized(trees, penalty);
    const serving =
      options.serving === undefined ? undefined : { version: options.serving.version, figures: scoreHoldout(holdout, options.serving.model, settings.k) };
    const candidate = penalty.figures;
    const blend = scoreHoldout(holdout, undefined, settings.k);
    const verdict = judgeModel({ candidate, blend, serving, minQueries: settings.minHoldoutQueries });
    let serves = fitted;
    let finalFit: { readonly queries: number; readonly rows: number; readonly added: number } | undefined;
    const finalSet =
      verdict.promote && settings.finalFit
        ? withHoldout(join(dir, 'training-set'), holdout, join(dir, 'final-set'), now - settings.trainDays * DAY_MS)
        : undefined;
    if (finalSet !== undefined && finalSet.queries > 0) {
      finalFit = finalSet;
      say(
        `ranker: final fit, ${fitted.report.rounds} rounds, on the baskets of the ${settings.trainDays} days to ${date(now)}: ${finalFit.queries.toLocaleString('en')} (${finalFit.added.toLocaleString('en')} from the holdout), ${finalFit.rows.toLocaleString('en')} rows`,
      );
      const final = await fitRanker({
        data: join(dir, 'final-set'),
        out: join(dir, 'final-model'),
        rounds: fitted.report.rounds,
        params: options.params,
        venv: options.venv,
        onProgress: say,
      });
      serves = penalized(final, penalty);
    }
    return {
      outcome: verdict.promote ? 'promoted' : 'refused',
      verdict,
      periods,
      set: summary,
      fitted,
      penalty,
      serves,
      ...(finalFit === undefined ? {} : { finalFit }),
      candidate,
      blend,
      ...(serving === undefined ? {} : { serving }),
      seconds: seconds(),
    };
  } finally {
    if (options.dir === undefined) rmSync(dir, { recursive: true, force: true });
  }
}
