import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Client } from 'graphql-ws';
import { startSystem, type System } from '../src/system.ts';

/**
 * Rate limits through the gateway, over real HTTP, graphql-ws and Redis, with budgets lowered to a
 * handful per minute (a window no test outlasts, so a burst's outcome is exact). Each test spends
 * the budget of a subject (or client IP) of its own.
 */
const QUERY_BUDGET = 5;
const EVENT_BUDGET = 5;
const ANONYMOUS_BUDGET = 4;
const CATEGORIES = `{ categories { id } }`;
const TRACK_MANY = `mutation ($inputs: [TrackEventInput!]!) { trackEvents(inputs: $inputs) { accepted } }`;

let system: System;

beforeAll(async () => {
  system = await startSystem({
    label: 'ratelimits',
    gateways: 2,
    gateway: {
      RATE_LIMIT_USER_QUERIES: QUERY_BUDGET,
      RATE_LIMIT_USER_EVENTS: EVENT_BUDGET,
      RATE_LIMIT_ANONYMOUS_QUERIES: ANONYMOUS_BUDGET,
      // the tests' client IPs come in X-Forwarded-For, as from a proxy in front
      TRUSTED_PROXY_HOPS: 1,
    },
  });
});

afterAll(async () => {
  await system?.stop();
});

interface Answer {
  readonly status: number;
  readonly retryAfter: string | null;
  readonly body: { data?: unknown; errors?: { message: string; extensions?: Record<string, unknown> }[] };
}

/** POSTs an operation and keeps what the HTTP layer said too (status, Retry-After). */
async function post(query: string, options: { token?: string; gateway?: number; ip?: string; variables?: Record<string, unknown> } = {}): Promise<Answer> {
  const response = await fetch(system.gateways[options.gateway ?? 0]!.url, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      ...(options.token === undefined ? {} : { authorization: `Bearer ${options.token}` }),
      ...(options.ip === undefined ? {} : { 'x-forwarded-for': options.ip }),
    },
    body: JSON.stringify({ query, variables: options.variables ?? {} }),
  });
  return { status: response.status, retryAfter: response.headers.get('retry-after'), body: (await response.json()) as Answer['body'] };
}

/** `count` requests one after another (a burst from one client). */
async function burst(count: number, send: (i: number) => Promise<Answer>): Promise<Answer[]> {
  const answers: Answer[] = [];
  for (let i = 0; i < count; i++) answers.push(await send(i));
  return answers;
}

const served = (answer: Answer) => answer.status === 200 && answer.body.errors === undefined;
const code = (answer: Answer) => answer.body.errors?.[0]?.extensions?.['code'];

function expectRateLimited(answer: Answer): void {
  expect(answer.status).toBe(429);
  expect(code(answer)).toBe('RATE_LIMITED');
  const retryAfter = answer.body.errors?.[0]?.extensions?.['retryAfter'];
  expect(typeof retryAfter).toBe('number');
  expect(retryAfter).toBeGreaterThanOrEqual(1);
  expect(retryAfter).toBeLessThanOrEqual(60);
  expect(answer.retryAfter).toBe(String(retryAfter));
  // HTTP details stay out of the body
  expect(answer.body.errors?.[0]?.extensions?.['http']).toBeUndefined();
}

const views = (userId: string, count: number, from = 0) =>
  Array.from({ length: count }, (_, i) => ({ eventId: `${userId}-${from + i}`, userId, productId: `p${i}`, type: 'VIEW' }));

/** One query or mutation over a socket: its single result. */
function overSocket(client: Client, query: string): Promise<{ data?: unknown; errors?: readonly { extensions?: Record<string, unknown> }[] }> {
  return new Promise((resolve, reject) => {
    let result: { data?: unknown; errors?: readonly { extensions?: Record<string, unknown> }[] } | undefined;
    client.subscribe(
      { query },
      {
        next: (value) => (result = value as never),
        error: (error) => (Array.isArray(error) ? resolve({ errors: error }) : reject(error)),
        complete: () => (result === undefined ? reject(new Error('completed without a result')) : resolve(result)),
      },
    );
  });
}

