import { isDeepStrictEqual } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ClickstreamSimulator, testDatabase, testServices, uniqueName, type TestDatabase } from '@recs/devkit';
import {
  Aggregator,
  DAY_MS,
  DEFAULT_ENGINE_CONFIG,
  hiddenOf,
  MemoryCatalog,
  MemoryStore,
  readsFor,
  recommend,
  userSignals,
  NEIGHBOUR_KINDS,
  KIND_CODE,
  rankCandidates,
  rankerModel,
  RANKER_FEATURE_NAMES,
  type EngineConfig,
  type Recommendations,
  type TrackedEvent,
} from '@recs/engine';
import { connectRedis, createLogger, RedisNames, type RedisClient } from '@recs/shared';
import { CatalogCache } from '../src/catalog.ts';
import { ListService } from '../src/lists/service.ts';
import { ListStore } from '../src/lists/store.ts';
import { MongoAggregateStore } from '../src/mongoStore.ts';
import { Publisher } from '../src/publisher.ts';
import { insertCatalog } from './helpers.ts';

/**
 * The three places lists are built from the same events must build the same lists: the
 * aggregation leader (its memory first, MongoDB for what it evicted), a list worker that is not
 * the leader (everything loaded from MongoDB as readsFor() lists it) and the evaluator (the
 * Aggregator over a MemoryStore, read directly, as evaluation/src/strategies.ts servedStrategy).
 * A read a list makes outside the contract throws, or, were it answered empty, differs here.
 */
const logger = createLogger('parity-test', process.env['TEST_LOG_LEVEL'] ?? 'silent');
const engine = DEFAULT_ENGINE_CONFIG;
const USERS = 120;
const SESSIONS = 1_500;
/** The clickstream spans this many days before NOW, so windows, decay and buying cycles matter. */
const DAYS = 60;
const NOW = Date.now();

/** Every source of candidates alone, all of them blended, and buying again unweighed by its buyers. */
const CONFIGS: Readonly<Record<string, EngineConfig>> = {
  blended: engine,
  'unweighed repeat': { ...engine, repurchaseBoost: 0, demandExponent: 0 },
  ...Object.fromEntries(
    (Object.keys(engine.blend) as (keyof EngineConfig['blend'])[]).map((source) => [
      `${source} only`,
      { ...engine, blend: { repeat: 0, alsoBought: 0, alsoViewed: 0, category: 0, popular: 0, [source]: 1 } },
    ]),
  ),
};

const products = Array.from({ length: 96 }, (_, i) => ({
  id: `p${String(i).padStart(3, '0')}`,
  categoryId: `c${i % 8}`,
  price: 1 + (i % 17),
  // a few out of stock: they feed aggregates but are never recommended
  inStock: i % 13 !== 5,
}));

/** The seeded clickstream, in time order, with a few history removals and clears. */
function clickstream(): TrackedEvent[] {
  const simulator = new ClickstreamSimulator({ seed: 14, users: USERS, products, userPrefix: 'shopper-' });
  const events: TrackedEvent[] = [];
  const start = NOW - DAYS * DAY_MS;
  const step = (DAYS * DAY_MS - 2 * 3_600_000) / SESSIONS;
  for (let s = 0; s < SESSIONS; s++) {
    simulator.session().forEach((e, i) => {
      const at = start + s * step + i * 60_000;
      const { quantity, price, ...rest } = e;
      events.push({ ...rest, eventId: `s${s}-${i}`, occurredAt: at, receivedAt: at, quantity: quantity ?? 1, ...(price === undefined ? {} : { price }) });
    });
  }
  const controls: TrackedEvent[] = [];
  for (let n = 1; n <= USERS; n++) {
    const userId = simulator.userId(n);
    const own = events.filter((e) => e.userId === userId);
    const middle = own[Math.floor(own.length / 2)];
    if (middle === undefined) continue;
    const at = middle.occurredAt + 30_000;
    if (n % 9 === 0)
      controls.push({ eventId: `hide-${n}`, userId, productId: middle.productId, type: 'HIDE_PRODUCT', occurredAt: at, receivedAt: at, quantity: 1 });
    if (n % 31 === 0) controls.push({ eventId: `clear-${n}`, userId, productId: '*', type: 'CLEAR_HISTORY', occurredAt: at, receivedAt: at, quantity: 1 });
  }
  return [...events, ...controls].sort((a, b) => a.occurredAt - b.occurredAt);
}

