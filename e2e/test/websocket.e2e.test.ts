import { once } from 'node:events';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deferred, TEST_JWT_SECRET } from '@recs/devkit';
import { signClientToken } from '@recs/shared';
import type { Client } from 'graphql-ws';
import { nextResult, startSystem, type System } from '../src/system.ts';

/**
 * The websocket as an outside tester used it: errors that closed the whole socket, a live widget
 * that went dead when a subgraph restarted, a connection that outlived its token, and no limits
 * on subscriptions, connections or documents.
 */
let system: System;
let storefront: string;

/** The gateway's TOO_MANY_CONNECTIONS: 1013 Try Again Later. */
const TOO_MANY_CONNECTIONS = 1013;

const CATALOG = [
  { id: 'mug', name: 'Enamel mug', categoryId: 'kitchen', categoryName: 'Kitchen & Dining', price: 4.95 },
  { id: 'teapot', name: 'Blue teapot', categoryId: 'kitchen', categoryName: 'Kitchen & Dining', price: 12.5 },
  { id: 'candle', name: 'Beeswax candle', categoryId: 'lights', categoryName: 'Candles & Lights', price: 3.2 },
  { id: 'lantern', name: 'Tin lantern', categoryId: 'lights', categoryName: 'Candles & Lights', price: 8 },
];

const LIVE_LIST = `subscription Live($user: ID!) {
  recommendationsChanged(userId: $user) { userId version items { product { id name category { name } } } }
}`;
const LIVE_BEST = `subscription { bestSellersChanged { changedAt items { rank product { id name } } } }`;
const TRACK = `mutation ($e: [TrackEventInput!]!) { trackEvents(inputs: $e) { accepted rejected { index code } } }`;

interface LiveList {
  recommendationsChanged: { userId: string; version: number; items: { product: { id: string; name: string } }[] };
}
type Result<T> = { data?: T | null; errors?: readonly { message: string; extensions?: Record<string, unknown> }[] };

/** Every message of one subscription, kept; `next(accept)` waits for one that satisfies `accept`. */
function record<T>(client: Client, query: string, variables: Record<string, unknown> = {}) {
  const results: Result<T>[] = [];
  const waiting = new Set<{ accept: (result: Result<T>) => boolean; resolve: (result: Result<T>) => void }>();
  const ended = deferred<unknown>();
  const dispose = client.subscribe<T>(
    { query, variables },
    {
      next: (value) => {
        const result = value as Result<T>;
        results.push(result);
        for (const waiter of [...waiting]) {
          if (waiter.accept(result)) {
            waiting.delete(waiter);
            waiter.resolve(result);
          }
        }
      },
      error: (error) => ended.resolve(error),
      complete: () => ended.resolve('complete'),
    },
  );
  return {
    results,
    ended: ended.promise,
    dispose,
    next(accept: (result: Result<T>) => boolean): Promise<Result<T>> {
      const seen = results.find(accept);
      if (seen !== undefined) return Promise.resolve(seen);
      return new Promise((resolve) => waiting.add({ accept, resolve }));
    },
  };
}

/** The close code of the client's socket, once it closes. */
function closeCode(client: Client): Promise<number> {
  const closed = deferred<number>();
  client.on('closed', (event) => closed.resolve((event as { code: number }).code));
  return closed.promise;
}

function connected(client: Client): Promise<void> {
  const done = deferred<void>();
  client.on('connected', () => done.resolve());
  return done.promise;
}

const views = (user: string, productIds: string[]) =>
  productIds.map((productId, i) => ({ eventId: `${user}-view-${productId}-${i}-${Date.now()}`, userId: user, productId, type: 'VIEW' }));
const purchases = (user: string, productIds: string[], minutesAgo: number) =>
  productIds.map((productId, i) => ({
    eventId: `${user}-${productId}-${minutesAgo}-${i}`,
    userId: user,
    productId,
    type: 'PURCHASE',
    occurredAt: new Date(Date.now() - minutesAgo * 60_000).toISOString(),
  }));

async function track(events: Record<string, unknown>[]): Promise<void> {
  const tracked = await system.query(TRACK, { e: events }, storefront);
  expect(tracked.data).toEqual({ trackEvents: { accepted: events.length, rejected: [] } });
}

