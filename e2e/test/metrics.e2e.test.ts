import { once } from 'node:events';
import { scrapeMetrics, type MetricsScrape } from '@recs/devkit';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { nextResult, startSystem, type System } from '../src/system.ts';

let system: System;
let storefront: string;

const CATALOG = [
  { id: 'mug', name: 'Enamel mug', categoryId: 'kitchen', categoryName: 'Kitchen', price: 4.95 },
  { id: 'teapot', name: 'Blue teapot', categoryId: 'kitchen', categoryName: 'Kitchen', price: 12.5 },
  { id: 'candle', name: 'Beeswax candle', categoryId: 'lights', categoryName: 'Lights', price: 3.2 },
];
const TRACK = `mutation Track($e: [TrackEventInput!]!) { trackEvents(inputs: $e) { accepted duplicates rejected { index code } } }`;
const LIVE = `subscription Live($user: ID!) { recommendationsChanged(userId: $user) { version items { product { id name } } } }`;

const purchase = (user: string, productId: string, id: string) => ({ eventId: id, userId: user, productId, type: 'PURCHASE' });

async function scrapeAll(): Promise<Record<string, MetricsScrape>> {
  const entries = await Promise.all(Object.entries(system.metricsUrls).map(async ([service, url]) => [service, await scrapeMetrics(url)] as const));
  return Object.fromEntries(entries);
}

beforeAll(async () => {
  system = await startSystem({ label: 'metrics' });
  storefront = await system.token('storefront', 'service');
  const admin = await system.token('ops', 'admin');
  const upsert = await system.query(`mutation ($p: [ProductInput!]!) { upsertProducts(products: $p) { created } }`, { p: CATALOG }, admin);
  expect(upsert.data).toEqual({ upsertProducts: { created: 3 } });
  await system.catalog.load();
});

afterAll(async () => {
  await system?.stop();
});

