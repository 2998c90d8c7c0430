import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { postGraphQL, TEST_JWT_SECRET, testDatabase, type TestDatabase } from '@recs/devkit';
import { DEFAULT_ENGINE_CONFIG } from '@recs/engine';
import {
  assignVariant,
  closeServer,
  COLLECTIONS,
  ConfigError,
  createLogger,
  createRegistry,
  EMPTY_TALLY,
  ExperimentTallies,
  IDENTITY_HEADER,
  parseExperimentSetting,
  signInternalIdentity,
  toListDoc,
  verifyRecommendationId,
  type Identity,
  type Registry,
  listen as listenOn,
} from '@recs/shared';
import { recommendationsConfig } from '../config.ts';
import { Experiments } from '../experiments.ts';
import { createRecommendationsServer, type RecommendationsServer } from '../server.ts';
import { VARIANT_NAMES } from '../servingPolicies.ts';
import { RecommendationStore } from '../store.ts';

const logger = createLogger('experiments-test', 'silent');
const service: Identity = { kind: 'authenticated', subject: 'storefront', role: 'service' };
const admin: Identity = { kind: 'authenticated', subject: 'ops', role: 'admin' };
const setting = parseExperimentSetting('home:blend=50,diverse=50', VARIANT_NAMES);
/** Twenty users with a stored list, and which variant each is in. */
const users = Array.from({ length: 20 }, (_, i) => `shopper-${i}`);
const inVariant = (variant: string) => users.filter((user) => assignVariant(setting, user) === variant);
/** Four of one category, then two of another. */
const ITEMS = ['k1', 'k2', 'k3', 'k4', 'h1', 'h2'];
/** The serving model's order of the same items, saved beside the blend's. */
const RANKED = [...ITEMS].reverse();
const MODEL = 'm-test';
/** A user whose list no model ranked (saved while none served). */
const UNRANKED = 'unranked-shopper';

let database: TestDatabase;
let registry: Registry;
let server: RecommendationsServer;
let plain: RecommendationsServer;
let url: string;
let plainUrl: string;

const LIST = `query ($id: ID!, $limit: Int) { recommendations(userId: $id, limit: $limit) { recommendationId variant modelVersion strategy version items { product { id } } } }`;
const REPORT = `query ($name: String!) { experimentReport(name: $name) { name active variants {
  variant share impressions users clicks addToCarts purchases clickingUsers addingUsers purchasingUsers
  clickThroughRate { value low high } conversionRate { value low high } clickThroughRateDifference { value low high } } } }`;

async function gql(query: string, variables: Record<string, unknown>, identity?: Identity, at = url) {
  const headers = identity === undefined ? {} : { [IDENTITY_HEADER]: await signInternalIdentity(identity, TEST_JWT_SECRET, query) };
  return postGraphQL(at, query, variables, headers);
}

async function listen(recommendations: RecommendationsServer): Promise<string> {
  return `http://127.0.0.1:${await listenOn(recommendations.http, 0)}/graphql`;
}

beforeAll(async () => {
  database = await testDatabase('experiments');
  const db = database.db;
  await db.collection(COLLECTIONS.lists).insertMany(
    [...users, UNRANKED].map((userId) =>
      toListDoc({
        userId,
        strategy: 'PERSONALIZED',
        generatedAt: Date.now(),
        version: 2,
        items: ITEMS.map((productId, i) => ({ productId, score: 10 - i, reasons: ['POPULAR'] })),
        ...(userId === UNRANKED
          ? {}
          : { ranked: { model: MODEL, items: RANKED.map((productId, i) => ({ productId, score: 1 - i / 10, reasons: ['POPULAR'] })) } }),
      }),
    ) as never[],
  );
  await db
    .collection(COLLECTIONS.products)
    .insertMany(ITEMS.map((id) => ({ _id: id, name: id, categoryId: id.startsWith('k') ? 'kitchen' : 'home', currency: 'GBP', inStock: true })) as never[]);
  registry = createRegistry('recommendations', { defaultMetrics: false });
  const options = { engine: DEFAULT_ENGINE_CONFIG, jwtSecret: TEST_JWT_SECRET, logger, production: true };
  server = await createRecommendationsServer({ ...options, store: new RecommendationStore(db, [30]), experiment: setting, metrics: registry });
  plain = await createRecommendationsServer({ ...options, store: new RecommendationStore(db, [30]) });
  url = await listen(server);
  plainUrl = await listen(plain);
});

