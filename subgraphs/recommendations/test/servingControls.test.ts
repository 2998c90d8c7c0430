import type { CommandStartedEvent } from 'mongodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { postGraphQL, TEST_JWT_SECRET, testDatabase, type TestDatabase } from '@recs/devkit';
import { ControlledList, DEFAULT_ENGINE_CONFIG, leftOutFor, type RecommendationItem, type RingEvent, type UserState } from '@recs/engine';
import {
  closeServer,
  COLLECTIONS,
  createLogger,
  IDENTITY_HEADER,
  signInternalIdentity,
  toBestSellersDoc,
  toListDoc,
  toUserStateDoc,
  type Identity,
  listen,
} from '@recs/shared';
import { createRecommendationsServer, type RecommendationsServer } from '../server.ts';
import { RecommendationStore } from '../store.ts';

const user = (subject: string): Identity => ({ kind: 'authenticated', subject, role: 'user' });
const alice = user('alice');
const service: Identity = { kind: 'authenticated', subject: 'shop', role: 'service' };
const now = Date.now();
const { blend } = DEFAULT_ENGINE_CONFIG;

/*
 * The catalog: kitchen k1..k8 and kOut (out of stock), home h1..h6 and hOut (out of stock),
 * garden g1..g4, toys t1..t3, extra x1..x15; `ghost` is ranked but not in the catalog.
 */
const CATEGORY: Record<string, string> = { k: 'kitchen', h: 'home', g: 'garden', t: 'toys', x: 'extra' };
const catalog = [
  ...['k1', 'k2', 'k3', 'k4', 'k5', 'k6', 'k7', 'k8', 'kOut'],
  ...['h1', 'h2', 'h3', 'h4', 'h5', 'h6', 'hOut'],
  ...['g1', 'g2', 'g3', 'g4'],
  ...['t1', 't2', 't3'],
  ...Array.from({ length: 15 }, (_, i) => `x${i + 1}`),
];
const categoryOf = (id: string) => CATEGORY[id[0]!];

/** Alice's stored list, best first (12 items: deeper than the limits below, shallower than 16). */
const STORED: [string, number][] = [
  ['k1', 1.2],
  ['k2', 1.1],
  ['k3', 1],
  ['h1', 0.9],
  ['k4', 0.8],
  ['k5', 0.7],
  ['h2', 0.6],
  ['g1', 0.5],
  ['k6', 0.4],
  ['h3', 0.3],
  ['k7', 0.2],
  ['g2', 0.1],
];
const storedItem = (id: string) => {
  const found = STORED.find(([p]) => p === id)!;
  return { product: { id }, score: found[1], reasons: ['ALSO_BOUGHT:x'] };
};
/** Overall 30-day best sellers: what fills a list past its stored items. */
const BEST: [string, number][] = [
  ['k8', 20],
  ['h4', 18],
  ['k1', 15],
  ['hOut', 14],
  ['h6', 13],
  ['g4', 12],
  ['h5', 11],
  ['t1', 10],
  ['t2', 9],
  ['t3', 8],
  ['ghost', 7],
  ...Array.from({ length: 15 }, (_, i): [string, number] => [`x${i + 1}`, 6 - i / 10]),
];
/**
 * Alice has h6 in her cart, removed g4 from her history (nothing since), and removed h5 but
 * viewed it again afterwards: list building leaves out h6 and g4, and so must a fill.
 */
const ALICE_EVENTS: RingEvent[] = [
  ['e4', 'h5', 'V', now - 2_000, ''],
  ['e3', 'h6', 'A', now - 3_000, ''],
  ['e2', 'h5', 'V', now - 8_000, ''],
  ['e1', 'g4', 'V', now - 10_000, ''],
];
const aliceState: UserState = {
  userId: 'alice',
  events: ALICE_EVENTS,
  purchaseDays: new Map(),
  hidden: new Map([
    ['g4', now - 5_000],
    ['h5', now - 5_000],
  ]),
  clearedAt: 0,
  version: 4,
};

let database: TestDatabase;
let server: RecommendationsServer;
let url: string;
const commands: CommandStartedEvent[] = [];
const finds = (collection: string) => commands.filter((c) => c.commandName === 'find' && c.command['find'] === collection).length;

async function gql(query: string, variables: Record<string, unknown> = {}, identity: Identity = alice) {
  return postGraphQL(url, query, variables, { [IDENTITY_HEADER]: await signInternalIdentity(identity, TEST_JWT_SECRET, query) });
}