const events = clickstream();
/** As the aggregation worker takes them: a few hundred events at a time, in arrival order. */
const batches = Array.from({ length: Math.ceil(events.length / 250) }, (_, i) => events.slice(i * 250, (i + 1) * 250));
const userIds = [...Array.from({ length: USERS }, (_, i) => `shopper-${i + 1}`), 'never-seen-1', 'never-seen-2'];

let database: TestDatabase;
let redis: RedisClient;
let leader: Aggregator;
let evaluator: Aggregator;
let catalog: CatalogCache;
const memoryCatalog = new MemoryCatalog(products.map((p) => [p.id, { categoryId: p.categoryId, inStock: p.inStock, price: p.price }]));

beforeAll(async () => {
  database = await testDatabase('parity');
  redis = await connectRedis(testServices().redisUrl, logger, 'parity-test');
  await insertCatalog(database.db, products);
  catalog = new CatalogCache(database.db, logger);
  await catalog.load();

  // the leader, as the aggregation worker runs it: batches as they arrive, a cache too small for everything
  const aggregates = new MongoAggregateStore(database.db);
  leader = new Aggregator(aggregates, catalog, engine, { cacheSize: 40 });
  await leader.start();
  for (const batch of batches) await leader.apply(batch, NOW);
  await aggregates.writeBehind();

  // the evaluator: the engine's Aggregator over a MemoryStore (evaluate.ts), fed the same batches.
  // Not a day per batch as evaluate.ts replays: a product's neighbours are re-ranked only when a
  // batch touches it, against the population of that moment, so they depend on batch boundaries.
  evaluator = new Aggregator(new MemoryStore(), memoryCatalog, engine);
  await evaluator.start();
  for (const batch of batches) await evaluator.apply(batch, NOW);
}, 60_000);

afterAll(async () => {
  await redis.close();
  await database.drop();
});

/**
 * A small LightGBM model over the ranker's features, written as dump_model() would: splits on
 * what the leader holds in memory and a list worker must load (the candidates' buyers, the
 * catalog's best sellers, neighbours, the catalog's price), with missing values on both sides.
 */
function syntheticModel() {
  const f = (name: string) => RANKER_FEATURE_NAMES.indexOf(name);
  const split = (feature: string, threshold: number, left: object, right: object, missing: 'None' | 'NaN' = 'None', defaultLeft = true) => ({
    split_feature: f(feature),
    threshold,
    decision_type: '<=',
    default_left: defaultLeft,
    missing_type: missing,
    left_child: left,
    right_child: right,
  });
  const leaf = (value: number) => ({ leaf_value: value });
  const trees = [
    split('repeat_pull', 0.2, split('buyers_30d', 2.5, leaf(-0.4), leaf(0.3)), split('user_item_since_days', 20, leaf(0.9), leaf(0.5), 'NaN', false)),
    split('also_bought', 0.25, split('also_viewed', 0.1, leaf(-0.2), leaf(0.4)), leaf(0.6)),
    split('popular_rank', 5.5, leaf(0.35), split('price', 8.5, leaf(0.1), leaf(-0.15)), 'NaN', false),
    split('category_affinity', 0.5, leaf(-0.1), split('buyers_90d', 4.5, leaf(0.05), leaf(0.25))),
  ];
  return rankerModel({
    version: 'v4',
    objective: 'lambdarank',
    feature_names: RANKER_FEATURE_NAMES,
    tree_info: trees.map((tree_structure) => ({ shrinkage: 1, tree_structure })),
  });
}

function listService(config: EngineConfig, local?: Aggregator, model?: ReturnType<typeof syntheticModel>): ListService {
  const publisher = new Publisher(redis, new RedisNames(uniqueName('parity')));
  return new ListService({
    store: new ListStore(database.db),
    catalog,
    engine: config,
    publisher,
    logger,
    ...(local === undefined ? {} : { local: () => local }),
    ...(model === undefined ? {} : { model: { current: () => ({ version: 'synthetic', model }) } }),
  });
}

/** The evaluator's list: servedStrategy's call of recommend() over the in-memory aggregator. */
function evaluatorList(userId: string, config: EngineConfig): Recommendations {
  const state = evaluator.userState(userId);
  return recommend({ state, hidden: hiddenOf(state), now: NOW, catalog: memoryCatalog, read: evaluator, config });
}

