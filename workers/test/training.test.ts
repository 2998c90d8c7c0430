import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deferred, testDatabase, testServices, uniqueName, type TestDatabase } from '@recs/devkit';
import { Aggregator, DAY_MS, DEFAULT_ENGINE_CONFIG, MemoryStore, seededRandom, type TrackedEvent } from '@recs/engine';
import {
  COLLECTIONS,
  connectRedis,
  createLogger,
  listsQueue,
  RankerModels,
  RedisNames,
  toRawEventDoc,
  trainingQueue,
  type ListDoc,
  type RedisClient,
} from '@recs/shared';
import { PENALTY_WEIGHTS } from '@recs/trainer';
import { CatalogCache } from '../src/catalog.ts';
import { ListService } from '../src/lists/service.ts';
import { ListStore } from '../src/lists/store.ts';
import { Publisher } from '../src/publisher.ts';
import { CurrentModel } from '../src/training/currentModel.ts';
import { trainFromEvents, type TrainingSettings } from '../src/training/job.ts';
import { announcePromotion, TRAIN_JOB, TrainingService } from '../src/training/service.ts';
import { insertCatalog } from './helpers.ts';

/**
 * The training job on a small shop whose customers take turns between four products of their
 * own (A, B, C, D, A... one every three days), now and then adding a popular one: the product to
 * recommend is the one bought four visits ago, which a learned ranking finds (its features hold
 * how long since each was bought) and the blend, favouring the latest purchases, does not.
 */
const logger = createLogger('training-test', process.env['TEST_LOG_LEVEL'] ?? 'silent');
const NOW = Date.UTC(2026, 5, 1, 12);
const DAYS = 130;
const CUSTOMERS = 50;
const OWN = 4;
const SETTINGS: Partial<TrainingSettings> = { holdoutDays: 21, trainDays: 100, validDays: 20, minHoldoutQueries: 50, minTrainQueries: 200 };
const products = Array.from({ length: OWN * CUSTOMERS + 6 }, (_, i) => ({ id: `p${i}`, categoryId: `c${i % 5}`, price: 2 + (i % 9) }));
/** The products customer `c` takes turns between. */
const ownOf = (c: number) => Array.from({ length: OWN }, (_, i) => `p${6 + OWN * c + i}`);

function history(): TrackedEvent[] {
  const random = seededRandom(7);
  const events: TrackedEvent[] = [];
  let n = 0;
  const push = (userId: string, productId: string, type: TrackedEvent['type'], at: number) =>
    events.push({ eventId: `e${++n}`, userId, productId, type, occurredAt: at, receivedAt: at, quantity: 1 });
  for (let c = 0; c < CUSTOMERS; c++) {
    const own = ownOf(c);
    const start = NOW - DAYS * DAY_MS + Math.floor(random() * 3) * DAY_MS + c * 600_000;
    for (let visit = 0, at = start; at < NOW - 3_600_000; visit++, at += 3 * DAY_MS) {
      const productId = own[visit % OWN]!;
      push(`u${c}`, productId, 'VIEW', at - 120_000);
      push(`u${c}`, productId, 'PURCHASE', at);
      // a popular product in the same basket now and then (a minute later: one basket)
      if (random() < 0.3) push(`u${c}`, `p${Math.floor(random() * 6)}`, 'PURCHASE', at + 60_000);
    }
  }
  return events.sort((a, b) => a.occurredAt - b.occurredAt);
}

let database: TestDatabase;
let redis: RedisClient;
let catalog: CatalogCache;

beforeAll(async () => {
  database = await testDatabase('training');
  redis = await connectRedis(testServices().redisUrl, logger, 'training-test');
  await insertCatalog(database.db, products);
  await database.db.collection(COLLECTIONS.events).insertMany(history().map(toRawEventDoc) as never[]);
  catalog = new CatalogCache(database.db, logger);
  await catalog.load();
}, 60_000);

afterAll(async () => {
  await redis.close();
  await database.drop();
});

const job = (extra: Partial<Parameters<typeof trainFromEvents>[0]> = {}, now = NOW) =>
  trainFromEvents({ db: database.db, catalog, engine: DEFAULT_ENGINE_CONFIG, settings: SETTINGS, ...extra }, now);

