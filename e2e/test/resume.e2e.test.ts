import { EventEmitter, once } from 'node:events';
import { encodeChange } from '@recs/shared';
import type { Client } from 'graphql-ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { nextResult, startSystem, type System } from '../src/system.ts';

/**
 * Resumable subscriptions through the whole system: a widget that loads late or reconnects
 * passes the last version (or changedAt) it saw, gets the current value at once when it is newer,
 * and is never sent an older one.
 */
let system: System;
let storefront: string;

const CATALOG = [
  { id: 'mug', name: 'Enamel mug', categoryId: 'kitchen', categoryName: 'Kitchen & Dining', price: 4.95 },
  { id: 'teapot', name: 'Blue teapot', categoryId: 'kitchen', categoryName: 'Kitchen & Dining', price: 12.5 },
  { id: 'candle', name: 'Beeswax candle', categoryId: 'lights', categoryName: 'Candles & Lights', price: 3.2 },
  { id: 'lantern', name: 'Tin lantern', categoryId: 'lights', categoryName: 'Candles & Lights', price: 8 },
];

const LIST = `subscription ($user: ID!, $since: Int) {
  recommendationsChanged(userId: $user, sinceVersion: $since) { version items { product { id } } }
}`;
const RANKING = `subscription ($since: DateTime) {
  bestSellersChanged(categoryId: "lights", sinceChangedAt: $since) { changedAt items { product { id } } }
}`;

interface List {
  recommendationsChanged: { version: number; items: { product: { id: string } }[] };
}
interface Ranking {
  bestSellersChanged: { changedAt: string; items: { score?: number; product: { id: string } }[] };
}

let seq = 0;
/** Tracks `type` events of `user` on products, as the storefront's backend does. */
async function track(user: string, productIds: string[], type = 'PURCHASE'): Promise<void> {
  const at = new Date(Date.now() - 60_000).toISOString();
  const e = productIds.map((productId) => ({ eventId: `resume-${user}-${++seq}`, userId: user, productId, type, occurredAt: at }));
  const { data } = await system.query(`mutation ($e: [TrackEventInput!]!) { trackEvents(inputs: $e) { accepted } }`, { e }, storefront);
  expect(data).toEqual({ trackEvents: { accepted: e.length } });
}

/** A subscription's results, in order; the subscription is on this gateway once it resolves. */
async function follow<T>(client: Client, query: string, variables: Record<string, unknown>) {
  const subscribed = once(system.gateways[0]!.server.hub, 'subscribed');
  const results = client.iterate<T>({ query, variables });
  const first = results.next();
  // a refused subscription (its error) fails the test rather than waiting for the hub
  await Promise.race([subscribed, first]);
  let pending: typeof first | undefined = first;
  const next = async (): Promise<T> => {
    const result = await (pending ?? results.next());
    pending = undefined;
    expect(result.value?.errors).toBeUndefined();
    return result.value!.data as T;
  };
  return {
    next,
    /** The next result that satisfies `accept` (earlier ones are skipped). */
    async until(accept: (data: T) => boolean): Promise<T> {
      for (;;) {
        const data = await next();
        if (accept(data)) return data;
      }
    },
    close: () => results.return?.(),
  };
}

beforeAll(async () => {
  system = await startSystem({ label: 'resume' });
  const admin = await system.token('ops', 'admin');
  storefront = await system.token('storefront', 'service');
  const upsert = await system.query(`mutation ($p: [ProductInput!]!) { upsertProducts(products: $p) { created } }`, { p: CATALOG }, admin);
  expect(upsert.data).toEqual({ upsertProducts: { created: 4 } });
  await system.catalog.load();
  // others buy mug with teapot, and the lights together, so a purchase changes a shopper's list;
  // the tests start once both rankings count them
  const ranked = (category: string) =>
    follow<Ranking>(system.wsClient(), `subscription { bestSellersChanged(categoryId: "${category}") { changedAt items { score product { id } } } }`, {});
  const kitchen = await ranked('kitchen');
  const lights = await ranked('lights');
  for (const user of ['a', 'b', 'c']) await track(user, ['mug', 'teapot']);
  for (const user of ['x', 'y']) await track(user, ['candle', 'lantern']);
  const counted = (buyers: number) => (data: Ranking) => data.bestSellersChanged.items.every((item) => item.score === buyers);
  await kitchen.until(counted(3));
  await lights.until(counted(2));
  await kitchen.close();
  await lights.close();
});

afterAll(async () => {
  await system?.stop();
});

