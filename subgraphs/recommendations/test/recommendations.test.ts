import type { CommandStartedEvent } from 'mongodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { postGraphQL, TEST_JWT_SECRET, testDatabase, type TestDatabase } from '@recs/devkit';
import { dayOf, DEFAULT_ENGINE_CONFIG, rankBestSellers } from '@recs/engine';
import {
  closeServer,
  COLLECTIONS,
  createLogger,
  encodeRows,
  IDENTITY_HEADER,
  neighboursToDoc,
  signInternalIdentity,
  toBestSellersDoc,
  toListDoc,
  type Identity,
  listen,
} from '@recs/shared';
import { createRecommendationsServer, type RecommendationsServer } from '../server.ts';
import { RecommendationStore } from '../store.ts';

const alice: Identity = { kind: 'authenticated', subject: 'alice', role: 'user' };
const today = dayOf(Date.now());
let database: TestDatabase;
let server: RecommendationsServer;
let store: RecommendationStore;
let url: string;
const commands: CommandStartedEvent[] = [];

async function gql(query: string, variables: Record<string, unknown> = {}, identity?: Identity) {
  const headers = identity === undefined ? {} : { [IDENTITY_HEADER]: await signInternalIdentity(identity, TEST_JWT_SECRET, query) };
  return postGraphQL(url, query, variables, headers);
}

beforeAll(async () => {
  database = await testDatabase('recommendations', { monitorCommands: true });
  database.client.on('commandStarted', (event) => commands.push(event));
  const db = database.db;
  await db.collection(COLLECTIONS.lists).insertOne(
    toListDoc({
      userId: 'alice',
      strategy: 'PERSONALIZED',
      generatedAt: Date.parse('2026-01-01T00:00:00Z'),
      version: 3,
      items: [
        { productId: 'teapot', score: 1.5, reasons: ['ALSO_BOUGHT:mug', 'TOP_IN_CATEGORY:kitchen'] },
        { productId: 'mug', score: 1, reasons: ['BUY_AGAIN'] },
        { productId: 'lamp', score: 0.2, reasons: ['POPULAR'] },
      ],
    }) as never,
  );
  await db.collection(COLLECTIONS.bestSellers).insertMany([
    toBestSellersDoc({
      categoryId: null,
      windowDays: 30,
      items: [
        ['lamp', 9],
        ['mug', 4],
      ],
      changedAt: Date.parse('2026-01-02T00:00:00Z'),
    }),
    toBestSellersDoc({ categoryId: 'kitchen', windowDays: 30, items: [['mug', 4]], changedAt: Date.parse('2026-01-02T00:00:00Z') }),
  ] as never[]);
  await db.collection(COLLECTIONS.cooc).insertMany([
    {
      _id: 'b:mug',
      k: 'b',
      p: 'mug',
      n: 5,
      c: '',
      top: neighboursToDoc([
        ['teapot', 12.5],
        ['cup', 3],
      ]),
    },
    { _id: 'v:mug', k: 'v', p: 'mug', n: 2, c: '', top: neighboursToDoc([['cup', 1.25]]) },
    { _id: 'b:lamp', k: 'b', p: 'lamp', n: 1, c: '', top: neighboursToDoc([['candle', 2]]) },
  ] as never[]);
  // products and distinct buyers per day, for windows that are not materialized
  await db
    .collection(COLLECTIONS.products)
    .insertMany(
      ['mug', 'teapot', 'lamp'].map((id) => ({ _id: id, name: id, categoryId: id === 'lamp' ? 'home' : 'kitchen', currency: 'GBP', inStock: true })) as never[],
    );
  await db.collection(COLLECTIONS.buyerDays).insertMany([
    {
      _id: 'mug',
      d: encodeRows([
        [today, 1],
        [today - 5, 2],
      ]),
    },
    { _id: 'teapot', d: encodeRows([[today - 1, 1]]) },
    { _id: 'lamp', d: encodeRows([[today - 20, 7]]) },
  ] as never[]);
  server = await createRecommendationsServer({
    store: (store = new RecommendationStore(database.db, [30])),
    engine: DEFAULT_ENGINE_CONFIG,
    jwtSecret: TEST_JWT_SECRET,
    logger: createLogger('recommendations-test', 'silent'),
    production: true,
  });
  url = `http://127.0.0.1:${await listen(server.http, 0)}/graphql`;
});