describe('the ranking model training job', () => {
  it('promotes a model that ranks the latest weeks better than the blend, and list workers then save lists in its order', async () => {
    const outcome = await job();
    expect(outcome.outcome).toBe('promoted');
    if (outcome.outcome === 'skipped') return;
    expect(outcome.candidate.queries).toBeGreaterThanOrEqual(50);
    expect(outcome.candidate.ndcg).toBeGreaterThan(outcome.blend.ndcg + 0.05);
    expect(outcome.serving).toBeUndefined();
    expect(outcome.reason).toMatch(/above the blend's/);

    const models = new RankerModels(database.db);
    const serving = await models.serving();
    expect(serving?.version).toBe(outcome.version);
    expect(serving?.doc.status).toBe('serving');
    expect(serving?.doc.holdout.model.ndcg).toBeCloseTo(outcome.candidate.ndcg, 3);
    expect(serving?.doc.trainedOn.until.getTime()).toBe(NOW - 21 * DAY_MS);
    // its popularity penalty: the largest weight tried on the holdout that kept its NDCG
    const penalty = serving!.doc.penalty!;
    expect(penalty.tried.map((trial) => trial.weight)).toEqual([...PENALTY_WEIGHTS]);
    const unpenalized = penalty.tried[0]!.ndcg;
    for (const trial of penalty.tried) {
      // (figures are stored rounded: a heavier weight may round level with the unpenalized)
      if (trial.weight === penalty.weight) expect(trial.ndcg).toBeGreaterThanOrEqual(unpenalized);
      if (trial.weight > penalty.weight) expect(trial.ndcg).toBeLessThanOrEqual(unpenalized);
    }
    expect(serving!.model.penalty?.weight ?? 0).toBe(penalty.weight);
    // what serves was fitted again on the training days up to now, the holdout's baskets added
    // (the figures are the judged fit's)
    const finalFit = serving?.doc.finalFit;
    expect(finalFit?.until.getTime()).toBe(NOW);
    expect(finalFit?.from.getTime()).toBe(NOW - 100 * DAY_MS);
    expect(finalFit?.holdout).toBeGreaterThanOrEqual(outcome.candidate.queries * 0.5);
    expect(finalFit?.holdout).toBeLessThanOrEqual(outcome.candidate.queries);
    // the oldest 21 days of training baskets are left out, as many added: about as many in all
    expect(finalFit!.queries).toBeLessThan(serving!.doc.trainedOn.queries + finalFit!.holdout);
    expect(finalFit!.rows).toBeGreaterThan(finalFit!.queries);
    expect(serving?.doc.importance.length).toBeGreaterThan(10);

    // a list worker (here the aggregation leader's, the aggregates in its memory) loads it and
    // saves each list in its order beside the blend's
    const aggregator = new Aggregator(new MemoryStore(), catalog, DEFAULT_ENGINE_CONFIG);
    await aggregator.start();
    await aggregator.apply(history(), NOW);
    const current = new CurrentModel(database.db, logger);
    await current.refresh();
    expect(current.current()?.version).toBe(outcome.version);
    const lists = new ListService({
      store: new ListStore(database.db),
      catalog,
      engine: DEFAULT_ENGINE_CONFIG,
      publisher: new Publisher(redis, new RedisNames(uniqueName('training'))),
      logger,
      model: current,
      local: () => aggregator,
    });
    const computed = await lists.compute('u3', NOW);
    expect(computed.changed).toBe(true);
    const doc = await database.db.collection<ListDoc>(COLLECTIONS.lists).findOne({ _id: 'u3' });
    expect(doc?.model).toBe(outcome.version);
    const ranked = JSON.parse(doc!.ranked!) as { p: string }[];
    const blend = JSON.parse(doc!.items) as { p: string }[];
    expect(ranked.length).toBeGreaterThan(0);
    expect(ranked.length).toBeLessThanOrEqual(DEFAULT_ENGINE_CONFIG.listSize);
    // u3 takes turns between its four: the one due is the one after the last it bought
    const own = ownOf(3);
    const last = history()
      .filter((e) => e.userId === 'u3' && e.type === 'PURCHASE' && own.includes(e.productId))
      .at(-1)!;
    const due = own[(own.indexOf(last.productId) + 1) % OWN];
    expect(ranked[0]?.p).toBe(due);
    expect(blend[0]?.p).not.toBe(due);
    await current.close();
  }, 180_000);

  it('refuses a model that ranks no better, keeping the reason, and the one serving stays', async () => {
    const before = await new RankerModels(database.db).servingVersion();
    expect(before).toBeDefined();
    // no tree may split: every candidate scores the same, so the model ranks as the blend does
    // (trained a minute later, so it is the latest)
    const outcome = await job({ params: { min_data_in_leaf: 1_000_000_000, min_sum_hessian_in_leaf: 1e12 } }, NOW + 60_000);
    expect(outcome.outcome).toBe('refused');
    if (outcome.outcome === 'skipped') return;
    expect(outcome.candidate.ndcg).toBeCloseTo(outcome.blend.ndcg, 10);
    expect(outcome.serving?.version).toBe(before);
    expect(outcome.reason).toMatch(/is not above the blend's/);
    const models = new RankerModels(database.db);
    expect(await models.servingVersion()).toBe(before);
    const latest = await models.latest();
    expect(latest[0]).toMatchObject({ _id: outcome.version, status: 'refused', reason: outcome.reason });
    // a refused model is kept as judged: no final fit
    expect(latest[0]?.finalFit).toBeUndefined();
    expect(latest.find((model) => model._id === before)?.status).toBe('serving');
  }, 180_000);

  it('refuses to judge on too few baskets, and fits nothing on too short a history', async () => {
    const fewHoldout = await job({ settings: { ...SETTINGS, minHoldoutQueries: 5_000, maxHoldoutQueries: 10_000 }, record: false });
    expect(fewHoldout.outcome).toBe('refused');
    expect(fewHoldout.reason).toMatch(/fewer than the 5000 needed to judge/);
    const short = await job({ settings: { ...SETTINGS, trainDays: 4, validDays: 2 }, record: false });
    expect(short).toMatchObject({ outcome: 'skipped' });
    expect(short.reason).toMatch(/fewer than the 200 needed to fit/);
    // neither was recorded
    expect((await new RankerModels(database.db).latest()).length).toBe(2);
  }, 180_000);

  it('announces a promotion to the list workers, then queues every user with a stored list, whenever they were active', async () => {
    const prefix = uniqueName('training-promotion');
    const names = new RedisNames(prefix);
    const lists = listsQueue(redis, prefix);
    const subscriber = redis.duplicate();
    await subscriber.connect();
    const heard = deferred<string>();
    await subscriber.subscribe(names.modelChannel(), (message) => heard.resolve(message));
    const stored = (
      await database.db
        .collection<ListDoc>(COLLECTIONS.lists)
        .find({}, { projection: { _id: 1 } })
        .toArray()
    ).map((doc) => doc._id);
    expect(stored.length).toBeGreaterThan(0);
    expect(await announcePromotion(redis, names, database.db, lists)).toBe(stored.length);
    expect(await heard.promise).toBe('promoted');
    expect((await lists.getJobs(['waiting', 'prioritized'])).map((job) => job.data.userId).sort()).toEqual([...stored].sort());
    await subscriber.close();
    await lists.obliterate({ force: true });
    await lists.close();
  });

  it('runs daily by default as a job scheduler of the training queue, none when off', async () => {
    const prefix = uniqueName('training-schedule');
    const service = (schedule: string) =>
      new TrainingService({ db: database.db, redis, prefix, catalog, engine: DEFAULT_ENGINE_CONFIG, logger, schedule, lists: listsQueue(redis, prefix) });
    const queue = trainingQueue(redis, prefix);
    const daily = service('0 3 * * *');
    await daily.start();
    const schedulers = await queue.getJobSchedulers();
    expect(schedulers).toHaveLength(1);
    expect(schedulers[0]).toMatchObject({ key: TRAIN_JOB, pattern: '0 3 * * *' });
    await daily.stop();
    const off = service('off');
    await off.start();
    expect(await queue.getJobSchedulers()).toHaveLength(0);
    await off.stop();
    await queue.obliterate({ force: true });
    await queue.close();
  });
});