/** A user with a computed list (version 1 or more): the version, from a plain subscription. */
async function shopperWithList(user: string): Promise<{ token: string; version: number }> {
  const token = await system.token(user, 'user');
  const watcher = await follow<List>(system.wsClient(token), LIST, { user });
  await track(user, ['mug']);
  // the list that also-bought made: teapot, bought with mug
  await watcher.until((data) => data.recommendationsChanged.items.some((item) => item.product.id === 'teapot'));
  await watcher.close();
  // the stored list's version now: a recomputation queued behind the one the watcher saw (a
  // ranking tick) may have saved a newer one meanwhile, and the tests resume from what is current
  const { data } = await system.query<{ recommendations: { version: number } }>(
    `query ($user: ID!) { recommendations(userId: $user) { version } }`,
    { user },
    token,
  );
  const version = data!.recommendations.version;
  expect(version).toBeGreaterThanOrEqual(1);
  return { token, version };
}

/** `promise`, or a failure naming the step that did not happen within `ms`. */
function within<T>(promise: Promise<T>, ms: number, step: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      // what the gateway's hub went through, to tell a lost message from reads that stayed behind
      const stats = JSON.stringify(system.gateways.map((gateway) => gateway.server.hub.stats()));
      reject(new Error(`${step}: not within ${ms} ms; hubs: ${stats}`));
    }, ms);
  });
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}

describe('recommendationsChanged with sinceVersion', () => {
  it('sends the current list at once when it is newer than sinceVersion, then the next change', async () => {
    const { token, version } = await shopperWithList('late');
    const widget = await follow<List>(system.wsClient(token), LIST, { user: 'late', since: version - 1 });
    // no event: the list comes because the widget is behind
    expect((await widget.next()).recommendationsChanged.version).toBe(version);
    await track('late', ['candle']);
    expect((await widget.next()).recommendationsChanged.version).toBeGreaterThan(version);
    await widget.close();
  });

  it('sends nothing at once when sinceVersion is current, nor without it; both get the next change', async () => {
    const { token, version } = await shopperWithList('current');
    const resumed = await follow<List>(system.wsClient(token), LIST, { user: 'current', since: version });
    const plain = await follow<List>(system.wsClient(token), LIST, { user: 'current' });
    await track('current', ['lantern']);
    // had either been sent the current list, it would come first
    const next = (await resumed.next()).recommendationsChanged.version;
    expect(next).toBeGreaterThan(version);
    expect((await plain.next()).recommendationsChanged.version).toBe(next);
    await resumed.close();
    await plain.close();
  });

  it('catches a reconnecting widget up at once on the change it missed', async () => {
    const { token, version } = await shopperWithList('away');
    const client = system.wsClient(token);
    await follow<List>(client, LIST, { user: 'away', since: version });
    await client.dispose();
    // the change happens while the widget is gone; a service's watcher sees it land
    const watcher = await within(follow<List>(system.wsClient(storefront), LIST, { user: 'away' }), 10_000, 'the watcher subscribes');
    await track('away', ['candle']);
    const missed = (await within(watcher.next(), 20_000, 'the watcher sees the change')).recommendationsChanged;
    await watcher.close();
    expect(missed.version).toBeGreaterThan(version);
    const back = await within(follow<List>(system.wsClient(token), LIST, { user: 'away', since: version }), 10_000, 'the widget subscribes again');
    expect(await within(back.next(), 20_000, 'the widget catches up')).toEqual({ recommendationsChanged: missed });
    await back.close();
  });

  it('does not deliver a change message older than what a resumed subscriber already got', async () => {
    const { token, version } = await shopperWithList('stale');
    const widget = await follow<List>(system.wsClient(token), LIST, { user: 'stale', since: version - 1 });
    expect((await widget.next()).recommendationsChanged.version).toBe(version);
    // a lagging publisher's messages for this version and the one before
    for (const marker of [version - 1, version]) {
      const { channel, text } = encodeChange(system.names, 'recommendationsChanged', { userId: 'stale', version: marker });
      await system.redis.publish(channel, text);
    }
    await track('stale', ['lantern']);
    // the next result is the new list, not the one the widget has again
    expect((await widget.next()).recommendationsChanged.version).toBeGreaterThan(version);
    await widget.close();
  });
});

