import { once } from 'node:events';
import { scrapeMetrics, TEST_JWT_SECRET } from '@recs/devkit';
import { assignVariant, parseExperimentSetting, verifyRecommendationId, type ExperimentSetting } from '@recs/shared';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { nextResult, startSystem, type System } from '../src/system.ts';

/**
 * An online experiment through the gateway: users split by hash between two serving policies,
 * each list served with a signed recommendationId, the clicks, carts and purchases tracked with
 * those ids, and the admin report's per-variant figures equal to what was served and sent.
 */
const setting: ExperimentSetting = parseExperimentSetting('e2e-home:blend=50,diverse=50', ['blend', 'diverse']);
const VARIANTS = ['blend', 'diverse'] as const;
type Variant = (typeof VARIANTS)[number];

let system: System;
let storefront: string;
let admin: string;

const CATALOG = [
  ...['k1', 'k2', 'k3', 'k4'].map((id) => ({ id, name: `Kitchen ${id}`, categoryId: 'kitchen', categoryName: 'Kitchen', price: 5 })),
  ...['l1', 'l2'].map((id) => ({ id, name: `Light ${id}`, categoryId: 'lights', categoryName: 'Lights', price: 3 })),
];
const TRACK = `mutation Track($e: [TrackEventInput!]!) { trackEvents(inputs: $e) { accepted duplicates rejected { index code } } }`;
const LIST = `query List($user: ID!) { recommendations(userId: $user, limit: 4) {
  recommendationId variant modelVersion strategy items { product { id category { id } } } } }`;
const REPORT = `query Report($name: String!) { experimentReport(name: $name) { name active variants {
  variant share impressions users clicks addToCarts purchases clickingUsers addingUsers purchasingUsers
  clickThroughRate { value low high } conversionRate { value low high }
  clickThroughRateDifference { value low high } conversionRateDifference { value low high } } } }`;

interface ServedList {
  readonly recommendationId: string;
  readonly variant: string;
  readonly modelVersion: string;
  readonly strategy: string;
  readonly items: readonly { product: { id: string; category: { id: string } | null } }[];
}

interface Figures {
  impressions: number;
  users: Set<string>;
  clicks: number;
  addToCarts: number;
  purchases: number;
  clickingUsers: Set<string>;
  addingUsers: Set<string>;
  purchasingUsers: Set<string>;
}

const users = Array.from({ length: 60 }, (_, i) => `exp-user-${i}`);
const served = new Map<string, ServedList>();
const expected = new Map<Variant, Figures>(
  VARIANTS.map((variant) => [
    variant,
    { impressions: 0, users: new Set(), clicks: 0, addToCarts: 0, purchases: 0, clickingUsers: new Set(), addingUsers: new Set(), purchasingUsers: new Set() },
  ]),
);

const metric = async (service: 'recommendations' | 'events', name: string, labels: Record<string, string>) =>
  (await scrapeMetrics(system.metricsUrls[service]!)).value(name, labels) ?? 0;

async function serve(user: string): Promise<ServedList> {
  const result = await system.query<{ recommendations: ServedList }>(LIST, { user }, storefront);
  expect(result.errors).toBeUndefined();
  return result.data!.recommendations;
}

beforeAll(async () => {
  system = await startSystem({ label: 'experiments', experiment: setting });
  storefront = await system.token('storefront', 'service');
  admin = await system.token('ops', 'admin');
  const upsert = await system.query(`mutation ($p: [ProductInput!]!) { upsertProducts(products: $p) { created } }`, { p: CATALOG }, admin);
  expect(upsert.data).toEqual({ upsertProducts: { created: CATALOG.length } });
  await system.catalog.load();
  // best sellers for the users' cold-start lists: the kitchen products bought by three buyers, the lights by two
  const client = system.wsClient();
  const subscribed = once(system.gateways[0]!.server.hub, 'subscribed');
  const ranked = nextResult<{ bestSellersChanged: { items: unknown[] } }>(
    client,
    `subscription { bestSellersChanged { items { rank } } }`,
    {},
    (data) => data.bestSellersChanged.items.length === CATALOG.length,
  );
  await subscribed;
  const seeds = ['seed-1', 'seed-2', 'seed-3'].flatMap((userId, s) =>
    CATALOG.filter((product) => product.categoryId === 'kitchen' || s < 2).map((product) => ({ userId, productId: product.id, type: 'PURCHASE' })),
  );
  expect((await system.query(TRACK, { e: seeds }, storefront)).data?.['trackEvents']).toMatchObject({ accepted: seeds.length });
  await ranked.result;
});

afterAll(async () => {
  await system?.stop();
});