/** Subscribes and resolves once the gateway has subscribed the change channel for it. */
async function subscribed<T>(client: Client, query: string, variables: Record<string, unknown> = {}, gateway = 0) {
  const ready = once(system.gateways[gateway]!.server.hub, 'subscribed');
  const stream = record<T>(client, query, variables);
  await ready;
  return stream;
}

beforeAll(async () => {
  system = await startSystem({ label: 'websocket' });
  storefront = await system.token('storefront', 'service');
  const admin = await system.token('ops', 'admin');
  const upsert = await system.query(`mutation ($p: [ProductInput!]!) { upsertProducts(products: $p) { created } }`, { p: CATALOG }, admin);
  expect(upsert.data).toEqual({ upsertProducts: { created: 4 } });
  await system.catalog.load();
  // shoppers who bought kitchen things together, and others who bought lights
  await track([...['a', 'b', 'c'].flatMap((u) => purchases(u, ['mug', 'teapot'], 120)), ...['x', 'y'].flatMap((u) => purchases(u, ['candle', 'lantern'], 90))]);
});

afterAll(async () => {
  await system?.stop();
});

describe('errors over the websocket', () => {
  it('answers an erroring query and an invalid mutation with errors, and the same client’s subscription keeps receiving changes', async () => {
    const client = system.wsClient(await system.token('shopper-1', 'user'));
    const closed = closeCode(client);
    const live = await subscribed<LiveList>(client, LIVE_LIST, { user: 'shopper-1' });

    const someoneElse = await nextResult(client, `{ user(id: "someone-else") { id } }`, {}).result;
    expect(someoneElse.errors?.[0]?.extensions?.['code']).toBe('FORBIDDEN');
    const invalid = await nextResult(
      client,
      `mutation { trackEvent(input: { userId: "shopper-1", productId: "mug", type: VIEW, occurredAt: "2999-01-01T00:00:00Z" }) { eventId } }`,
      {},
    ).result;
    expect(invalid.errors?.[0]?.extensions?.['code']).toBe('BAD_USER_INPUT');
    // a query that works, on the same socket, afterwards
    const fine = await nextResult<{ categories: { id: string }[] }>(client, `{ categories { id } }`, {}).result;
    expect(fine.data?.categories.map((c) => c.id).sort()).toEqual(['kitchen', 'lights']);

    await track(views('shopper-1', ['mug']));
    const pushed = await live.next((result) => result.data?.recommendationsChanged.userId === 'shopper-1');
    expect(pushed.errors).toBeUndefined();
    expect(live.results.every((result) => result.errors === undefined)).toBe(true);
    const race = await Promise.race([closed.then((code) => `closed ${code}`), Promise.resolve('open')]);
    expect(race).toBe('open');
  });

  it('refuses a subscription with bad variables, an unknown operation name or a bad id with coded errors, keeping the socket', async () => {
    const client = system.wsClient(await system.token('shopper-3', 'user'));
    const closed = closeCode(client);
    const codes = async (payload: { query: string; variables?: Record<string, unknown>; operationName?: string }) => {
      const answer = await new Promise<readonly { extensions?: Record<string, unknown> }[]>((resolve) => {
        client.subscribe(payload, {
          next: (value) => resolve(value.errors ?? []),
          error: (error) => resolve(Array.isArray(error) ? error : []),
          complete: () => undefined,
        });
      });
      return answer.map((error) => error.extensions?.['code']);
    };
    expect(await codes({ query: LIVE_LIST, variables: { user: null } })).toEqual(['BAD_USER_INPUT']);
    expect(await codes({ query: LIVE_LIST, variables: { user: 'shopper-3' }, operationName: 'Other' })).toEqual(['OPERATION_RESOLUTION_FAILURE']);
    expect(await codes({ query: `subscription { bestSellersChanged(categoryId: "${'x'.repeat(500)}") { changedAt } }` })).toEqual(['BAD_USER_INPUT']);
    expect(await codes({ query: `subscription { __typename }` })).toEqual(['GRAPHQL_VALIDATION_FAILED']);
    expect(await codes({ query: `subscription { bestSellersChanged {` })).toEqual(['GRAPHQL_PARSE_FAILED']);
    const race = await Promise.race([closed.then((code) => `closed ${code}`), Promise.resolve('open')]);
    expect(race).toBe('open');
  });
});