describe('rate limits', () => {
  it('refuses a burst over a user budget with RATE_LIMITED, retryAfter, HTTP 429 and Retry-After', async () => {
    const token = await system.token('burst-user', 'user');
    const answers = await burst(QUERY_BUDGET + 3, () => post(CATEGORIES, { token }));
    expect(answers.slice(0, QUERY_BUDGET).every(served)).toBe(true);
    for (const answer of answers.slice(QUERY_BUDGET)) expectRateLimited(answer);
  });

  it('does not throttle a service token sending a burst of the same size', async () => {
    const token = await system.token('storefront-backend', 'service');
    const queries = await burst(QUERY_BUDGET + 3, () => post(CATEGORIES, { token }));
    expect(queries.map((answer) => answer.status)).toEqual(Array(QUERY_BUDGET + 3).fill(200));
    expect(queries.every(served)).toBe(true);
    // and a clickstream batch far over a user's event budget
    const batch = await post(TRACK_MANY, { token, variables: { inputs: views('shopper-of-service', EVENT_BUDGET * 10) } });
    expect(batch.body.errors).toBeUndefined();
    expect(batch.body.data).toEqual({ trackEvents: { accepted: EVENT_BUDGET * 10 } });
  });

  it('shares one budget between gateway replicas', async () => {
    const token = await system.token('two-replicas', 'user');
    const answers = await burst(QUERY_BUDGET + 2, (i) => post(CATEGORIES, { token, gateway: i % 2 }));
    expect(answers.slice(0, QUERY_BUDGET).every(served)).toBe(true);
    // the sixth goes to the second replica, the seventh to the first: both know the budget is spent
    expectRateLimited(answers[QUERY_BUDGET]!);
    expectRateLimited(answers[QUERY_BUDGET + 1]!);
  });

  it('keeps tracking and queries on separate budgets, counting tracking per event', async () => {
    const token = await system.token('tracker', 'user');
    const queries = await burst(QUERY_BUDGET + 1, () => post(CATEGORIES, { token }));
    expectRateLimited(queries[QUERY_BUDGET]!);
    // the query budget is spent; the event budget is not
    const first = await post(TRACK_MANY, { token, variables: { inputs: views('tracker', 3) } });
    expect(first.body).toEqual({ data: { trackEvents: { accepted: 3 } } });
    // 3 + 3 events > 5, though it is only the second call
    const second = await post(TRACK_MANY, { token, variables: { inputs: views('tracker', 3, 3) } });
    expectRateLimited(second);
    expect(second.body.errors?.[0]?.message).toMatch(/events/);
  });

  it('limits anonymous callers per client IP', async () => {
    const answers = await burst(ANONYMOUS_BUDGET + 2, () => post(CATEGORIES, { ip: '203.0.113.7' }));
    expect(answers.slice(0, ANONYMOUS_BUDGET).every(served)).toBe(true);
    for (const answer of answers.slice(ANONYMOUS_BUDGET)) expectRateLimited(answer);
    // another address has a budget of its own; an IPv6 client's is its /64's
    expect(served(await post(CATEGORIES, { ip: '203.0.113.8' }))).toBe(true);
    const v6 = await burst(ANONYMOUS_BUDGET + 1, (i) => post(CATEGORIES, { ip: `2001:db8:1:2::${i + 1}` }));
    expect(v6.slice(0, ANONYMOUS_BUDGET).every(served)).toBe(true);
    expectRateLimited(v6[ANONYMOUS_BUDGET]!);
  });

  it('spends the HTTP budget on queries over the websocket', async () => {
    const token = await system.token('socket-user', 'user');
    const http = await burst(QUERY_BUDGET - 2, () => post(CATEGORIES, { token }));
    expect(http.every(served)).toBe(true);
    const client = system.wsClient(token, 1);
    for (let i = 0; i < 2; i++) expect((await overSocket(client, CATEGORIES)).errors).toBeUndefined();
    const refused = await overSocket(client, CATEGORIES);
    expect(refused.errors?.[0]?.extensions?.['code']).toBe('RATE_LIMITED');
    expect(refused.errors?.[0]?.extensions?.['retryAfter']).toBeGreaterThanOrEqual(1);
    expect(refused.errors?.[0]?.extensions?.['http']).toBeUndefined();
    // the socket stays open and usable: its next operation is answered (refused likewise)
    expect((await overSocket(client, CATEGORIES)).errors?.[0]?.extensions?.['code']).toBe('RATE_LIMITED');
    expectRateLimited(await post(CATEGORIES, { token }));
  });

  it('counts each subscribe as one query', async () => {
    const token = await system.token('subscriber', 'user');
    const client = system.wsClient(token);
    const subscribe = `subscription { recommendationsChanged(userId: "subscriber", limit: 5) { items { product { id } } } }`;
    // one subscribe over the budget: whichever is checked last is refused (the socket handles them at once)
    const refused = new Promise<readonly { extensions?: Record<string, unknown> }[]>((resolve, reject) => {
      for (let i = 0; i < QUERY_BUDGET + 1; i++) {
        client.subscribe(
          { query: subscribe },
          { next: () => undefined, error: (error) => (Array.isArray(error) ? resolve(error) : reject(error)), complete: () => undefined },
        );
      }
    });
    const errors = await refused;
    expect(errors[0]?.extensions?.['code']).toBe('RATE_LIMITED');
    expect(errors[0]?.extensions?.['retryAfter']).toBeGreaterThanOrEqual(1);
    // the served subscribes spent the budget queries over HTTP draw on
    expectRateLimited(await post(CATEGORIES, { token }));
  });
});