describe('an online experiment, through the gateway', () => {
  it('splits users by hash between the variants, each list served by its policy with a recommendationId signed for its user', async () => {
    const impressionsBefore = Object.fromEntries(
      await Promise.all(
        VARIANTS.map(async (variant) => [variant, await metric('recommendations', 'recs_recommendation_impressions_total', { variant, model: 'none' })]),
      ),
    );
    for (const [i, user] of users.entries()) {
      const times = i % 3 === 0 ? 2 : 1;
      for (let t = 0; t < times; t++) {
        const list = await serve(user);
        const variant = assignVariant(setting, user) as Variant;
        expect(list).toMatchObject({ variant, modelVersion: 'none', strategy: 'BEST_SELLERS' });
        expect(verifyRecommendationId(list.recommendationId, user, TEST_JWT_SECRET, Date.now(), Date.now())).toMatchObject({
          ok: true,
          served: { experiment: 'e2e-home', variant, model: 'none', strategy: 'BEST_SELLERS' },
        });
        const categories = list.items.map((item) => item.product.category?.id);
        if (variant === 'blend') expect(categories).toEqual(['kitchen', 'kitchen', 'kitchen', 'kitchen']);
        else expect(categories.toSorted()).toEqual(['kitchen', 'kitchen', 'lights', 'lights']);
        served.set(user, list);
        const figures = expected.get(variant)!;
        figures.impressions++;
        figures.users.add(user);
      }
    }
    // both variants have users, about half each
    for (const variant of VARIANTS) expect(expected.get(variant)!.users.size).toBeGreaterThan(15);
    for (const variant of VARIANTS) {
      const after = await metric('recommendations', 'recs_recommendation_impressions_total', { variant, model: 'none', strategy: 'BEST_SELLERS' });
      expect(after - impressionsBefore[variant]).toBe(expected.get(variant)!.impressions);
    }
  });

  it('attributes the clicks, carts and purchases tracked with those ids, once each, and refuses ids that do not belong', async () => {
    const before = Object.fromEntries(
      await Promise.all(
        VARIANTS.flatMap((variant) =>
          ['CLICK', 'ADD_TO_CART', 'PURCHASE'].map(
            async (type) =>
              [`${variant}:${type}`, await metric('events', 'recs_recommendation_attributed_events_total', { variant, type, model: 'none' })] as const,
          ),
        ),
      ),
    );
    const events: Record<string, unknown>[] = [];
    const add = (user: string, type: 'CLICK' | 'ADD_TO_CART' | 'PURCHASE', n: number) => {
      const list = served.get(user)!;
      events.push({ eventId: `${user}-${type}-${n}`, userId: user, productId: list.items[0]!.product.id, type, recommendationId: list.recommendationId });
      const figures = expected.get(list.variant as Variant)!;
      if (type === 'CLICK') {
        figures.clicks++;
        figures.clickingUsers.add(user);
      } else if (type === 'ADD_TO_CART') {
        figures.addToCarts++;
        figures.addingUsers.add(user);
      } else {
        figures.purchases++;
        figures.purchasingUsers.add(user);
      }
    };
    for (const [i, user] of users.entries()) {
      if (i % 2 === 0) add(user, 'CLICK', 1);
      if (i % 5 === 0) add(user, 'CLICK', 2);
      if (i % 4 === 0) {
        add(user, 'ADD_TO_CART', 1);
        add(user, 'PURCHASE', 1);
      }
    }
    const first = await system.query(TRACK, { e: events }, storefront);
    expect(first.data?.['trackEvents']).toEqual({ accepted: events.length, duplicates: 0, rejected: [] });
    // a client's retry of the same batch: duplicates, counted nowhere
    expect((await system.query(TRACK, { e: events }, storefront)).data?.['trackEvents']).toEqual({ accepted: 0, duplicates: events.length, rejected: [] });
    // another user's id, a view with an id, an id altered to the other variant: refused
    const [alice, bob] = [users[0]!, users[1]!];
    const aliceId = served.get(alice)!.recommendationId;
    const other = served.get(alice)!.variant === 'blend' ? 'diverse' : 'blend';
    const refused = await system.query(
      TRACK,
      {
        e: [
          { userId: bob, productId: 'k1', type: 'PURCHASE', recommendationId: aliceId },
          { userId: alice, productId: 'k1', type: 'VIEW', recommendationId: aliceId },
          { userId: alice, productId: 'k1', type: 'PURCHASE', recommendationId: aliceId.replace(`~${served.get(alice)!.variant}~`, `~${other}~`) },
        ],
      },
      storefront,
    );
    expect(refused.data?.['trackEvents']).toEqual({
      accepted: 0,
      duplicates: 0,
      rejected: [0, 1, 2].map((index) => ({ index, code: 'INVALID_RECOMMENDATION_ID' })),
    });

    for (const variant of VARIANTS) {
      const figures = expected.get(variant)!;
      for (const [type, count] of [
        ['CLICK', figures.clicks],
        ['ADD_TO_CART', figures.addToCarts],
        ['PURCHASE', figures.purchases],
      ] as const) {
        const after = await metric('events', 'recs_recommendation_attributed_events_total', { variant, type, model: 'none' });
        expect(after - before[`${variant}:${type}`]!, `${variant} ${type}`).toBe(count);
      }
    }
  });

  it('reports each variant’s figures from the attributed events, with rates and their 95% intervals, to admins only', async () => {
    expect((await system.query(REPORT, { name: 'e2e-home' }, storefront)).errors?.[0]?.extensions?.['code']).toBe('FORBIDDEN');
    const result = await system.query(REPORT, { name: 'e2e-home' }, admin);
    expect(result.errors).toBeUndefined();
    const report = result.data!['experimentReport'];
    expect(report).toMatchObject({ name: 'e2e-home', active: true });
    expect(report.variants.map((row: { variant: string }) => row.variant)).toEqual(['blend', 'diverse']);
    for (const [i, variant] of VARIANTS.entries()) {
      const row = report.variants[i];
      const figures = expected.get(variant)!;
      expect(row).toMatchObject({
        variant,
        share: 0.5,
        impressions: figures.impressions,
        users: figures.users.size,
        clicks: figures.clicks,
        addToCarts: figures.addToCarts,
        purchases: figures.purchases,
        clickingUsers: figures.clickingUsers.size,
        addingUsers: figures.addingUsers.size,
        purchasingUsers: figures.purchasingUsers.size,
      });
      expect(row.clickThroughRate.value).toBeCloseTo(figures.clickingUsers.size / figures.users.size, 12);
      expect(row.conversionRate.value).toBeCloseTo(figures.purchasingUsers.size / figures.users.size, 12);
      for (const rate of [row.clickThroughRate, row.conversionRate]) {
        expect(rate.low).toBeGreaterThan(0);
        expect(rate.low).toBeLessThan(rate.value);
        expect(rate.high).toBeGreaterThan(rate.value);
        expect(rate.high).toBeLessThan(1);
      }
    }
    const [control, diverse] = report.variants;
    expect(control.clickThroughRateDifference).toBeNull();
    expect(diverse.clickThroughRateDifference.value).toBeCloseTo(diverse.clickThroughRate.value - control.clickThroughRate.value, 12);
    expect(diverse.conversionRateDifference.low).toBeLessThan(diverse.conversionRateDifference.value);
  });

  it('serves recommendationsChanged through the same resolver: a pushed list has the user’s variant and an id its events are attributed with', async () => {
    const user = 'exp-live-user';
    const variant = assignVariant(setting, user) as Variant;
    const client = system.wsClient(storefront);
    const subscribed = once(system.gateways[0]!.server.hub, 'subscribed');
    const pushed = nextResult<{ recommendationsChanged: { recommendationId: string; variant: string; modelVersion: string; items: unknown[] } }>(
      client,
      `subscription Live($user: ID!) { recommendationsChanged(userId: $user, limit: 4) { recommendationId variant modelVersion items { product { id } } } }`,
      { user },
      (data) => data.recommendationsChanged.items.length > 0,
    );
    await subscribed;
    await system.query(TRACK, { e: [{ userId: user, productId: 'k1', type: 'VIEW' }] }, storefront);
    const list = (await pushed.result).data!.recommendationsChanged;
    expect(list).toMatchObject({ variant, modelVersion: 'none' });
    expect(verifyRecommendationId(list.recommendationId, user, TEST_JWT_SECRET, Date.now(), Date.now())).toMatchObject({ ok: true, served: { variant } });

    const click = await system.query(TRACK, { e: [{ userId: user, productId: 'k2', type: 'CLICK', recommendationId: list.recommendationId }] }, storefront);
    expect(click.data?.['trackEvents']).toMatchObject({ accepted: 1, rejected: [] });
    const report = (await system.query(REPORT, { name: 'e2e-home' }, admin)).data!['experimentReport'];
    const row = report.variants.find((entry: { variant: string }) => entry.variant === variant);
    const figures = expected.get(variant)!;
    // the push was served: one more user, at least one more list (the workers may have pushed more than one change)
    expect(row.users).toBe(figures.users.size + 1);
    expect(row.impressions).toBeGreaterThan(figures.impressions);
    expect(row.clicks).toBe(figures.clicks + 1);
    expect(row.clickingUsers).toBe(figures.clickingUsers.size + 1);
  });
});