afterAll(async () => {
  for (const recommendations of [server, plain]) {
    await closeServer(recommendations.http);
    await recommendations.apollo.stop();
    await recommendations.experiments.close();
  }
  await database.drop();
});

describe('variants', () => {
  it('serves each user the variant of their hash, with a recommendationId signed for them that says what was served', async () => {
    expect(inVariant('blend').length).toBeGreaterThan(0);
    expect(inVariant('diverse').length).toBeGreaterThan(0);
    for (const user of users.slice(0, 6)) {
      const before = Date.now();
      const list = (await gql(LIST, { id: user, limit: 5 }, service)).data?.['recommendations'];
      expect(list).toMatchObject({ variant: assignVariant(setting, user), modelVersion: 'none', strategy: 'PERSONALIZED', version: 2 });
      const check = verifyRecommendationId(list.recommendationId, user, TEST_JWT_SECRET, Date.now(), Date.now());
      expect(check).toMatchObject({ ok: true, served: { experiment: 'home', variant: list.variant, model: 'none', strategy: 'PERSONALIZED', listVersion: 2 } });
      // the time served, to the minute
      expect(check.ok && check.served.servedAt).toBeGreaterThan(before - 60_000);
      expect(check.ok && check.served.servedAt % 60_000).toBe(0);
      expect(verifyRecommendationId(list.recommendationId, 'someone-else', TEST_JWT_SECRET, Date.now(), Date.now()).ok).toBe(false);
    }
  });

  it("serves blend and diverse from the blend's order, whatever a model made of it", async () => {
    const ids = async (user: string, limit: number) =>
      ((await gql(LIST, { id: user, limit }, service)).data!['recommendations'].items as { product: { id: string } }[]).map((item) => item.product.id);
    expect(await ids(inVariant('blend')[0]!, 5)).toEqual(['k1', 'k2', 'k3', 'k4', 'h1']);
    // k3 and k4 are over the cap; nothing else passes (no best sellers to fill with)
    expect(await ids(inVariant('diverse')[0]!, 5)).toEqual(['k1', 'k2', 'h1', 'h2']);
    // a list of two cannot be less diverse than the cap
    expect(await ids(inVariant('diverse')[0]!, 2)).toEqual(['k1', 'k2']);
    // the client's own cap, when lower, still holds
    const capped = await gql(
      `query ($id: ID!) { recommendations(userId: $id, limit: 5, maxPerCategory: 1) { items { product { id } } } }`,
      { id: inVariant('diverse')[0]! },
      service,
    );
    expect(capped.data?.['recommendations'].items.map((item: { product: { id: string } }) => item.product.id)).toEqual(['k1', 'h1']);
  });

  it('refuses a bad serving control whatever the variant', async () => {
    for (const user of [inVariant('blend')[0]!, inVariant('diverse')[0]!]) {
      const result = await gql(`query ($id: ID!) { recommendations(userId: $id, limit: 5, maxPerCategory: 0) { variant } }`, { id: user }, service);
      expect(result.errors?.[0]?.extensions?.['code']).toBe('BAD_USER_INPUT');
    }
  });

  it("serves everyone the ranker when no experiment runs: the model's order where it ranked the list, the blend's elsewhere; no tallies", async () => {
    const before = await database.db.collection(COLLECTIONS.experimentUsers).countDocuments();
    for (const user of inVariant('diverse').slice(0, 3)) {
      const list = (await gql(LIST, { id: user, limit: 5 }, service, plainUrl)).data?.['recommendations'];
      expect(list).toMatchObject({ variant: 'ranker', modelVersion: MODEL, items: RANKED.slice(0, 5).map((id) => ({ product: { id } })) });
      expect(verifyRecommendationId(list.recommendationId, user, TEST_JWT_SECRET, Date.now(), Date.now())).toMatchObject({
        ok: true,
        served: { experiment: undefined, variant: 'ranker', model: MODEL },
      });
    }
    const unranked = (await gql(LIST, { id: UNRANKED, limit: 5 }, service, plainUrl)).data?.['recommendations'];
    expect(unranked).toMatchObject({ variant: 'ranker', modelVersion: 'none', items: ITEMS.slice(0, 5).map((id) => ({ product: { id } })) });
    // the serving controls apply to the model's order as they do to the blend's
    const capped = await gql(
      `query ($id: ID!) { recommendations(userId: $id, limit: 4, maxPerCategory: 1) { modelVersion items { product { id } } } }`,
      { id: users[0]! },
      service,
      plainUrl,
    );
    expect(capped.data?.['recommendations']).toEqual({ modelVersion: MODEL, items: [{ product: { id: 'h2' } }, { product: { id: 'k4' } }] });
    await plain.experiments.flush();
    expect(await database.db.collection(COLLECTIONS.experimentUsers).countDocuments()).toBe(before);
  });
});

