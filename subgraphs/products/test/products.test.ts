import { join } from 'node:path';
import type { CommandStartedEvent } from 'mongodb';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { postGraphQL, TEST_JWT_SECRET, testDatabase, type TestDatabase } from '@recs/devkit';
import { closeServer, createLogger, IDENTITY_HEADER, signInternalIdentity, type Identity, listen } from '@recs/shared';
import { catalogFromOnlineRetail } from '../catalog/onlineRetail.ts';
import { createProductsServer, type ProductsServer } from '../server.ts';
import { ProductStore } from '../store.ts';

const admin: Identity = { kind: 'authenticated', subject: 'ops', role: 'admin' };
const shopper: Identity = { kind: 'authenticated', subject: 'u1', role: 'user' };

let database: TestDatabase;
let server: ProductsServer;
let store: ProductStore;
let url: string;
const commands: CommandStartedEvent[] = [];

async function gql(query: string, variables: Record<string, unknown> = {}, identity?: Identity) {
  const headers = identity === undefined ? {} : { [IDENTITY_HEADER]: await signInternalIdentity(identity, TEST_JWT_SECRET, query) };
  return postGraphQL(url, query, variables, headers);
}

const UPSERT = `mutation ($products: [ProductInput!]!) { upsertProducts(products: $products) { created updated unchanged } }`;

beforeAll(async () => {
  database = await testDatabase('products', { monitorCommands: true });
  database.client.on('commandStarted', (event) => commands.push(event));
  store = new ProductStore(database.db);
  server = await createProductsServer({
    store,
    jwtSecret: TEST_JWT_SECRET,
    logger: createLogger('products-test', 'silent'),
    production: true,
  });
  url = `http://127.0.0.1:${await listen(server.http, 0)}/graphql`;
});

afterAll(async () => {
  await closeServer(server.http);
  await server.apollo.stop();
  await database.drop();
});

beforeEach(async () => {
  await database.db.collection('products').deleteMany({});
  await database.db.collection('categories').deleteMany({});
  // written behind the store's back: as a catalog change message would, empty its caches
  store.invalidate();
});