describe('a live widget through a subgraph restart', () => {
  it('keeps the subscription while products is down, sends no error, and delivers the retried result and the next change once it is back', async () => {
    const client = system.wsClient(await system.token('shopper-2', 'user'));
    // description is a field only the products subgraph serves (the list's others come with it)
    const described = `subscription Live($user: ID!) { recommendationsChanged(userId: $user) { userId version items { product { id name description } } } }`;
    const live = await subscribed<LiveList>(client, described, { user: 'shopper-2' });
    await track(views('shopper-2', ['mug']));
    const first = await live.next((result) => (result.data?.recommendationsChanged.items.length ?? 0) > 0);
    const v1 = first.data!.recommendationsChanged.version;

    const products = system.subgraph('products');
    await products.stop();
    const failed = once(system.gateways[0]!.server.hub, 'hydrationFailed');
    await track(views('shopper-2', ['candle']));
    await failed;
    await products.start();

    // the failed hydration is tried again: the change made while products was down arrives
    const retried = await live.next((result) => (result.data?.recommendationsChanged.version ?? 0) > v1);
    expect(retried.errors).toBeUndefined();
    const v2 = retried.data!.recommendationsChanged.version;
    expect(retried.data!.recommendationsChanged.items.every((item) => typeof item.product.name === 'string')).toBe(true);

    // and the next change, as usual
    await track(views('shopper-2', ['lantern', 'teapot']));
    const next = await live.next((result) => (result.data?.recommendationsChanged.version ?? 0) > v2);
    expect(next.errors).toBeUndefined();
    // nothing but good lists, ever
    expect(live.results.every((result) => result.errors === undefined && result.data != null)).toBe(true);
  });
});

describe('identity', () => {
  it('closes the socket with 4403 Forbidden when the token expires', async () => {
    const token = await signClientToken({ subject: 'brief', role: 'user', expiresIn: '2s' }, TEST_JWT_SECRET);
    const client = system.wsClient(token);
    const closed = closeCode(client);
    await connected(client);
    const live = record<LiveList>(client, LIVE_LIST, { user: 'brief' });
    expect(await closed).toBe(4403);
    expect(live.results.filter((result) => result.errors !== undefined)).toEqual([]);
  });
});

describe('limits', () => {
  it('refuses the subscription over the per-connection limit with RATE_LIMITED, while the others keep working', async () => {
    const limit = 5;
    const gateway = await system.addGateway({ MAX_SUBSCRIPTIONS_PER_CONNECTION: limit });
    const client = system.wsClient(undefined, gateway);
    const closed = closeCode(client);
    const streams = [];
    for (let i = 0; i < limit; i++) streams.push(await subscribed<{ bestSellersChanged: { changedAt: string } }>(client, LIVE_BEST, {}, gateway));

    const refused = await nextResult(client, LIVE_BEST, {}).result;
    expect(refused.errors?.[0]?.extensions?.['code']).toBe('RATE_LIMITED');
    expect(system.gateways[gateway]!.server.hub.stats().subscribers).toBe(limit);

    await track(purchases('limits-shopper', ['lantern'], 2));
    for (const stream of streams) {
      const pushed = await stream.next((result) => result.data != null);
      expect(pushed.errors).toBeUndefined();
    }

    // a completed subscription gives its place back
    streams[0]!.dispose();
    const again = await subscribed(client, LIVE_BEST, {}, gateway);
    expect(again.results).toEqual([]);
    const race = await Promise.race([closed.then((code) => `closed ${code}`), Promise.resolve('open')]);
    expect(race).toBe('open');
  });

  it('closes the connection over the per-identity limit with 1013 Try Again Later, and takes a new one once another has closed', async () => {
    const gateway = await system.addGateway({ MAX_CONNECTIONS_PER_IDENTITY: 3 });
    const token = await system.token('many-tabs', 'user');
    const tabs = Array.from({ length: 3 }, () => system.wsClient(token, gateway));
    await Promise.all(tabs.map(connected));
    const fourth = system.wsClient(token, gateway);
    expect(await closeCode(fourth)).toBe(TOO_MANY_CONNECTIONS);
    // another identity is not affected
    const other = system.wsClient(await system.token('one-tab', 'user'), gateway);
    await connected(other);

    // a client retries after 1013; the gateway may see the tab's close a moment after the client does
    await tabs[0]!.dispose();
    await connected(system.wsClient(token, gateway, { retryAttempts: 5, shouldRetry: (event) => (event as { code?: number }).code === TOO_MANY_CONNECTIONS }));
  });

  it('closes the connection over the per-IP limit with 1013', async () => {
    const gateway = await system.addGateway({ MAX_CONNECTIONS_PER_IP: 2 });
    const token = await system.token('ip-user', 'user');
    // listening from the start: graphql-ws clients do not replay 'connected'
    await Promise.all([connected(system.wsClient(undefined, gateway)), connected(system.wsClient(token, gateway))]);
    expect(await closeCode(system.wsClient(undefined, gateway))).toBe(TOO_MANY_CONNECTIONS);
  });

  it('closes the socket with 1009 on a message over 1 MiB', async () => {
    const client = system.wsClient();
    await connected(client);
    const closed = closeCode(client);
    client.subscribe(
      { query: `{ categories { id } }`, variables: { padding: 'x'.repeat(1_100_000) } },
      { next: () => undefined, error: () => undefined, complete: () => undefined },
    );
    expect(await closed).toBe(1009);
  });
});

