import { Supergraph } from '@apollo/federation-internals';
import { deferred, MetricsScrape, parseMetrics, testServices, uniqueName } from '@recs/devkit';
import { supergraphSdl } from '@recs/schema';
import { connectRedis, createLogger, createRegistry, liveChannel, RedisNames, type RedisClient } from '@recs/shared';
import { parse, print, type DocumentNode, type ExecutionResult } from 'graphql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { closeCodeLabel, GatewayMetrics } from '../src/metrics.ts';
import { LiveHub } from '../src/subscriptions/hub.ts';
import { earliest, LatestResult } from '../src/subscriptions/latest.ts';
import { liveOperation } from '../src/subscriptions/liveOperation.ts';

const schema = Supergraph.build(supergraphSdl()).apiSchema().toGraphQLJSSchema();
const logger = createLogger('live-metrics-test', 'silent');
const FIELD = { field: 'bestSellersChanged' };
const result = (rank: number): ExecutionResult => ({ data: { bestSellersChanged: { items: [{ rank }] } } });
const DOWN = { data: null, errors: [{ message: 'connect ECONNREFUSED', extensions: { code: 'INTERNAL_SERVER_ERROR' } }] } as unknown as ExecutionResult;
const REFUSED = { data: null, errors: [{ message: 'Not allowed', extensions: { code: 'FORBIDDEN' } }] } as unknown as ExecutionResult;

let redis: RedisClient;
let subscriber: RedisClient;

beforeAll(async () => {
  redis = await connectRedis(testServices().redisUrl, logger, 'live-metrics-test');
  subscriber = redis.duplicate();
  await subscriber.connect();
});

afterAll(async () => {
  await subscriber?.close();
  await redis?.close();
});

/** A hub whose hydrations wait until the test answers them, one call at a time. */
function gatedHub() {
  const registry = createRegistry('gateway', { defaultMetrics: false });
  const names = new RedisNames(uniqueName('live-metrics'));
  const calls: { query: DocumentNode; answer: (result: ExecutionResult) => void }[] = [];
  let called = deferred();
  const hub = new LiveHub(
    subscriber,
    names,
    (query) => {
      const answer = deferred<ExecutionResult>();
      calls.push({ query, answer: answer.resolve });
      called.resolve();
      return answer.promise;
    },
    logger,
    8,
    { firstDelayMs: 1, maxDelayMs: 1, attempts: 3 },
    new GatewayMetrics(registry),
  );
  let changedAt = 0;
  return {
    hub,
    subscribe: (category: string) =>
      hub.subscribe(liveOperation(schema, parse(`subscription { bestSellersChanged(categoryId: "${category}") { items { rank } } }`), undefined)),
    change: (category: string, extra: Record<string, number> = {}) =>
      redis.publish(liveChannel(names, 'bestSellersChanged', { categoryId: category }), JSON.stringify({ changedAt: ++changedAt, ...extra })),
    /** The next hydration call (of `category`), once it has been made. */
    async call(category: string) {
      for (;;) {
        const index = calls.findIndex(({ query }) => print(query).includes(`"${category}"`));
        if (index >= 0) return calls.splice(index, 1)[0]!;
        await called.promise;
        called = deferred();
      }
    },
    metrics: async () => new MetricsScrape(parseMetrics(await registry.metrics()), 200, null),
  };
}