afterAll(async () => {
  await closeServer(server.http);
  await server.apollo.stop();
  await database.drop();
});

const LIST = `query ($id: ID!, $limit: Int) { recommendations(userId: $id, limit: $limit) {
  userId strategy version generatedAt items { product { id } score reasons } } }`;

describe('recommendations', () => {
  it('serves the user’s stored list, cut to the limit', async () => {
    const result = await gql(LIST, { id: 'alice', limit: 2 }, alice);
    expect(result.data?.['recommendations']).toEqual({
      userId: 'alice',
      strategy: 'PERSONALIZED',
      version: 3,
      generatedAt: '2026-01-01T00:00:00.000Z',
      items: [
        { product: { id: 'teapot' }, score: 1.5, reasons: ['ALSO_BOUGHT:mug', 'TOP_IN_CATEGORY:kitchen'] },
        { product: { id: 'mug' }, score: 1, reasons: ['BUY_AGAIN'] },
      ],
    });
  });

  it('gives a user without a list the overall best sellers, marked BEST_SELLERS', async () => {
    const result = await gql(LIST, { id: 'newcomer' }, { kind: 'authenticated', subject: 'newcomer', role: 'user' });
    expect(result.data?.['recommendations']).toMatchObject({
      strategy: 'BEST_SELLERS',
      version: 0,
      items: [
        { product: { id: 'lamp' }, score: 9, reasons: ['POPULAR'] },
        { product: { id: 'mug' }, score: 4, reasons: ['POPULAR'] },
      ],
    });
  });

  it('lets users read only their own list', async () => {
    expect((await gql(LIST, { id: 'alice' })).errors?.[0]?.extensions?.['code']).toBe('UNAUTHENTICATED');
    expect((await gql(LIST, { id: 'alice' }, { kind: 'authenticated', subject: 'bob', role: 'user' })).errors?.[0]?.extensions?.['code']).toBe('FORBIDDEN');
    expect((await gql(LIST, { id: 'alice', limit: 51 }, alice)).errors?.[0]?.extensions?.['code']).toBe('BAD_USER_INPUT');
  });
});

describe('best sellers and similar products', () => {
  it('serves materialized windows and computes any other window from distinct buyers per day', async () => {
    const result = await gql(`{
      all: bestSellers { product { id } rank score }
      kitchen: bestSellers(categoryId: "kitchen") { product { id } score }
      lastWeek: bestSellers(windowDays: 7) { product { id } rank score }
      snapshot: bestSellersSnapshot(categoryId: "kitchen") { categoryId changedAt items { product { id } } }
    }`);
    expect(result.data).toEqual({
      all: [
        { product: { id: 'lamp' }, rank: 1, score: 9 },
        { product: { id: 'mug' }, rank: 2, score: 4 },
      ],
      kitchen: [{ product: { id: 'mug' }, score: 4 }],
      // days today-6..today: mug 1 + 2, teapot 1; lamp's buyers are 20 days old
      lastWeek: [
        { product: { id: 'mug' }, rank: 1, score: 3 },
        { product: { id: 'teapot' }, rank: 2, score: 1 },
      ],
      snapshot: { categoryId: 'kitchen', changedAt: '2026-01-02T00:00:00.000Z', items: [{ product: { id: 'mug' } }] },
    });
    expect((await gql(`{ bestSellers(windowDays: 0) { rank } }`)).errors?.[0]?.extensions?.['code']).toBe('BAD_USER_INPUT');
  });

  it('answers similar products and the neighbours of many products with one query', async () => {
    const similar = await gql(`{ similarProducts(productId: "mug", kind: ALSO_BOUGHT, limit: 1) { product { id } rank score } }`);
    expect(similar.data?.['similarProducts']).toEqual([{ product: { id: 'teapot' }, rank: 1, score: 12.5 }]);
    commands.length = 0;
    const entities = await gql(
      `query ($r: [_Any!]!) { _entities(representations: $r) { ... on Product { id alsoBought { product { id } } alsoViewed { product { id } } } } }`,
      {
        r: [
          { __typename: 'Product', id: 'mug' },
          { __typename: 'Product', id: 'lamp' },
        ],
      },
    );
    expect(entities.data?.['_entities']).toEqual([
      { id: 'mug', alsoBought: [{ product: { id: 'teapot' } }, { product: { id: 'cup' } }], alsoViewed: [{ product: { id: 'cup' } }] },
      { id: 'lamp', alsoBought: [{ product: { id: 'candle' } }], alsoViewed: [] },
    ]);
    expect(commands.filter((c) => c.commandName === 'find' && c.command['find'] === COLLECTIONS.cooc)).toHaveLength(1);
  });
});