const LIST = `query ($id: ID!, $limit: Int, $exclude: [ID!], $categoryId: ID, $max: Int) {
  recommendations(userId: $id, limit: $limit, exclude: $exclude, categoryId: $categoryId, maxPerCategory: $max) {
    userId strategy version items { product { id } score reasons } } }`;

async function list(variables: Record<string, unknown>, identity: Identity = alice) {
  const result = await gql(LIST, { id: 'alice', ...variables }, identity);
  expect(result.errors).toBeUndefined();
  return result.data?.['recommendations'] as { strategy: string; version: number; items: { product: { id: string }; score: number; reasons: string[] }[] };
}
const ids = (items: readonly { product: { id: string } }[]) => items.map((item) => item.product.id);

beforeAll(async () => {
  database = await testDatabase('serving-controls', { monitorCommands: true });
  database.client.on('commandStarted', (event) => commands.push(event));
  const db = database.db;
  await db
    .collection(COLLECTIONS.products)
    .insertMany(catalog.map((id) => ({ _id: id, name: id, categoryId: categoryOf(id), currency: 'GBP', inStock: !id.endsWith('Out') })) as never[]);
  const stored = (userId: string, items: readonly [string, number][]) =>
    toListDoc({
      userId,
      strategy: 'PERSONALIZED',
      generatedAt: Date.parse('2026-01-01T00:00:00Z'),
      version: 5,
      items: items.map(([productId, score]): RecommendationItem => ({ productId, score, reasons: ['ALSO_BOUGHT:x'] })),
    });
  await db.collection(COLLECTIONS.lists).insertMany([
    stored('alice', STORED),
    stored('bob', [
      ['t1', 2],
      ['g3', 1],
      ['k1', 0.5],
    ]),
  ] as never[]);
  await db.collection(COLLECTIONS.users).insertOne(toUserStateDoc(aliceState, new Date(now)) as never);
  const changedAt = Date.parse('2026-01-02T00:00:00Z');
  await db.collection(COLLECTIONS.bestSellers).insertMany([
    toBestSellersDoc({ categoryId: null, windowDays: 30, items: BEST, changedAt }),
    toBestSellersDoc({
      categoryId: 'kitchen',
      windowDays: 30,
      items: [
        ['k8', 20],
        ['k1', 15],
        ['kOut', 6],
      ],
      changedAt,
    }),
    toBestSellersDoc({
      categoryId: 'garden',
      windowDays: 30,
      items: [
        ['g4', 12],
        ['g3', 5],
      ],
      changedAt,
    }),
  ] as never[]);
  server = await createRecommendationsServer({
    store: new RecommendationStore(db, [30]),
    engine: DEFAULT_ENGINE_CONFIG,
    jwtSecret: TEST_JWT_SECRET,
    logger: createLogger('serving-controls-test', 'silent'),
    production: true,
  });
  url = `http://127.0.0.1:${await listen(server.http, 0)}/graphql`;
});

afterAll(async () => {
  await closeServer(server.http);
  await server.apollo.stop();
  await database.drop();
});

describe('exclude', () => {
  it('leaves the excluded products out and refills from the stored list’s deeper items, reading nothing else', async () => {
    commands.length = 0;
    const served = await list({ limit: 4, exclude: ['k2', 'h1', 'not-in-the-list'] });
    expect(served).toMatchObject({ strategy: 'PERSONALIZED', version: 5 });
    expect(served.items).toEqual(['k1', 'k3', 'k4', 'k5'].map(storedItem));
    expect(finds(COLLECTIONS.bestSellers)).toBe(0);
    expect(finds(COLLECTIONS.products)).toBe(0);
  });

  it('fills past the stored list with best sellers in stock, not in the cart and not removed from the history', async () => {
    const served = await list({ limit: 16, exclude: ['k2', 'h4'] });
    const kept = STORED.map(([id]) => id).filter((id) => id !== 'k2');
    // k8 first; h4 excluded, k1 already served, hOut out of stock, h6 in the cart, g4 removed;
    // h5 was removed but viewed again since; ghost would come next but the list is full
    expect(ids(served.items)).toEqual([...kept, 'k8', 'h5', 't1', 't2', 't3']);
    expect(served.items.slice(0, kept.length)).toEqual(kept.map(storedItem));
    // scored as list building scores a product only popularity brings: blend.popular × buyers / top
    expect(served.items.slice(kept.length)).toEqual(
      [
        ['k8', 20],
        ['h5', 11],
        ['t1', 10],
        ['t2', 9],
        ['t3', 8],
      ].map(([id, buyers]) => ({ product: { id }, score: Math.round(((blend.popular * Number(buyers)) / 20) * 1e6) / 1e6, reasons: ['POPULAR'] })),
    );
    const scores = served.items.map((item) => item.score);
    expect(scores).toEqual([...scores].sort((a, b) => b - a));
  });

  it('serves an empty exclude list as no control at all', async () => {
    commands.length = 0;
    expect((await list({ limit: 3, exclude: [] })).items).toEqual(['k1', 'k2', 'k3'].map(storedItem));
    expect(commands.filter((c) => c.commandName === 'find').map((c) => c.command['find'])).toEqual([COLLECTIONS.lists]);
  });
});