describe('bestSellersChanged with sinceChangedAt', () => {
  it('sends the current ranking at once when it changed after the marker, and nothing when it did not', async () => {
    const { data } = await system.query(`query { bestSellersSnapshot(categoryId: "lights") { changedAt items { product { id } } } }`);
    const current = (data as { bestSellersSnapshot: Ranking['bestSellersChanged'] }).bestSellersSnapshot;
    expect(current.items.length).toBeGreaterThan(0);
    const before = new Date(Date.parse(current.changedAt) - 1).toISOString();

    const behind = await follow<Ranking>(system.wsClient(), RANKING, { since: before });
    expect((await behind.next()).bestSellersChanged).toEqual(current);

    const upToDate = await follow<Ranking>(system.wsClient(), RANKING, { since: current.changedAt });
    await track('z', ['lantern']);
    const changed = (await upToDate.next()).bestSellersChanged;
    expect(Date.parse(changed.changedAt)).toBeGreaterThan(Date.parse(current.changedAt));
    // the behind widget gets the same change (after any in between, each newer than the last)
    let seen = Date.parse(current.changedAt);
    const caughtUp = await behind.until((data) => {
      const at = Date.parse(data.bestSellersChanged.changedAt);
      expect(at).toBeGreaterThan(seen);
      seen = at;
      return at >= Date.parse(changed.changedAt);
    });
    expect(caughtUp.bestSellersChanged).toEqual(changed);
    await behind.close();
    await upToDate.close();
  });

  it('refuses a sinceChangedAt that is not a date-time with BAD_USER_INPUT', async () => {
    const results = system.wsClient().iterate({ query: RANKING, variables: { since: 'last week' } });
    await expect(results.next()).rejects.toSatisfy(
      (errors: unknown) => (errors as { extensions?: { code?: string } }[])[0]?.extensions?.code === 'BAD_USER_INPUT',
    );
  });
});

describe('a gateway restart', () => {
  it('closes the sockets as going away (1001), never completes a subscription, and a retrying widget resumes with what it missed', async () => {
    const { token, version } = await shopperWithList('restart');
    const other = await system.addGateway({});
    const closes: number[] = [];
    const client = system.wsClient(token, 0, {
      // as a widget does: it keeps trying while the gateway is down (however long its restart takes)
      retryAttempts: Number.POSITIVE_INFINITY,
      shouldRetry: () => true,
      retryWait: () => new Promise((resolve) => setTimeout(resolve, 100)),
      on: { closed: (event) => closes.push((event as { code: number }).code) },
    });
    // as the storefront's widget does: the variables are sent again on each retry, with the last version seen
    const variables = { user: 'restart', since: version };
    const results = new EventEmitter<{ version: [number]; complete: [] }>();
    const errors: unknown[] = [];
    client.subscribe<List>(
      { query: LIST, variables },
      {
        next: (result) => {
          const seen = result.data!.recommendationsChanged.version;
          variables.since = seen;
          results.emit('version', seen);
        },
        error: (error) => errors.push(error),
        complete: () => results.emit('complete'),
      },
    );
    let completed = false;
    results.on('complete', () => {
      completed = true;
    });
    await within(once(system.gateways[0]!.server.hub, 'subscribed'), 10_000, 'the widget subscribes');

    const closed = new Promise<void>((resolve) => client.on('closed', () => resolve()));
    await within(system.gateway(0).stop(), 10_000, 'the gateway stops');
    await within(closed, 10_000, 'the widget sees its socket close');
    expect(closes).toEqual([1001]);
    // a `complete` would have ended the subscription for good: graphql-ws does not retry it
    expect(completed).toBe(false);
    // the change happens while the gateway is down, through the other one (its watcher resumes
    // from the same version, so it sees the change whether it subscribes before it lands or after)
    const watcher = nextResult<List>(system.wsClient(storefront, other), LIST, { user: 'restart', since: version });
    const e = [{ eventId: `resume-restart-${++seq}`, userId: 'restart', productId: 'candle', type: 'PURCHASE' }];
    expect((await system.query(`mutation ($e: [TrackEventInput!]!) { trackEvents(inputs: $e) { accepted } }`, { e }, storefront, other)).data).toEqual({
      trackEvents: { accepted: 1 },
    });
    const missed = (await within(watcher.result, 15_000, 'the change is seen through the other gateway')).data!.recommendationsChanged.version;
    expect(missed).toBeGreaterThan(version);

    const caughtUp = once(results, 'version');
    await within(system.gateway(0).start(), 15_000, 'the gateway starts again');
    expect(await within(caughtUp, 15_000, `the widget catches up (errors: ${JSON.stringify(errors)})`)).toEqual([missed]);
    expect(completed).toBe(false);
    expect(errors).toEqual([]);
    await client.dispose();
  });
});
