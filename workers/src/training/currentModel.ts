import { ModelFormatError } from '@recs/engine';
import { RankerModels, type Logger, type RedisClient, type RedisNames, type ServingModel } from '@recs/shared';
import type { Db } from 'mongodb';

/**
 * The ranking model serving now, as list workers use it: loaded from ranker_models at start,
 * when the training job announces a promotion (RedisNames.modelChannel) and every `refreshMs`
 * in case an announcement was missed. A model the scorer refuses (trained on other features)
 * is not used: the blend serves until one trained on these is promoted.
 */
export class CurrentModel {
  private readonly models: RankerModels;
  private readonly logger: Logger;
  private serving: ServingModel | undefined;
  private refreshing: Promise<void> | undefined;
  private again = false;
  private timer: NodeJS.Timeout | undefined;
  private subscriber: RedisClient | undefined;
  /** The version refused last, so the warning is logged once. */
  private refusedVersion: string | undefined;

  constructor(db: Db, logger: Logger) {
    this.models = new RankerModels(db);
    this.logger = logger;
  }

  /** The model serving, as last loaded; undefined: none (the blend serves). */
  current(): ServingModel | undefined {
    return this.serving;
  }

  /** Settles when no reload is under way (a list batch waits for one started by an announcement). */
  async ready(): Promise<void> {
    while (this.refreshing !== undefined) await this.refreshing;
  }

  /** Reloads when the serving version changed; one reload at a time (a request meanwhile runs once after it). */
  refresh(): Promise<void> {
    if (this.refreshing !== undefined) {
      this.again = true;
      return this.refreshing;
    }
    this.refreshing = this.load()
      .catch((error: unknown) => this.logger.warn({ err: (error as Error).message }, 'could not read the serving ranking model; keeping the one loaded'))
      .finally(() => {
        this.refreshing = undefined;
        if (this.again) {
          this.again = false;
          void this.refresh();
        }
      });
    return this.refreshing;
  }

  private async load(): Promise<void> {
    const version = await this.models.servingVersion();
    if (version === this.serving?.version) return;
    if (version === undefined) {
      if (this.serving !== undefined) this.logger.info({ model: this.serving.version }, 'no ranking model serves any more; lists are the blend');
      this.serving = undefined;
      return;
    }
    try {
      const loaded = await this.models.serving();
      this.serving = loaded === undefined ? undefined : { version: loaded.version, model: loaded.model };
      if (loaded !== undefined) this.logger.info({ model: loaded.version, trees: loaded.model.treeCount }, 'ranking model loaded');
    } catch (error) {
      if (!(error instanceof ModelFormatError)) throw error;
      this.serving = undefined;
      if (this.refusedVersion !== version)
        this.logger.warn({ model: version, err: error.message }, 'the serving ranking model does not fit this version; lists are the blend');
      this.refusedVersion = version;
    }
  }

  /** Loads now, then follows announcements and reloads every `refreshMs`. */
  async watch(redis: RedisClient, names: RedisNames, refreshMs = 60_000): Promise<void> {
    this.subscriber = redis.duplicate();
    this.subscriber.on('error', () => undefined);
    await this.subscriber.connect();
    await this.subscriber.subscribe(names.modelChannel(), () => void this.refresh());
    await this.refresh();
    this.timer = setInterval(() => void this.refresh(), refreshMs);
    this.timer.unref();
  }

  async close(): Promise<void> {
    clearInterval(this.timer);
    await this.refreshing;
    if (this.subscriber !== undefined) await this.subscriber.close().catch(() => undefined);
  }
}