describe('bounded work per request', () => {
  const finds = (collection: string) => commands.filter((c) => c.commandName === 'find' && c.command['find'] === collection).length;
  const days = new Map([
    [
      'mug',
      new Map([
        [today, 1],
        [today - 5, 2],
      ]),
    ],
    ['teapot', new Map([[today - 1, 1]])],
    ['lamp', new Map([[today - 20, 7]])],
  ]);
  const expected = (windowDays: number, categoryId?: string) => {
    const ids = [...days.keys()].filter((id) => categoryId === undefined || (id === 'lamp' ? 'home' : 'kitchen') === categoryId);
    return rankBestSellers(ids, (id) => days.get(id), today, windowDays, 10).map(([id, score]) => ({ product: { id }, score }));
  };

  it('computes 30 aliased windows that are not materialized with one scan of the buyer days', async () => {
    // window 7 was computed above and 30 is materialized: 28 to compute, in two categories and overall
    const windows = Array.from({ length: 30 }, (_, i) => i + 2);
    const fields = windows.map((w) => `w${w}: bestSellers(windowDays: ${w}${w % 3 === 0 ? ', categoryId: "kitchen"' : ''}) { product { id } score }`);
    commands.length = 0;
    const scans = store.scans;
    const result = await gql(`{ ${fields.join(' ')} }`);
    expect(result.errors).toBeUndefined();
    expect(finds(COLLECTIONS.buyerDays)).toBe(1);
    expect(finds(COLLECTIONS.products)).toBe(1);
    expect(store.scans - scans).toBe(1);
    for (const w of [2, 3, 6, 21, 31]) expect(result.data?.[`w${w}`]).toEqual(expected(w, w % 3 === 0 ? 'kitchen' : undefined));
    // served from memory from now on
    commands.length = 0;
    expect((await gql(`{ ${fields.join(' ')} }`)).data).toEqual(result.data);
    expect(finds(COLLECTIONS.buyerDays)).toBe(0);
  });

  it('lets concurrent requests for the same windows share one computation', async () => {
    const query = `{ a: bestSellers(windowDays: 40, categoryId: "home") { product { id } score } b: bestSellers(windowDays: 41) { product { id } score } }`;
    commands.length = 0;
    const scans = store.scans;
    const results = await Promise.all(Array.from({ length: 10 }, () => gql(query)));
    // the first request's scan, and at most one more for every request that arrived while it ran
    expect(finds(COLLECTIONS.buyerDays)).toBeLessThanOrEqual(2);
    expect(store.scans - scans).toBe(finds(COLLECTIONS.buyerDays));
    for (const result of results) expect(result.data).toEqual({ a: expected(40, 'home'), b: expected(41) });
  });
});

describe('id arguments', () => {
  const codeOf = (result: { errors?: readonly { extensions?: Record<string, unknown> }[] }) => result.errors?.[0]?.extensions?.['code'];
  const invalid = ['x'.repeat(129), 'x'.repeat(100_000), 'a\u0000b', 'new\nline', '', ' padded'];

  it('refuses an invalid id in every argument with BAD_USER_INPUT, before MongoDB is asked', async () => {
    commands.length = 0;
    for (const id of invalid) {
      expect(codeOf(await gql(`query ($id: ID!) { recommendations(userId: $id) { userId } }`, { id }, alice))).toBe('BAD_USER_INPUT');
      expect(codeOf(await gql(`query ($id: ID) { bestSellers(categoryId: $id, windowDays: 12) { rank } }`, { id }))).toBe('BAD_USER_INPUT');
      expect(codeOf(await gql(`query ($id: ID) { bestSellersSnapshot(categoryId: $id) { changedAt } }`, { id }))).toBe('BAD_USER_INPUT');
      expect(codeOf(await gql(`query ($id: ID!) { similarProducts(productId: $id) { rank } }`, { id }))).toBe('BAD_USER_INPUT');
    }
    expect(commands.filter((c) => c.commandName === 'find')).toHaveLength(0);
  });
});