/** The users whose lists differ, with both lists (the first few). */
function differences<T>(expected: ReadonlyMap<string, T>, actual: ReadonlyMap<string, T>) {
  return userIds
    .filter((userId) => !isDeepStrictEqual(expected.get(userId), actual.get(userId)))
    .slice(0, 3)
    .map((userId) => ({ userId, expected: expected.get(userId), actual: actual.get(userId) }));
}

describe('list parity', () => {
  it('exercises every path: leader memory and MongoDB, every source, both strategies', async () => {
    expect(events.length).toBeGreaterThan(8_000);
    const signals = userIds.map((userId) => {
      const state = evaluator.userState(userId);
      return userSignals(state, hiddenOf(state), NOW, memoryCatalog, engine);
    });
    const anchors = [...readsFor(signals, engine).neighbours.ALSO_BOUGHT];
    const cached = anchors.filter((productId) => NEIGHBOUR_KINDS.every((kind) => leader.coocOf(KIND_CODE[kind], productId) !== undefined));
    // the leader answers some neighbours from memory and must load the others
    expect(cached.length).toBeGreaterThan(0);
    expect(cached.length).toBeLessThan(anchors.length);
    expect(userIds.filter((userId) => leader.userState(userId) === undefined).length).toBeGreaterThan(2);

    const lists = userIds.map((userId) => evaluatorList(userId, engine));
    const reasons = new Set(lists.flatMap((list) => list.items.flatMap((item) => item.reasons.map((reason) => reason.split(':')[0]))));
    expect([...reasons].sort()).toEqual(['ALSO_BOUGHT', 'ALSO_VIEWED', 'BUY_AGAIN', 'POPULAR', 'TOP_IN_CATEGORY']);
    expect(new Set(lists.map((list) => list.strategy))).toEqual(new Set(['PERSONALIZED', 'BEST_SELLERS']));
    expect(lists.filter((list) => list.items.length >= 20).length).toBeGreaterThan(USERS / 2);
  });

  for (const [name, config] of Object.entries(CONFIGS)) {
    it(`builds the same lists on the leader, on another list worker and in the evaluator (${name})`, async () => {
      const expected = new Map(userIds.map((userId) => [userId, evaluatorList(userId, config)]));
      const blends = (built: ReadonlyMap<string, { blend: Recommendations }>) => new Map([...built].map(([userId, { blend }]) => [userId, blend]));
      const fromLeader = blends(await listService(config, leader).build(userIds, NOW));
      const fromMongo = blends(await listService(config).build(userIds, NOW));
      expect(differences(expected, fromLeader)).toEqual([]);
      expect(differences(expected, fromMongo)).toEqual([]);
      expect([...expected.values()].filter((list) => list.items.length > 0).length).toBeGreaterThan(USERS / 2);
    });
  }

  it("ranks the same candidates the same way with a model: the leader, another list worker and the evaluator's ranker", async () => {
    const model = syntheticModel();
    const price = (productId: string) => memoryCatalog.product(productId)?.price;
    const expected = new Map(
      userIds.map((userId) => {
        const state = evaluator.userState(userId);
        const ranked = rankCandidates({ state, now: NOW, catalog: memoryCatalog, read: evaluator, config: engine, price }, model);
        return [userId, ranked.slice(0, engine.listSize).map((item) => item.productId)];
      }),
    );
    const ranked = (built: ReadonlyMap<string, { ranked?: { model: string; items: readonly { productId: string }[] } }>) =>
      new Map([...built].map(([userId, list]) => [userId, list.ranked?.items.map((item) => item.productId)]));
    const fromLeader = await listService(engine, leader, model).build(userIds, NOW);
    const fromMongo = await listService(engine, undefined, model).build(userIds, NOW);
    expect(differences(expected, ranked(fromLeader))).toEqual([]);
    expect(differences(expected, ranked(fromMongo))).toEqual([]);
    // the blend is saved beside it, unchanged, and the model reorders many lists
    const blend = new Map(userIds.map((userId) => [userId, evaluatorList(userId, engine)]));
    expect(differences(blend, new Map([...fromMongo].map(([userId, list]) => [userId, list.blend])))).toEqual([]);
    const reordered = userIds.filter(
      (userId) =>
        expected.get(userId)!.join() !==
        blend
          .get(userId)!
          .items.map((item) => item.productId)
          .join(),
    );
    expect(reordered.length).toBeGreaterThan(USERS / 2);
    expect([...fromLeader.values()].every((list) => list.ranked?.model === 'synthetic')).toBe(true);
  });
});