describe('categoryId', () => {
  it('keeps only products of the category, then the category’s best sellers, and is shorter when they run out', async () => {
    const served = await list({ limit: 10, categoryId: 'kitchen' });
    // seven kitchen items stored, then k8 of the kitchen's best sellers; k1 is served, kOut out of stock
    expect(ids(served.items)).toEqual(['k1', 'k2', 'k3', 'k4', 'k5', 'k6', 'k7', 'k8']);
    expect(served.items.every((item) => categoryOf(item.product.id) === 'kitchen')).toBe(true);
    expect(served.items.at(-1)).toEqual({ product: { id: 'k8' }, score: blend.category, reasons: ['TOP_IN_CATEGORY:kitchen'] });
  });

  it('picks from the best sellers of a user without a list, as the cold start serves them', async () => {
    const served = await list({ id: 'newcomer', limit: 3, categoryId: 'garden' }, user('newcomer'));
    expect(served).toMatchObject({ strategy: 'BEST_SELLERS', version: 0 });
    // g4 from the overall best sellers; g3 from the garden's (the newcomer removed nothing)
    expect(served.items).toEqual([
      { product: { id: 'g4' }, score: 12, reasons: ['POPULAR'] },
      { product: { id: 'g3' }, score: 5, reasons: ['TOP_IN_CATEGORY:garden'] },
    ]);
  });
});

describe('maxPerCategory', () => {
  const perCategory = (items: readonly { product: { id: string } }[]) => {
    const counts = new Map<string, number>();
    for (const id of ids(items)) counts.set(categoryOf(id)!, (counts.get(categoryOf(id)!) ?? 0) + 1);
    return Object.fromEntries(counts);
  };

  it('holds the cap and keeps the list filled to the limit, from deeper items and then best sellers', async () => {
    const plain = await list({ limit: 8 });
    expect(perCategory(plain.items)).toEqual({ kitchen: 5, home: 2, garden: 1 });
    const capped = await list({ limit: 8, max: 2 });
    // kitchen, home and garden are full after the stored list; of the best sellers only toys fit
    expect(ids(capped.items)).toEqual(['k1', 'k2', 'h1', 'h2', 'g1', 'g2', 't1', 't2']);
    expect(perCategory(capped.items)).toEqual({ kitchen: 2, home: 2, garden: 2, toys: 2 });
  });

  it('reads the best sellers’ catalog entries a few at a time, as many as the list still misses', async () => {
    commands.length = 0;
    const capped = await list({ limit: 9, max: 2 });
    // after the stored six, the first ten best sellers give t1 and t2 (toys then at the cap); x1 is in the next ten
    expect(ids(capped.items)).toEqual(['k1', 'k2', 'h1', 'h2', 'g1', 'g2', 't1', 't2', 'x1']);
    // the stored items' categories, then two chunks of best sellers: not all 26 of them
    const products = commands.filter((c) => c.commandName === 'find' && c.command['find'] === COLLECTIONS.products);
    expect(products.map((c) => (c.command['filter'] as { _id: { $in: string[] } })._id.$in.length)).toEqual([STORED.length, 10, 10]);
  });

  it('combines with exclude and categoryId', async () => {
    const served = await list({ limit: 3, max: 3, categoryId: 'kitchen', exclude: ['k1'] });
    expect(ids(served.items)).toEqual(['k2', 'k3', 'k4']);
  });

  it('takes the same controls on User.recommendations through entity resolution', async () => {
    const result = await gql(
      `query ($r: [_Any!]!) { _entities(representations: $r) { ... on User { id recommendations(limit: 2, categoryId: "garden", exclude: ["g1"]) { items { product { id } } } } } }`,
      {
        r: [
          { __typename: 'User', id: 'alice' },
          { __typename: 'User', id: 'bob' },
        ],
      },
      service,
    );
    expect(result.errors).toBeUndefined();
    expect(result.data?.['_entities']).toEqual([
      // alice: g2 stored; g4 of the garden's best sellers is removed from her history, g3 fills
      { id: 'alice', recommendations: { items: [{ product: { id: 'g2' } }, { product: { id: 'g3' } }] } },
      // bob: g3 stored, then g4 (bob removed nothing)
      { id: 'bob', recommendations: { items: [{ product: { id: 'g3' } }, { product: { id: 'g4' } }] } },
    ]);
  });
});

