import type { RecommendationStrategy } from '@recs/engine';
import {
  assignVariant,
  ExpiringCache,
  signRecommendationId,
  type ExperimentSetting,
  type ExperimentTallies,
  type Logger,
  type Registry,
  type TallyIncrement,
  type UserMarkInput,
} from '@recs/shared';
import { experimentReport, type ExperimentReport } from './experimentReport.ts';
import { ServingMetrics } from './metrics.ts';
import { DEFAULT_VARIANT, isVariantName, NO_MODEL, SERVING_POLICIES, type ServingPolicy, type VariantName } from './servingPolicies.ts';

export interface ExperimentsOptions {
  /** The running experiment (RECS_EXPERIMENT); undefined: none, everyone is served DEFAULT_VARIANT. */
  readonly setting: ExperimentSetting | undefined;
  /** JWT_SECRET: recommendationIds are signed with a key derived from it. */
  readonly secret: string;
  readonly tallies: ExperimentTallies;
  readonly logger: Logger;
  /** The process's registry, for recs_recommendation_impressions_total. */
  readonly metrics?: Registry | undefined;
  /** Lists served are counted in memory this long before they are added to the tallies (default 1 s). */
  readonly flushIntervalMs?: number;
}

/** A user's variant and how it serves. */
export interface Assignment {
  readonly variant: VariantName;
  readonly policy: ServingPolicy;
}

/** Users whose `served` mark waits for a write at most; beyond, they are marked on a later serving. */
const MAX_PENDING_USERS = 50_000;
/** Users known to be marked (or about to be), so serving them again writes nothing. */
const MARKED_USERS = 200_000;
const MARKED_TTL_MS = 24 * 3_600_000;
/** recommendationIds carry the time served to this step. */
const SERVED_AT_STEP_MS = 60_000;

/**
 * The experiment this replica runs: which variant serves each user, the signed id of every list
 * served, and the count of lists and users served per variant. Counts are kept in memory and
 * added to the durable tallies (experiment_tallies) about once a second, in one write whatever
 * the traffic, so serving a list costs no MongoDB round trip; a crash loses at most that second.
 * Each user's first serving is marked once (experiment_users) to count distinct users.
 */
export class Experiments {
  readonly setting: ExperimentSetting | undefined;
  private readonly options: ExperimentsOptions;
  private readonly metrics: ServingMetrics | undefined;
  private impressions = new Map<string, number>();
  private newUsers = new Map<string, string>();
  private readonly marked = new ExpiringCache<true>({ max: MARKED_USERS, maxBytes: 32 * 1024 * 1024, sizeOf: () => 8 });
  private timer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> = Promise.resolve();

  constructor(options: ExperimentsOptions) {
    this.options = options;
    this.setting = options.setting;
    for (const variant of options.setting?.variants ?? []) {
      if (!isVariantName(variant.name)) throw new Error(`experiment ${options.setting!.name}: unknown variant ${variant.name}`);
    }
    const served = options.setting?.variants.map((variant) => variant.name as VariantName) ?? [DEFAULT_VARIANT];
    this.metrics =
      options.metrics === undefined
        ? undefined
        : new ServingMetrics(
            options.metrics,
            served.map((variant) => ({ variant, model: NO_MODEL })),
          );
  }

  /** The user's variant: by a stable hash in the running experiment, DEFAULT_VARIANT without one. */
  assign(userId: string): Assignment {
    const variant = this.setting === undefined ? DEFAULT_VARIANT : (assignVariant(this.setting, userId) as VariantName);
    return { variant, policy: SERVING_POLICIES[variant] };
  }

  /**
   * A list was served: its recommendationId. A non-empty one is counted (an empty list cannot be
   * clicked): in the impressions metric, and in the running experiment's tallies.
   */
  served(
    userId: string,
    assignment: Assignment,
    list: { strategy: RecommendationStrategy; version: number; items: number; model: string },
    now = Date.now(),
  ): string {
    const { variant } = assignment;
    const experiment = this.setting?.name;
    // to the minute: the same list served again within it has the same id, so the gateway still
    // recognises an unchanged subscription result (it compares results) and sends nothing
    const servedAt = now - (now % SERVED_AT_STEP_MS);
    const id = signRecommendationId(
      userId,
      { experiment, variant, model: list.model, strategy: list.strategy, listVersion: list.version, servedAt },
      this.options.secret,
    );
    if (list.items === 0) return id;
    this.metrics?.impression(list.strategy, variant, list.model);
    if (experiment === undefined) return id;
    this.impressions.set(variant, (this.impressions.get(variant) ?? 0) + 1);
    if (this.marked.get(userId, now) === undefined && this.newUsers.size < MAX_PENDING_USERS) {
      this.marked.set(userId, true, now + MARKED_TTL_MS);
      this.newUsers.set(userId, variant);
    }
    this.flushSoon();
    return id;
  }

  /** Adds what was served so far to the tallies (one flush at a time); a failure is logged and retried with the next. */
  flush(): Promise<void> {
    this.flushing = this.flushing.then(() => this.write());
    return this.flushing;
  }

  /** The experiment's report, with this replica's pending counts written first. */
  async report(name: string): Promise<ExperimentReport | null> {
    if (this.setting?.name === name) await this.flush();
    return experimentReport(name, await this.options.tallies.read(name), this.setting);
  }

  /** Stops the timer and writes what is pending (shutdown). */
  async close(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    await this.flush();
  }

  private flushSoon(): void {
    if (this.timer !== undefined) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.flush();
    }, this.options.flushIntervalMs ?? 1_000);
    this.timer.unref();
  }

  private async write(): Promise<void> {
    const experiment = this.setting?.name;
    if (experiment === undefined || (this.impressions.size === 0 && this.newUsers.size === 0)) return;
    const impressions = this.impressions;
    const newUsers = this.newUsers;
    this.impressions = new Map();
    this.newUsers = new Map();
    const increments: TallyIncrement[] = [...impressions].map(([variant, count]) => ({ experiment, variant, field: 'impressions', count }));
    const marks: UserMarkInput[] = [...newUsers].map(([userId, variant]) => ({ experiment, variant, userId, mark: 'served' }));
    try {
      await this.options.tallies.add(increments, marks);
    } catch (error) {
      // counted again with the next flush; the users are marked on their next serving
      for (const [variant, count] of impressions) this.impressions.set(variant, (this.impressions.get(variant) ?? 0) + count);
      for (const userId of newUsers.keys()) this.marked.delete(userId);
      this.options.logger.warn({ err: (error as Error).message, experiment }, 'could not add lists served to the experiment tallies; retrying with the next');
      this.flushSoon();
    }
  }
}
