import { TEST_JWT_SECRET, testServices, uniqueName } from '@recs/devkit';
import { connectRedis, createLogger, type RedisClient } from '@recs/shared';
import { type OperationDefinitionNode, parse } from 'graphql';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { gatewayConfig } from '../src/config.ts';
import { operationCost, RateLimits } from '../src/rateLimits.ts';

const logger = createLogger('rate-limits-test', 'silent');

describe('operationCost', () => {
  const cost = (query: string, variables: Record<string, unknown> = {}) => {
    const document = parse(query);
    const operation = document.definitions.find((definition) => definition.kind === 'OperationDefinition') as OperationDefinitionNode;
    return operationCost(operation, document, variables);
  };

  it('charges a query, a subscription and a mutation other than tracking one query', () => {
    expect(cost(`{ categories { id } a: categories { id } }`)).toEqual({ queries: 1, events: 0 });
    expect(cost(`subscription { bestSellersChanged { changedAt } }`)).toEqual({ queries: 1, events: 0 });
    expect(cost(`mutation { clearHistory(userId: "u") }`)).toEqual({ queries: 1, events: 0 });
  });

  it('charges tracking per event: literal lists, variables, aliases and fragments', () => {
    expect(cost(`mutation { trackEvent(input: {}) { eventId } }`)).toEqual({ queries: 0, events: 1 });
    expect(cost(`mutation { trackEvents(inputs: [{}, {}, {}]) { accepted } }`)).toEqual({ queries: 0, events: 3 });
    expect(cost(`mutation ($i: [TrackEventInput!]!) { trackEvents(inputs: $i) { accepted } }`, { i: Array(250).fill({}) })).toEqual({
      queries: 0,
      events: 250,
    });
    // one object where the list goes is a list of one
    expect(cost(`mutation ($i: [TrackEventInput!]!) { trackEvents(inputs: $i) { accepted } }`, { i: {} })).toEqual({ queries: 0, events: 1 });
    expect(cost(`mutation { a: trackEvent(input: {}) { eventId } b: trackEvent(input: {}) { eventId } __typename }`)).toEqual({ queries: 0, events: 2 });
    expect(
      cost(`mutation { ...T ... on Mutation { trackEvent(input: {}) { eventId } } } fragment T on Mutation { trackEvents(inputs: [{}, {}]) { accepted } }`),
    ).toEqual({
      queries: 0,
      events: 3,
    });
    // tracking and another mutation in one operation: both budgets
    expect(cost(`mutation { trackEvent(input: {}) { eventId } clearHistory(userId: "u") }`)).toEqual({ queries: 1, events: 1 });
    // nothing to track still costs an operation
    expect(cost(`mutation { trackEvents(inputs: []) { accepted } }`)).toEqual({ queries: 1, events: 0 });
  });
});

describe('RateLimits (real Redis)', () => {
  const prefix = uniqueName('rl');
  let redis: RedisClient;

  const limitsWith = (client: RedisClient, env: Record<string, string> = {}) =>
    new RateLimits(
      client,
      gatewayConfig({
        REDIS_URL: testServices().redisUrl,
        JWT_SECRET: TEST_JWT_SECRET,
        QUEUE_PREFIX: prefix,
        RATE_LIMIT_USER_QUERIES: '3',
        RATE_LIMIT_USER_EVENTS: '10',
        RATE_LIMIT_ANONYMOUS_QUERIES: '2',
        ...env,
      }),
      logger,
    );
  const user = (subject: string) => ({ kind: 'authenticated', subject, role: 'user' }) as const;
  const query = { queries: 1, events: 0 };

  beforeAll(async () => {
    redis = await connectRedis(testServices().redisUrl, logger, 'rate-limits-test');
  });

  afterAll(async () => {
    for await (const keys of redis.scanIterator({ MATCH: `${prefix}:*`, COUNT: 100 })) if (keys.length > 0) await redis.del(keys);
    await redis.close();
  });

  it('serves a budget per subject, then says which budget ran out and when it frees', async () => {
    const limits = limitsWith(redis);
    for (let i = 0; i < 3; i++) expect(await limits.take(user('alice'), '10.0.0.1', query)).toBeUndefined();
    const limited = await limits.take(user('alice'), '10.0.0.1', query);
    expect(limited).toMatchObject({ budget: 'queries', limit: 3, windowSeconds: 60 });
    expect(limited!.retryAfterSeconds).toBeGreaterThanOrEqual(1);
    expect(limited!.retryAfterSeconds).toBeLessThanOrEqual(60);
    // another subject, and alice's event budget, are untouched
    expect(await limits.take(user('bob'), '10.0.0.1', query)).toBeUndefined();
    expect(await limits.take(user('alice'), '10.0.0.1', { queries: 0, events: 10 })).toBeUndefined();
    expect(await limits.take(user('alice'), '10.0.0.1', { queries: 0, events: 1 })).toMatchObject({ budget: 'events', limit: 10 });
  });

  it('keys anonymous callers by IP, and an IPv6 client by its /64', async () => {
    const limits = limitsWith(redis);
    const anonymous = { kind: 'anonymous' } as const;
    expect(await limits.take(anonymous, '192.0.2.1', query)).toBeUndefined();
    expect(await limits.take(anonymous, '192.0.2.1', query)).toBeUndefined();
    expect(await limits.take(anonymous, '192.0.2.1', query)).toMatchObject({ budget: 'queries' });
    expect(await limits.take(anonymous, '192.0.2.2', query)).toBeUndefined();
    expect(await limits.take(anonymous, '2001:db8:0:1::5', query)).toBeUndefined();
    expect(await limits.take(anonymous, '2001:0db8:0000:0001:ffff::9', query)).toBeUndefined();
    expect(await limits.take(anonymous, '2001:db8:0:1:1:2:3:4', query)).toMatchObject({ budget: 'queries' });
    expect(await limits.take(anonymous, '2001:db8:0:2::5', query)).toBeUndefined();
  });

  it('has no limit where a budget is 0', async () => {
    const limits = limitsWith(redis, { RATE_LIMIT_USER_QUERIES: '0' });
    for (let i = 0; i < 20; i++) expect(await limits.take(user('unlimited'), '10.0.0.1', query)).toBeUndefined();
  });

  it('serves without limits while Redis is unreachable, and says so once', async () => {
    const lost = redis.duplicate();
    lost.on('error', () => undefined);
    await lost.connect();
    lost.destroy();
    const limits = limitsWith(lost);
    const warn = vi.spyOn(logger, 'warn');
    for (let i = 0; i < 10; i++) expect(await limits.take(user('carol'), '10.0.0.1', query)).toBeUndefined();
    expect(warn).toHaveBeenCalledTimes(1);
    expect(warn.mock.calls[0]?.[1]).toMatch(/Redis unreachable/);
  });
});