describe('experimentReport', () => {
  it('counts the non-empty lists and the distinct users served per variant, in tallies and in the impressions metric', async () => {
    const tallyBefore = (await gql(REPORT, { name: 'home' }, admin)).data?.['experimentReport'].variants as {
      variant: string;
      impressions: number;
      users: number;
    }[];
    const metric = async (variant: string) =>
      (await registry.getSingleMetric('recs_recommendation_impressions_total')!.get()).values.find(
        (sample) => sample.labels['variant'] === variant && sample.labels['strategy'] === 'PERSONALIZED' && sample.labels['model'] === 'none',
      )?.value ?? 0;
    const metricBefore = { blend: await metric('blend'), diverse: await metric('diverse') };
    // a fresh experiment's users: every one of the twenty, twice; and an empty list (limit 0) for each, not counted
    for (const user of users) {
      await gql(LIST, { id: user, limit: 3 }, service);
      await gql(LIST, { id: user, limit: 3 }, service);
      await gql(LIST, { id: user, limit: 0 }, service);
    }
    const report = (await gql(REPORT, { name: 'home' }, admin)).data?.['experimentReport'];
    expect(report).toMatchObject({ name: 'home', active: true });
    expect(report.variants.map((v: { variant: string; share: number }) => [v.variant, v.share])).toEqual([
      ['blend', 0.5],
      ['diverse', 0.5],
    ]);
    for (const [i, variant] of ['blend', 'diverse'].entries()) {
      const row = report.variants[i];
      // users served by the earlier tests were marked already
      expect(row.impressions - (tallyBefore[i]?.impressions ?? 0)).toBe(2 * inVariant(variant).length);
      expect(row.users).toBe(inVariant(variant).length);
      expect(row).toMatchObject({ clicks: 0, purchases: 0, clickingUsers: 0, purchasingUsers: 0, clickThroughRate: { value: 0, low: 0 } });
      expect((await metric(variant)) - metricBefore[variant as 'blend' | 'diverse']).toBe(2 * inVariant(variant).length);
    }
    expect(report.variants[1].clickThroughRateDifference).toEqual({ value: 0, low: expect.any(Number), high: expect.any(Number) });
  });

  it('is for admins only, and refuses a bad name; an experiment without figures that does not run is null', async () => {
    expect((await gql(REPORT, { name: 'home' })).errors?.[0]?.extensions?.['code']).toBe('UNAUTHENTICATED');
    expect((await gql(REPORT, { name: 'home' }, service)).errors?.[0]?.extensions?.['code']).toBe('FORBIDDEN');
    expect((await gql(REPORT, { name: 'home' }, { kind: 'authenticated', subject: 'shopper-1', role: 'user' })).errors?.[0]?.extensions?.['code']).toBe(
      'FORBIDDEN',
    );
    for (const name of ['', 'has space', 'x'.repeat(33)]) {
      expect((await gql(REPORT, { name }, admin)).errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', argument: 'name' });
    }
    expect(await gql(REPORT, { name: 'never-ran' }, admin)).toEqual({ data: { experimentReport: null } });
  });
});

describe('rankerModels', () => {
  const model = (version: string, status: 'serving' | 'refused', ndcg: number, trainedAt: Date) => ({
    _id: version,
    status,
    reason: status === 'serving' ? `holdout NDCG@10 ${ndcg} is above the blend's 0.25` : `holdout NDCG@10 ${ndcg} is not above the blend's 0.25`,
    trainedAt,
    ...(status === 'serving' ? { promotedAt: trainedAt } : {}),
    features: ['blended_rank'],
    lightgbm: '4.6.0',
    rounds: 120,
    trees: 120,
    bytes: 900_000,
    trainedOn: {
      from: new Date('2026-05-01'),
      until: new Date('2026-11-01'),
      queries: 7000,
      rows: 600_000,
      events: 300_000,
      validNdcg: 0.35,
      candidateRecall: 0.7,
    },
    holdout: { from: new Date('2026-11-01'), until: trainedAt, k: 10, queries: 1600, model: { recall: 0.14, ndcg }, blend: { recall: 0.13, ndcg: 0.25 } },
    importance: [
      { feature: 'blended_rank', share: 0.4 },
      { feature: 'buyers_7d', share: 0.1 },
    ],
    seconds: { set: 200, fit: 60, total: 260 },
    dump: '{}',
  });

  it('lists the models the training job fitted, newest first, with their verdicts and figures, to admins only', async () => {
    await database.db
      .collection(COLLECTIONS.rankerModels)
      .insertMany([
        model('m-old', 'serving', 0.27, new Date('2026-11-29T03:00:00Z')),
        model('m-new', 'refused', 0.24, new Date('2026-11-30T03:00:00Z')),
      ] as never[]);
    const query = `query ($limit: Int) { rankerModels(limit: $limit) { version status reason trainedAt promotedAt trainingBaskets holdoutBaskets holdoutK recall ndcg blendNdcg servingVersion topFeatures { feature share } } }`;
    const result = await gql(query, {}, admin);
    expect(result.errors).toBeUndefined();
    expect(result.data?.['rankerModels']).toEqual([
      expect.objectContaining({
        version: 'm-new',
        status: 'REFUSED',
        reason: "holdout NDCG@10 0.24 is not above the blend's 0.25",
        promotedAt: null,
        ndcg: 0.24,
      }),
      expect.objectContaining({
        version: 'm-old',
        status: 'SERVING',
        trainedAt: '2026-11-29T03:00:00.000Z',
        promotedAt: '2026-11-29T03:00:00.000Z',
        trainingBaskets: 7000,
        holdoutBaskets: 1600,
        holdoutK: 10,
        recall: 0.14,
        blendNdcg: 0.25,
        servingVersion: null,
        topFeatures: [
          { feature: 'blended_rank', share: 0.4 },
          { feature: 'buyers_7d', share: 0.1 },
        ],
      }),
    ]);
    expect((await gql(query, { limit: 1 }, admin)).data?.['rankerModels'].map((m: { version: string }) => m.version)).toEqual(['m-new']);
    expect((await gql(query, { limit: 0 }, admin)).errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', argument: 'limit' });
    expect((await gql(query, {}, service)).errors?.[0]?.extensions?.['code']).toBe('FORBIDDEN');
  });
});

describe('Experiments', () => {
  it('writes what was served on its own within the flush interval', async () => {
    const tallies = new ExperimentTallies(database.db);
    const own = parseExperimentSetting('timer:blend=1,diverse=1', VARIANT_NAMES);
    const experiments = new Experiments({ setting: own, secret: TEST_JWT_SECRET, tallies, logger, flushIntervalMs: 20 });
    for (const user of ['a', 'b', 'c']) experiments.served(user, experiments.assign(user), { strategy: 'PERSONALIZED', version: 1, items: 3, model: 'none' });
    const expected = ['a', 'b', 'c'].reduce(
      (by, user) => by.set(assignVariant(own, user), (by.get(assignVariant(own, user)) ?? 0) + 1),
      new Map<string, number>(),
    );
    await vi.waitFor(async () =>
      expect(await tallies.read('timer')).toEqual(
        [...expected].sort().map(([variant, n]) => ({ variant, counts: { ...EMPTY_TALLY, impressions: n, users: n } })),
      ),
    );
    await experiments.close();
  });
});

describe('RECS_EXPERIMENT', () => {
  const env = { MONGO_URL: 'mongodb://127.0.0.1:1', REDIS_URL: 'redis://127.0.0.1:1', JWT_SECRET: TEST_JWT_SECRET };

  it('names the serving policies as variants, and stops the process with a message naming it when invalid', () => {
    expect(recommendationsConfig({ ...env, RECS_EXPERIMENT: 'home:blend=50,diverse=50' }).RECS_EXPERIMENT).toEqual(setting);
    expect(recommendationsConfig(env).RECS_EXPERIMENT).toBeUndefined();
    expect(recommendationsConfig({ ...env, RECS_EXPERIMENT: 'home:blend=50,ranker=50' }).RECS_EXPERIMENT?.variants.map((v) => v.name)).toEqual([
      'blend',
      'ranker',
    ]);
    expect(() => recommendationsConfig({ ...env, RECS_EXPERIMENT: 'home:blend=50,catboost=50' })).toThrow(ConfigError);
    expect(() => recommendationsConfig({ ...env, RECS_EXPERIMENT: 'home:blend=50,catboost=50' })).toThrow(
      /RECS_EXPERIMENT: unknown variant "catboost" \(known: ranker, blend, diverse\)/,
    );
  });
});