describe('live subscription metrics', () => {
  it('counts active subscriptions, hydrations by outcome, and freshness from acceptedAt and at', async () => {
    const { subscribe, change, call, metrics } = gatedHub();
    const stream = await subscribe('a');
    expect((await metrics()).value('recs_subscriptions_active', FIELD)).toBe(1);

    const now = Date.now();
    await change('a', { acceptedAt: now - 400, at: now - 100 });
    (await call('a')).answer(result(1));
    expect((await stream.next()).value).toEqual(result(1));
    let scrape = await metrics();
    expect(scrape.value('recs_hydrations_total', { ...FIELD, outcome: 'delivered' })).toBe(1);
    expect(scrape.value('recs_hydration_duration_seconds_count', FIELD)).toBe(1);
    expect(scrape.value('recs_freshness_delivered_seconds_count', FIELD)).toBe(1);
    expect(scrape.value('recs_freshness_delivered_seconds_sum', FIELD)).toBeGreaterThanOrEqual(0.4);
    expect(scrape.value('recs_freshness_delivered_seconds_bucket', { ...FIELD, le: '0.3' })).toBe(0);
    expect(scrape.value('recs_change_delivery_seconds_count', FIELD)).toBe(1);
    expect(scrape.value('recs_change_delivery_seconds_sum', FIELD)).toBeGreaterThanOrEqual(0.1);

    // the same result again: nothing to send; then a transient failure, retried, then a refusal
    await change('a');
    const second = await call('a');
    await change('a');
    second.answer(result(1));
    (await call('a')).answer(DOWN);
    (await call('a')).answer(REFUSED);
    expect((await stream.next()).value).toEqual(REFUSED);
    scrape = await metrics();
    expect(scrape.value('recs_hydrations_total', { ...FIELD, outcome: 'unchanged' })).toBe(1);
    expect(scrape.value('recs_hydrations_total', { ...FIELD, outcome: 'transient_error' })).toBe(1);
    expect(scrape.value('recs_hydrations_total', { ...FIELD, outcome: 'permanent_error' })).toBe(1);
    expect(scrape.value('recs_hydration_duration_seconds_count', FIELD)).toBe(4);
    // changes without acceptedAt or at are delivered, not measured
    expect(scrape.value('recs_freshness_delivered_seconds_count', FIELD)).toBe(1);

    await stream.return();
    expect((await metrics()).value('recs_subscriptions_active', FIELD)).toBe(0);
  });

  it('counts changes a queued hydration covers, and results a slow subscriber never got', async () => {
    const { subscribe, change, call, metrics } = gatedHub();
    const slow = await subscribe('a');
    const marker = await subscribe('b');
    const now = Date.now();
    await change('a', { acceptedAt: now - 900 });
    const first = await call('a');
    // while the first runs: one more is due (2), and 3 and 4 are covered by it
    await change('a', { acceptedAt: now - 500 });
    await change('a');
    await change('a');
    // messages arrive in order: once b's is handled, a's three are too
    await change('b');
    (await call('b')).answer(result(0));
    expect((await marker.next()).value).toEqual(result(0));
    expect((await metrics()).value('recs_subscription_payloads_coalesced_total', FIELD)).toBe(2);

    first.answer(result(1));
    (await call('a')).answer(result(2));
    // the hub handles an answer before any I/O: once b's next change is hydrated, a's result is pushed
    await change('b');
    (await call('b')).answer(result(0));
    // nobody read result 1 before result 2 replaced it
    const next = await slow.next();
    expect(next.value).toEqual(result(2));
    const scrape = await metrics();
    expect(scrape.value('recs_subscription_payloads_dropped_total', FIELD)).toBe(1);
    // the result that reached the socket answers the earliest accepted event behind it
    expect(scrape.value('recs_freshness_delivered_seconds_count', FIELD)).toBe(1);
    expect(scrape.value('recs_freshness_delivered_seconds_bucket', { ...FIELD, le: '0.75' })).toBe(0);
    await slow.return();
    await marker.return();
  });
});

describe('outbox and labels', () => {
  it('reports the earliest times of the results a newer one replaced', () => {
    const delivered: unknown[] = [];
    let dropped = 0;
    const outbox = new LatestResult(() => undefined, { dropped: () => dropped++, delivered: (times) => delivered.push(times) });
    outbox.push(result(1), { acceptedAt: 100, publishedAt: 300 });
    outbox.push(result(2), { acceptedAt: 200, publishedAt: 250 });
    outbox.push(result(3));
    expect(dropped).toBe(2);
    void outbox.next();
    expect(delivered).toEqual([{ acceptedAt: 100, publishedAt: 250 }]);
    expect(earliest(undefined, { acceptedAt: 5 })).toEqual({ acceptedAt: 5 });
  });

  it('keeps close codes a bounded label', () => {
    expect(closeCodeLabel(1000)).toBe('1000');
    expect(closeCodeLabel(4403)).toBe('4403');
    expect(closeCodeLabel(1013)).toBe('1013');
    expect(closeCodeLabel(4321)).toBe('other');
  });
});
