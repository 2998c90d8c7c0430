import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { nextResult, startSystem, type System } from '../src/system.ts';

/**
 * The product fields a list shows (name, price, currency, image, stock, category) come with the
 * list from the recommendations subgraph (`@provides`), read from its cached catalog: a page of
 * recommendations is one fetch, whether the products subgraph answers or not, and a catalog
 * change reaches what it serves.
 */
let system: System;
let backend: string;
let admin: string;

const PRODUCTS = [
  { id: 'p1', name: 'Jam jar', price: 2.5, categoryId: 'pantry', categoryName: 'Pantry', imageUrl: 'https://img.example/p1.jpg' },
  { id: 'p2', name: 'Bread bin', price: 18, categoryId: 'pantry', categoryName: 'Pantry' },
  { id: 'p3', name: 'Flour tin', categoryId: 'pantry', categoryName: 'Pantry', inStock: true },
];

const LIST = `query ($u: ID!) { recommendations(userId: $u) { items { product { id name price currency imageUrl inStock category { id name } } } } }`;

interface Listed {
  recommendations: {
    items: {
      product: {
        id: string;
        name: string;
        price: number | null;
        currency: string;
        imageUrl: string | null;
        inStock: boolean;
        category: { id: string; name: string } | null;
      };
    }[];
  };
}

async function purchase(userId: string, productIds: string[]): Promise<void> {
  const e = productIds.map((productId) => ({ eventId: `pv-${userId}-${productId}`, userId, productId, type: 'PURCHASE' }));
  const { data } = await system.query(`mutation ($e: [TrackEventInput!]!) { trackEvents(inputs: $e) { accepted } }`, { e }, backend);
  expect(data).toEqual({ trackEvents: { accepted: e.length } });
}

beforeAll(async () => {
  system = await startSystem({ label: 'provides' });
  backend = await system.token('shop-backend', 'service');
  admin = await system.token('ops', 'admin');
  const { errors } = await system.query(`mutation ($p: [ProductInput!]!) { upsertProducts(products: $p) { created } }`, { p: PRODUCTS }, admin);
  expect(errors).toBeUndefined();
  await system.catalog.load();
  await purchase('o1', ['p1', 'p2', 'p3']);
  await purchase('shopper', ['p1']);
  const listed = nextResult<{ recommendationsChanged: { items: unknown[] } }>(
    system.wsClient(backend),
    `subscription { recommendationsChanged(userId: "shopper", sinceVersion: 0) { items { product { id } } } }`,
    {},
    (data) => data.recommendationsChanged.items.length === 3,
  );
  expect((await listed.result).errors).toBeUndefined();
});

afterAll(async () => {
  await system?.stop();
});

describe('product fields served with a list', () => {
  it('are the catalog’s, and answer while the products subgraph is down; a field not provided still comes from it', async () => {
    const expected = {
      p1: {
        id: 'p1',
        name: 'Jam jar',
        price: 2.5,
        currency: 'GBP',
        imageUrl: 'https://img.example/p1.jpg',
        inStock: true,
        category: { id: 'pantry', name: 'Pantry' },
      },
      p2: { id: 'p2', name: 'Bread bin', price: 18, currency: 'GBP', imageUrl: null, inStock: true, category: { id: 'pantry', name: 'Pantry' } },
      p3: { id: 'p3', name: 'Flour tin', price: null, currency: 'GBP', imageUrl: null, inStock: true, category: { id: 'pantry', name: 'Pantry' } },
    };
    // the products subgraph's own answer for the same products
    const { data: direct } = await system.query<{ products: { edges: { node: object }[] } }>(
      `query { products(ids: ["p1", "p2", "p3"]) { edges { node { id name price currency imageUrl inStock category { id name } } } } }`,
      {},
      backend,
    );
    expect(direct!.products.edges.map((edge) => edge.node)).toEqual([expected.p1, expected.p2, expected.p3]);

    await system.subgraph('products').stop();
    try {
      const { data, errors } = await system.query<Listed>(LIST, { u: 'shopper' }, backend);
      expect(errors).toBeUndefined();
      const items = data!.recommendations.items.map((item) => item.product);
      expect(items.map((p) => p.id).sort()).toEqual(['p1', 'p2', 'p3']);
      for (const product of items) expect(product).toEqual(expected[product.id as keyof typeof expected]);
      // description is the products subgraph's alone: asking for it needs that subgraph
      const withDescription = await system.query(
        `query ($u: ID!) { recommendations(userId: $u) { items { product { description } } } }`,
        { u: 'shopper' },
        backend,
      );
      expect(withDescription.errors?.length).toBeGreaterThan(0);
    } finally {
      await system.subgraph('products').start();
    }
  });

  it('follow a catalog change: a renamed product and category are served renamed', async () => {
    const { errors } = await system.query(
      `mutation ($p: [ProductInput!]!) { upsertProducts(products: $p) { updated } }`,
      { p: [{ ...PRODUCTS[1]!, name: 'Bread crock', categoryName: 'Larder' }] },
      admin,
    );
    expect(errors).toBeUndefined();
    // the change message reaches the recommendations subgraph on its own connection
    await expect
      .poll(
        async () => {
          const { data } = await system.query<Listed>(LIST, { u: 'shopper' }, backend);
          return data?.recommendations.items.find((item) => item.product.id === 'p2')?.product;
        },
        { timeout: 10_000, interval: 50 },
      )
      .toMatchObject({ name: 'Bread crock', category: { id: 'pantry', name: 'Larder' } });
  });
});