describe('bad input', () => {
  const codeOf = (result: { errors?: readonly { message: string; extensions?: Record<string, unknown> }[] }) => result.errors?.[0]?.extensions?.['code'];

  it('refuses too many excludes, a bad id, and a cap below 1 or above the limit with BAD_USER_INPUT, before MongoDB is asked', async () => {
    const cases: [Record<string, unknown>, RegExp][] = [
      [{ exclude: Array.from({ length: 101 }, (_, i) => `p${i}`) }, /exclude may hold at most 100 ids; got 101/],
      [{ exclude: ['k1', 'new\nline'] }, /exclude\[1\] must be 1-128 printable characters/],
      [{ exclude: ['x'.repeat(129)] }, /exclude\[0\] must be/],
      [{ categoryId: '' }, /categoryId must be/],
      [{ limit: 5, max: 0 }, /maxPerCategory must be from 1 to limit \(5\); got 0/],
      [{ limit: 5, max: 6 }, /maxPerCategory must be from 1 to limit \(5\); got 6/],
      [{ limit: 0, max: 1 }, /maxPerCategory must be from 1 to limit \(0\)/],
    ];
    commands.length = 0;
    for (const [variables, message] of cases) {
      const result = await gql(LIST, { id: 'alice', ...variables });
      expect(codeOf(result), JSON.stringify(variables)).toBe('BAD_USER_INPUT');
      expect(result.errors?.[0]?.message).toMatch(message);
      expect(result.data ?? null).toBeNull();
    }
    const entity = await gql(
      `{ _entities(representations: [{ __typename: "User", id: "alice" }]) { ... on User { recommendations(limit: 2, maxPerCategory: 3) { version } } } }`,
      {},
      service,
    );
    expect(codeOf(entity)).toBe('BAD_USER_INPUT');
    // nothing was read, let alone written
    expect(commands).toHaveLength(0);
    // 100 excludes are fine
    expect((await list({ limit: 2, exclude: Array.from({ length: 100 }, (_, i) => `p${i}`) })).items).toEqual(['k1', 'k2'].map(storedItem));
  });
});

describe('ControlledList and leftOutFor', () => {
  const item = (productId: string, score = 1): RecommendationItem => ({ productId, score, reasons: [] });

  it('takes candidates in order, once each, as the controls allow, until full', () => {
    const served = new ControlledList({ exclude: new Set(['b']), categoryId: undefined, maxPerCategory: 1 }, 3);
    expect(served.offer(item('a'), 'x')).toBe(true);
    expect(served.offer(item('b'), 'y')).toBe(false); // excluded
    expect(served.offer(item('c'), 'x')).toBe(false); // x is at its cap
    expect(served.offer(item('d'), undefined)).toBe(true); // no category: not capped
    expect(served.offer(item('e'), undefined)).toBe(true);
    expect(served.full).toBe(true);
    expect(served.offer(item('f'), 'z')).toBe(false);
    expect(served.items.map((i) => i.productId)).toEqual(['a', 'd', 'e']);
    expect(served.hasSeen('c')).toBe(true);
    const kitchen = new ControlledList({ exclude: new Set(), categoryId: 'kitchen', maxPerCategory: undefined }, 5);
    expect(kitchen.offer(item('a'), 'kitchen')).toBe(true);
    expect(kitchen.offer(item('a'), 'kitchen')).toBe(false); // offered again
    expect(kitchen.offer(item('b'), undefined)).toBe(false);
    expect(kitchen.offer(item('c'), 'home')).toBe(false);
    expect(kitchen.items).toHaveLength(1);
  });

  it('leaves out what is in the cart and what was removed from the history with nothing since', () => {
    expect([...leftOutFor(aliceState, now, DEFAULT_ENGINE_CONFIG)].sort()).toEqual(['g4', 'h6']);
    // taken out of the cart afterwards: no longer left out
    const outOfCart: UserState = { ...aliceState, events: [['e5', 'h6', 'R', now - 1_000, ''], ...ALICE_EVENTS] };
    expect([...leftOutFor(outOfCart, now, DEFAULT_ENGINE_CONFIG)]).toEqual(['g4']);
    expect(leftOutFor(undefined, now, DEFAULT_ENGINE_CONFIG).size).toBe(0);
  });
});