describe('validation, as on HTTP', () => {
  const aliases = (n: number, field: string) => Array.from({ length: n }, (_, i) => `a${i}: ${field}`).join(' ');

  it('refuses a 40-alias subscription with the armor error, without subscribing', async () => {
    const client = system.wsClient();
    const before = system.gateways[0]!.server.hub.stats();
    const refused = await nextResult(client, `subscription { bestSellersChanged { items { ${aliases(40, 'rank')} } } }`, {}).result;
    expect(refused.errors?.[0]).toMatchObject({
      message: expect.stringContaining('Aliases limit of 30 exceeded'),
      extensions: { code: 'GRAPHQL_VALIDATION_FAILED' },
    });
    expect(system.gateways[0]!.server.hub.stats()).toMatchObject({ subscribers: before.subscribers, channels: before.channels });
  });

  it('refuses an over-deep query and a 40-alias query over the socket with the armor errors', async () => {
    const client = system.wsClient();
    const deep = `{ products(first: 1) { edges { node { alsoViewed { product { alsoViewed { product { alsoViewed { product { alsoViewed { product { alsoViewed { product { id } } } } } } } } } } } } } }`;
    const tooDeep = await nextResult(client, deep, {}).result;
    expect(tooDeep.errors?.[0]).toMatchObject({
      message: expect.stringContaining('Query depth limit of 12 exceeded'),
      extensions: { code: 'GRAPHQL_VALIDATION_FAILED' },
    });
    const aliased = await nextResult(client, `{ ${aliases(40, 'categories { id }')} }`, {}).result;
    expect(aliased.errors?.[0]?.message).toContain('Aliases limit of 30 exceeded');
    // and HTTP says the same
    const http = await system.query(`{ ${aliases(40, 'categories { id }')} }`);
    expect(http.errors?.[0]).toEqual(aliased.errors?.[0]);
  });

  it('leaves field and enum suggestions out of websocket errors in production', async () => {
    const production = await system.addGateway({ NODE_ENV: 'production' });
    const field = `{ categoriez { id } }`;
    const enumValue = `mutation { trackEvent(input: { userId: "u", productId: "mug", type: PURCHASEE }) { eventId } }`;
    const enumVariable = `mutation ($t: EventType!) { trackEvent(input: { userId: "u", productId: "mug", type: $t }) { eventId } }`;

    const development = system.wsClient();
    expect((await nextResult(development, field, {}).result).errors?.[0]?.message).toContain('Did you mean "categories"?');

    const client = system.wsClient(storefront, production);
    const answers = [
      await nextResult(client, field, {}).result,
      await nextResult(client, enumValue, {}).result,
      await nextResult(client, enumVariable, { t: 'PURCHASEE' }).result,
    ];
    for (const answer of answers) {
      expect(answer.errors?.length).toBeGreaterThan(0);
      for (const error of answer.errors!) expect(error.message).not.toMatch(/Did you mean|categories|PURCHASE"/);
    }
    expect(answers[0]!.errors?.[0]?.message).toBe('Cannot query field "categoriez" on type "Query".');
  });
});