describe('upsertProducts', () => {
  it('is refused without a token and for non-admins', async () => {
    const products = [{ id: 'p1', name: 'Mug' }];
    expect((await gql(UPSERT, { products })).errors?.[0]?.extensions?.['code']).toBe('UNAUTHENTICATED');
    expect((await gql(UPSERT, { products }, shopper)).errors?.[0]?.extensions?.['code']).toBe('FORBIDDEN');
    expect(await database.db.collection('products').countDocuments()).toBe(0);
  });

  it('creates, updates and leaves unchanged products, and creates their categories', async () => {
    const first = await gql(UPSERT, { products: [{ id: 'p1', name: 'Mug', categoryId: 'kitchen', categoryName: 'Kitchen', price: 3 }] }, admin);
    expect(first.data?.['upsertProducts']).toEqual({ created: 1, updated: 0, unchanged: 0 });
    const second = await gql(
      UPSERT,
      {
        products: [
          { id: 'p1', name: 'Mug', categoryId: 'kitchen', categoryName: 'Kitchen', price: 3 },
          { id: 'p2', name: 'Bowl', categoryId: 'kitchen', price: 4.5 },
        ],
      },
      admin,
    );
    expect(second.data?.['upsertProducts']).toEqual({ created: 1, updated: 0, unchanged: 1 });
    const third = await gql(UPSERT, { products: [{ id: 'p2', name: 'Big bowl', categoryId: 'kitchen' }] }, admin);
    expect(third.data?.['upsertProducts']).toEqual({ created: 0, updated: 1, unchanged: 0 });
    const read = await gql(`{ product(id: "p2") { id name price currency inStock category { id name } } categories { id name } }`);
    expect(read.data).toEqual({
      product: { id: 'p2', name: 'Big bowl', price: null, currency: 'GBP', inStock: true, category: { id: 'kitchen', name: 'Kitchen' } },
      categories: [{ id: 'kitchen', name: 'Kitchen' }],
    });
  });

  it('rejects the whole call when one product is invalid, naming it, and stores nothing', async () => {
    const result = await gql(
      UPSERT,
      {
        products: [
          { id: 'ok', name: 'Fine' },
          { id: 'bad', name: 'Bad', price: -2 },
        ],
      },
      admin,
    );
    expect(result.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', index: 1, field: 'price' });
    expect(result.errors?.[0]?.message).toBe('products[1].price: must be a number from 0 to 10000000');
    expect(await database.db.collection('products').countDocuments()).toBe(0);
  });
});

describe('products', () => {
  beforeEach(async () => {
    const products = Array.from({ length: 25 }, (_, i) => ({
      id: `p${String(i).padStart(2, '0')}`,
      name: i % 2 === 0 ? `Red mug ${i}` : `Blue plate ${i}`,
      categoryId: i % 2 === 0 ? 'mugs' : 'plates',
    }));
    await gql(UPSERT, { products }, admin);
  });

  it('pages through a filtered list with cursors and a total count', async () => {
    const query = `query ($after: String) { products(categoryId: "mugs", first: 5, after: $after) {
      totalCount edges { cursor node { id } } pageInfo { hasNextPage hasPreviousPage endCursor } } }`;
    const seen: string[] = [];
    let after: string | null = null;
    for (let page = 0; page < 3; page++) {
      const result = await gql(query, { after });
      const connection = result.data?.['products'];
      expect(connection.totalCount).toBe(13);
      seen.push(...connection.edges.map((e: { node: { id: string } }) => e.node.id));
      expect(connection.pageInfo.hasNextPage).toBe(page < 2);
      expect(connection.pageInfo.hasPreviousPage).toBe(page > 0);
      after = connection.pageInfo.endCursor;
    }
    expect(seen).toEqual(Array.from({ length: 13 }, (_, i) => `p${String(i * 2).padStart(2, '0')}`));
  });

  it('searches words of the name case-insensitively and picks by ids', async () => {
    const byName = await gql(`{ products(search: "BLUE  plate 1", first: 50) { totalCount edges { node { id } } } }`);
    expect(byName.data?.['products'].edges.map((e: { node: { id: string } }) => e.node.id)).toEqual(['p01', 'p11', 'p13', 'p15', 'p17', 'p19', 'p21']);
    const byIds = await gql(`{ products(ids: ["p03", "p00", "nope"]) { totalCount edges { node { id } } } }`);
    expect(byIds.data?.['products']).toEqual({ totalCount: 2, edges: [{ node: { id: 'p00' } }, { node: { id: 'p03' } }] });
  });

  it('refuses a page size above 100 and a forged cursor', async () => {
    expect((await gql(`{ products(first: 101) { totalCount } }`)).errors?.[0]?.extensions?.['code']).toBe('BAD_USER_INPUT');
    expect((await gql(`{ products(after: "not a cursor!") { totalCount } }`)).errors?.[0]?.extensions?.['code']).toBe('BAD_USER_INPUT');
  });
});

describe('entity resolution', () => {
  it('resolves 50 product references with one MongoDB query', async () => {
    const products = Array.from({ length: 50 }, (_, i) => ({ id: `e${i}`, name: `Product ${i}`, categoryId: `c${i % 3}` }));
    await gql(UPSERT, { products }, admin);
    commands.length = 0;
    const result = await gql(`query ($representations: [_Any!]!) { _entities(representations: $representations) { ... on Product { id name } } }`, {
      representations: products.map((p) => ({ __typename: 'Product', id: p.id })),
    });
    expect(result.errors).toBeUndefined();
    expect((result.data!['_entities'] as { id: string }[]).map((p) => p.id)).toEqual(products.map((p) => p.id));
    const finds = commands.filter((c) => c.commandName === 'find');
    expect(finds).toHaveLength(1);
    expect(finds[0]!.command['find']).toBe('products');
  });

  it('batches the categories of a page into one more query', async () => {
    const products = Array.from({ length: 20 }, (_, i) => ({ id: `c${i}`, name: `Product ${i}`, categoryId: `cat${i % 4}` }));
    await gql(UPSERT, { products }, admin);
    commands.length = 0;
    await gql(`{ products(first: 20) { edges { node { category { name } } } } }`);
    expect(commands.filter((c) => c.commandName === 'find' && c.command['find'] === 'categories')).toHaveLength(1);
  });
});

describe('Online Retail catalog', () => {
  it('keeps real products only, names them by their most frequent description, prices them at the median, and categorizes them', async () => {
    const products = await catalogFromOnlineRetail(join(import.meta.dirname, 'fixtures/retail-sample.csv'));
    expect(products.map((p) => p.id)).toEqual(['22086', '22423', '22960', '85123A']);
    const heart = products.find((p) => p.id === '85123A');
    expect(heart).toMatchObject({ name: 'WHITE HANGING HEART T-LIGHT HOLDER', price: 2.95, currency: 'GBP', categoryId: 'candles-lights' });
    expect(products.find((p) => p.id === '22086')).toMatchObject({ name: "PAPER CHAIN KIT 50'S CHRISTMAS", categoryId: 'christmas' });
    expect(products.find((p) => p.id === '22423')?.categoryId).toBe('kitchen-dining');
  });
});

describe('entity cache', () => {
  it('serves repeated lookups from memory and forgets them when the catalog changes', async () => {
    await gql(UPSERT, { products: [{ id: 'k1', name: 'Kettle', categoryId: 'kitchen' }] }, admin);
    const lookup = `{ _entities(representations: [{ __typename: "Product", id: "k1" }]) { ... on Product { name } } }`;
    commands.length = 0;
    await gql(lookup);
    await gql(lookup);
    expect(commands.filter((c) => c.commandName === 'find' && c.command['find'] === 'products')).toHaveLength(1);
    await gql(UPSERT, { products: [{ id: 'k1', name: 'Steel kettle', categoryId: 'kitchen' }] }, admin);
    expect((await gql(lookup)).data?.['_entities']).toEqual([{ name: 'Steel kettle' }]);
  });
});

describe('page cache', () => {
  const pageQueries = () =>
    commands.filter((c) => (c.commandName === 'find' || c.commandName === 'aggregate') && c.command[c.commandName] === 'products').length;

  it('serves a repeated page from memory, a different one from MongoDB, and forgets them all when the catalog changes', async () => {
    await gql(
      UPSERT,
      {
        products: [
          { id: 'k1', name: 'Kettle', categoryId: 'kitchen' },
          { id: 'k2', name: 'Teapot', categoryId: 'kitchen' },
        ],
      },
      admin,
    );
    const page = `query ($c: ID, $q: String) { products(categoryId: $c, search: $q, first: 1) { totalCount edges { node { id name } } pageInfo { hasNextPage } } }`;
    commands.length = 0;
    const first = await gql(page, { c: 'kitchen' });
    const read = pageQueries();
    expect(read).toBeGreaterThan(0);
    expect(await gql(page, { c: 'kitchen' })).toEqual(first);
    expect(pageQueries()).toBe(read);
    // another filter is another page
    expect((await gql(page, { c: 'kitchen', q: 'tea' })).data).toEqual({
      products: { totalCount: 1, edges: [{ node: { id: 'k2', name: 'Teapot' } }], pageInfo: { hasNextPage: false } },
    });
    expect(pageQueries()).toBeGreaterThan(read);
    await gql(UPSERT, { products: [{ id: 'k0', name: 'Bread bin', categoryId: 'kitchen' }] }, admin);
    expect((await gql(page, { c: 'kitchen' })).data).toEqual({
      products: { totalCount: 3, edges: [{ node: { id: 'k0', name: 'Bread bin' } }], pageInfo: { hasNextPage: true } },
    });
  });
});

describe('id arguments', () => {
  const codeOf = (result: { errors?: readonly { extensions?: Record<string, unknown> }[] }) => result.errors?.[0]?.extensions?.['code'];
  const productFinds = () => commands.filter((c) => c.commandName === 'find' && c.command['find'] === 'products').length;

  it('refuses an over-long or control-character product id before it reaches MongoDB or the cache', async () => {
    store.invalidate();
    commands.length = 0;
    for (const id of ['x'.repeat(900_000), 'x'.repeat(129), 'a\u0000b', 'tab\there', '', ' padded']) {
      const result = await gql(`query ($id: ID!) { product(id: $id) { id } }`, { id });
      expect(codeOf(result)).toBe('BAD_USER_INPUT');
      expect(result.data?.['product'] ?? null).toBeNull();
    }
    expect(productFinds()).toBe(0);
    expect(store.cacheStats()).toEqual({ entries: 0, bytes: 0 });
    // a valid unknown id is a null product, remembered at the size of its key
    expect((await gql(`{ product(id: "${'y'.repeat(128)}") { id } }`)).data).toEqual({ product: null });
    expect(store.cacheStats().entries).toBe(1);
    expect(store.cacheStats().bytes).toBeLessThan(1_000);
  });

  it('refuses invalid ids, more than 100 ids, an invalid category and an over-long cursor in products', async () => {
    commands.length = 0;
    const page = `query ($ids: [ID!], $c: ID, $after: String) { products(ids: $ids, categoryId: $c, after: $after) { totalCount } }`;
    expect(codeOf(await gql(page, { ids: Array.from({ length: 101 }, (_, i) => `p${i}`) }))).toBe('BAD_USER_INPUT');
    expect(codeOf(await gql(page, { ids: ['ok', 'x'.repeat(100_000)] }))).toBe('BAD_USER_INPUT');
    expect(codeOf(await gql(page, { c: 'x'.repeat(129) }))).toBe('BAD_USER_INPUT');
    expect(codeOf(await gql(page, { c: 'new\nline' }))).toBe('BAD_USER_INPUT');
    expect(codeOf(await gql(page, { after: Buffer.from('x'.repeat(100_000)).toString('base64url') }))).toBe('BAD_USER_INPUT');
    expect(codeOf(await gql(page, { after: Buffer.from('a\u0001b').toString('base64url') }))).toBe('BAD_USER_INPUT');
    expect(productFinds()).toBe(0);
    expect((await gql(page, { ids: Array.from({ length: 100 }, (_, i) => `p${i}`) })).data).toEqual({ products: { totalCount: 0 } });
  });

  it('names no product for an entity reference that is not an id, and caches nothing for it', async () => {
    store.invalidate();
    const lookup = `query ($r: [_Any!]!) { _entities(representations: $r) { ... on Product { id } } }`;
    const result = await gql(lookup, { r: [{ __typename: 'Product', id: 'z'.repeat(100_000) }] });
    expect(result.data?.['_entities']).toEqual([null]);
    expect(store.cacheStats().entries).toBe(0);
  });
});