describe('GET /metrics of every process, after real operations through the gateway', () => {
  it('serves every service of the system, each with its service label and the process metrics', async () => {
    expect(Object.keys(system.metricsUrls)).toEqual(expect.arrayContaining(['gateway', 'products', 'events', 'recommendations']));
    for (const [service, scrape] of Object.entries(await scrapeAll())) {
      expect(scrape.status, service).toBe(200);
      expect(scrape.contentType, service).toContain('text/plain');
      expect(scrape.value('recs_process_resident_memory_bytes', { service }), service).toBeGreaterThan(0);
      expect(scrape.value('recs_memory_limit_bytes', { service }), service).toBeGreaterThan(0);
      if (service === 'workers') continue;
      expect(scrape.value('recs_redis_up', { service }), service).toBe(1);
      if (service !== 'gateway') expect(scrape.value('recs_mongodb_up', { service }), service).toBe(1);
    }
  });

  it('moves the GraphQL, ingestion, subgraph and live metrics', async () => {
    const before = await scrapeAll();
    const delta = (service: string, after: Record<string, MetricsScrape>, name: string, labels: Record<string, string> = {}) =>
      (after[service]!.value(name, labels) ?? 0) - (before[service]!.value(name, labels) ?? 0);

    // a query, and one the products subgraph refuses
    const catalog = await system.query(`query Catalog { product(id: "mug") { id name } }`);
    expect(catalog.data).toEqual({ product: { id: 'mug', name: 'Enamel mug' } });
    const refused = await system.query(`query Refused { product(id: "") { id } }`);
    expect(refused.errors?.[0]?.extensions?.['code']).toBe('BAD_USER_INPUT');

    // a batch with one event refused (its time is far in the future) and one duplicate
    const future = new Date(Date.now() + 3_600_000).toISOString();
    const batch = [
      purchase('a', 'mug', 'm1'),
      purchase('a', 'teapot', 'm2'),
      purchase('b', 'mug', 'm3'),
      purchase('b', 'teapot', 'm4'),
      purchase('b', 'teapot', 'm4'),
      { ...purchase('c', 'mug', 'm5'), occurredAt: future },
    ];
    const tracked = await system.query(TRACK, { e: batch }, storefront);
    expect(tracked.data).toEqual({ trackEvents: { accepted: 4, duplicates: 1, rejected: [{ index: 5, code: 'FUTURE_TIMESTAMP' }] } });

    // a subscriber receiving one change, caused by their own events
    const shopper = await system.token('shopper', 'user');
    const client = system.wsClient(shopper);
    const subscribed = once(system.gateways[0]!.server.hub, 'subscribed');
    const pushed = nextResult<{ recommendationsChanged: { items: { product: { id: string } }[] } }>(client, LIVE, { user: 'shopper' }, (data) =>
      data.recommendationsChanged.items.some((item) => item.product.id === 'teapot'),
    );
    await subscribed;
    const mid = await scrapeAll();
    expect(mid['gateway']!.value('recs_subscriptions_active', { field: 'recommendationsChanged' })).toBe(1);
    expect(delta('gateway', mid, 'recs_websocket_connections_opened_total')).toBe(1);

    const own = await system.query(TRACK, { e: [purchase('shopper', 'mug', 's1')] }, shopper);
    expect(own.data).toMatchObject({ trackEvents: { accepted: 1 } });
    const { errors } = await pushed.result;
    expect(errors).toBeUndefined();
    await client.dispose();

    const after = await scrapeAll();
    const requests = 'recs_graphql_requests_total';
    // the gateway: by operation and code, the subgraphs it fetched from, its subscribers
    expect(delta('gateway', after, requests, { operation_type: 'query', operation_name: 'Catalog', code: 'OK' })).toBe(1);
    expect(delta('gateway', after, requests, { operation_type: 'query', operation_name: 'Refused', code: 'BAD_USER_INPUT' })).toBe(1);
    expect(delta('gateway', after, requests, { operation_type: 'mutation', operation_name: 'Track', code: 'OK' })).toBe(2);
    expect(delta('gateway', after, 'recs_graphql_request_duration_seconds_count', { operation_name: 'Catalog' })).toBe(1);
    expect(delta('gateway', after, 'recs_http_responses_total', { status: '200' })).toBeGreaterThanOrEqual(4);
    expect(delta('gateway', after, 'recs_subgraph_fetch_duration_seconds_count', { subgraph: 'events' })).toBe(2);
    expect(delta('gateway', after, 'recs_subgraph_fetch_duration_seconds_count', { subgraph: 'products' })).toBeGreaterThanOrEqual(2);
    expect(delta('gateway', after, 'recs_subgraph_fetch_errors_total', { subgraph: 'products', code: 'BAD_USER_INPUT' })).toBe(1);
    expect(delta('gateway', after, 'recs_hydrations_total', { field: 'recommendationsChanged', outcome: 'delivered' })).toBeGreaterThanOrEqual(1);
    expect(delta('gateway', after, 'recs_hydration_duration_seconds_count', { field: 'recommendationsChanged' })).toBeGreaterThanOrEqual(1);
    expect(delta('gateway', after, 'recs_freshness_delivered_seconds_count', { field: 'recommendationsChanged' })).toBeGreaterThanOrEqual(1);
    expect(delta('gateway', after, 'recs_change_delivery_seconds_count', { field: 'recommendationsChanged' })).toBeGreaterThanOrEqual(1);
    expect(after['gateway']!.value('recs_subscriptions_active', { field: 'recommendationsChanged' })).toBe(0);
    // the server sees the client's close a moment after dispose() resolves, with no event to await here
    await vi.waitFor(async () => {
      const closed = (await scrapeMetrics(system.metricsUrls['gateway']!)).value('recs_websocket_connections_closed_total', { code: '1000' }) ?? 0;
      expect(closed - (before['gateway']!.value('recs_websocket_connections_closed_total', { code: '1000' }) ?? 0)).toBe(1);
    });

    // the events subgraph: its own requests and the ingestion of the two batches
    expect(delta('events', after, requests, { operation_type: 'mutation', code: 'OK' })).toBe(2);
    expect(delta('events', after, 'recs_events_accepted_total', { type: 'PURCHASE' })).toBe(5);
    expect(delta('events', after, 'recs_events_duplicate_total')).toBe(1);
    expect(delta('events', after, 'recs_events_rejected_total', { reason: 'FUTURE_TIMESTAMP' })).toBe(1);
    expect(delta('events', after, 'recs_ingest_batch_size_events_count')).toBe(2);
    expect(delta('events', after, 'recs_ingest_batch_size_events_sum')).toBe(7);
    expect(delta('events', after, 'recs_ingest_durable_seconds_count')).toBe(2);

    // the products subgraph answered the catalog query and refused the empty id itself (the list's
    // product fields come with it from the recommendations subgraph)
    expect(delta('products', after, requests, { code: 'BAD_USER_INPUT' })).toBe(1);
    expect(delta('products', after, requests, { code: 'OK' })).toBeGreaterThanOrEqual(1);
    // and the recommendations subgraph answered the hydrations
    expect(delta('recommendations', after, requests, { operation_type: 'query', code: 'OK' })).toBeGreaterThanOrEqual(1);
    expect(after['recommendations']!.value('recs_mongodb_pool_wait_seconds_count')).toBeGreaterThan(0);
  });
});
