import { freePort, TEST_JWT_SECRET } from '@recs/devkit';
import { eventKey } from '@recs/engine';
import { createGatewayServer, gatewayConfig, type GatewayServer } from '@recs/gateway';
import { createLogger, signClientToken } from '@recs/shared';
import type { AddressInfo } from 'node:net';
import { SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSystem, type System } from '../src/system.ts';

let system: System;
/** A production gateway whose subgraphs are all down (a closed port). */
let production: GatewayServer;
let productionUrl: string;

const UPSERT = `mutation ($p: [ProductInput!]!) { upsertProducts(products: $p) { created updated unchanged } }`;
const key = new TextEncoder().encode(TEST_JWT_SECRET);
const seconds = () => Math.floor(Date.now() / 1000);

/** POSTs a raw body and returns the status and the parsed (or raw) answer. */
async function post(url: string, body: string, headers: Record<string, string> = {}): Promise<{ status: number; json: any; text: string }> {
  const response = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', 'apollo-require-preflight': 'true', ...headers }, body });
  const text = await response.text();
  let json: any;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: response.status, json, text };
}

const postQuery = (url: string, query: string, variables: Record<string, unknown> = {}, headers: Record<string, string> = {}) =>
  post(url, JSON.stringify({ query, variables }), headers);

beforeAll(async () => {
  system = await startSystem({ label: 'security' });
  const dead = `http://127.0.0.1:${await freePort()}/graphql`;
  production = await createGatewayServer({
    config: gatewayConfig({
      ...system.gatewayEnv,
      NODE_ENV: 'production',
      SANDBOX: 'false',
      PRODUCTS_URL: dead,
      EVENTS_URL: dead,
      RECOMMENDATIONS_URL: dead,
      SUBGRAPH_CONNECTIONS: '8',
      SUBGRAPH_TIMEOUT_MS: '5000',
    }),
    logger: createLogger('e2e-security-production', 'silent'),
    redis: system.redis,
  });
  await new Promise<void>((resolve) => production.http.listen(0, '127.0.0.1', resolve));
  productionUrl = `http://127.0.0.1:${(production.http.address() as AddressInfo).port}/graphql`;
});

afterAll(async () => {
  await production?.stop();
  await system?.stop();
});

describe('client tokens (defect 3)', () => {
  const admin = (claims: (jwt: SignJWT) => SignJWT) => claims(new SignJWT({ role: 'admin' }).setProtectedHeader({ alg: 'HS256' }).setSubject('root')).sign(key);
  const upsertAs = async (token: string) =>
    postQuery(system.url, UPSERT, { p: [{ id: 'sec-1', name: 'Secure', price: 1 }] }, { authorization: `Bearer ${token}` });

  it('refuses an admin token without exp', async () => {
    const result = await upsertAs(await admin((jwt) => jwt.setIssuer('recs').setIssuedAt()));
    expect(result.status).toBe(401);
    expect(result.json.errors[0].extensions.code).toBe('UNAUTHENTICATED');
    expect(result.json.errors[0].message).toMatch(/exp/);
  });

  it('refuses a token from another issuer, or none', async () => {
    for (const token of [
      await admin((jwt) => jwt.setIssuer('evil').setIssuedAt().setExpirationTime('1h')),
      await admin((jwt) => jwt.setIssuedAt().setExpirationTime('1h')),
    ]) {
      const result = await upsertAs(token);
      expect(result.status).toBe(401);
      expect(result.json.errors[0].extensions.code).toBe('UNAUTHENTICATED');
    }
  });

  it('refuses a token that lives longer than the maximum lifetime', async () => {
    const result = await upsertAs(await admin((jwt) => jwt.setIssuer('recs').setIssuedAt().setExpirationTime('30d')));
    expect(result.status).toBe(401);
    expect(result.json.errors[0].extensions.code).toBe('UNAUTHENTICATED');
    expect(result.json.errors[0].message).toMatch(/lifetime/);
    // and without iat, the time left counts
    const noIat = await upsertAs(await admin((jwt) => jwt.setIssuer('recs').setExpirationTime(seconds() + 40 * 86_400)));
    expect(noIat.status).toBe(401);
  });

  it('accepts a token that expired within the clock skew, and a valid one', async () => {
    const skewed = await upsertAs(
      await admin((jwt) =>
        jwt
          .setIssuer('recs')
          .setIssuedAt(seconds() - 3_600)
          .setExpirationTime(seconds() - 10),
      ),
    );
    expect(skewed.json.errors).toBeUndefined();
    expect(skewed.status).toBe(200);
    const minted = await upsertAs(await signClientToken({ subject: 'root', role: 'admin' }, TEST_JWT_SECRET));
    expect(minted.json.data.upsertProducts).toEqual({ created: 0, updated: 0, unchanged: 1 });
  });
});

describe('HTTP statuses (defect 9)', () => {
  it('answers a syntax error with 400 GRAPHQL_PARSE_FAILED', async () => {
    const result = await postQuery(system.url, '{ bestSellers(limit: ) { rank } ');
    expect(result.status).toBe(400);
    expect(result.json.errors[0].extensions.code).toBe('GRAPHQL_PARSE_FAILED');
  });

  it('answers an over-long document with 400 GRAPHQL_PARSE_FAILED', async () => {
    const fields = Array.from({ length: 3_000 }, () => '__typename').join(' ');
    const result = await postQuery(system.url, `{ ${fields} }`);
    expect(result.status).toBe(400);
    expect(result.json.errors[0].extensions.code).toBe('GRAPHQL_PARSE_FAILED');
  });

  it('answers an out-of-range number with 400', async () => {
    const asInt = await postQuery(system.url, '{ bestSellers(limit: 1e400) { rank } }');
    expect(asInt.status).toBe(400);
    expect(asInt.json.errors[0].extensions.code).toBe('GRAPHQL_VALIDATION_FAILED');
    const service = await system.token('storefront', 'service');
    const asFloat = await postQuery(
      system.url,
      'mutation { trackEvent(input: { eventId: "sec-inf", userId: "u1", productId: "p1", type: PURCHASE, price: 1e400 }) { eventId } }',
      {},
      {
        authorization: `Bearer ${service}`,
      },
    );
    expect(asFloat.status).toBe(400);
    expect(asFloat.json.errors[0].extensions.code).toMatch(/GRAPHQL_VALIDATION_FAILED|BAD_USER_INPUT/);
    // JSON.parse reads 1e400 as Infinity too
    const body = `{"query":"mutation ($i: TrackEventInput!) { trackEvent(input: $i) { eventId } }","variables":{"i":{"eventId":"sec-inf","userId":"u1","productId":"p1","type":"PURCHASE","price":1e400}}}`;
    const asVariable = await post(system.url, body, { authorization: `Bearer ${service}` });
    expect(asVariable.status).toBe(400);
    expect(asVariable.json.errors[0].extensions.code).toBe('BAD_USER_INPUT');
    expect(await system.db.db.collection('events').countDocuments({ _id: eventKey('u1', 'sec-inf') as never })).toBe(0);
  });

  it('answers a subscription over HTTP with 400 pointing to the websocket', async () => {
    const result = await postQuery(system.url, 'subscription { bestSellersChanged { changedAt } }');
    expect(result.status).toBe(400);
    expect(result.json.errors[0].extensions.code).toBe('BAD_REQUEST');
    expect(result.json.errors[0].message).toMatch(/graphql-ws|WebSocket/i);
  });

  it('answers a document whose operation cannot be chosen with 400 BAD_REQUEST', async () => {
    const two = await postQuery(system.url, 'query A { categories { id } } query B { categories { name } }');
    expect(two.status).toBe(400);
    expect(two.json.errors[0]).toMatchObject({
      message: 'Must provide operation name if query contains multiple operations.',
      extensions: { code: 'BAD_REQUEST' },
    });
    const unknown = await post(system.url, JSON.stringify({ query: 'query A { categories { id } }', operationName: 'B' }));
    expect(unknown.status).toBe(400);
    expect(unknown.json.errors[0]).toMatchObject({ message: 'Unknown operation named "B".', extensions: { code: 'BAD_REQUEST' } });
  });

  it('answers a persisted query whose hash does not match with 400 BAD_REQUEST', async () => {
    const result = await post(system.url, JSON.stringify({ query: '{ __typename }', extensions: { persistedQuery: { version: 1, sha256Hash: 'abc' } } }));
    expect(result.status).toBe(400);
    expect(result.json.errors[0].extensions.code).toBe('BAD_REQUEST');
  });

  it('answers a value only a subgraph can check (a malformed DateTime) with BAD_USER_INPUT, storing nothing', async () => {
    const user = await system.token('u-date', 'user');
    const headers = { authorization: `Bearer ${user}` };
    const asVariable = await postQuery(
      system.url,
      'mutation ($e: [TrackEventInput!]!) { trackEvents(inputs: $e) { accepted } }',
      { e: [{ eventId: 'sec-date', userId: 'u-date', productId: 'p1', type: 'VIEW', occurredAt: 'garbage' }] },
      headers,
    );
    expect(asVariable.json.errors[0].extensions.code).toBe('BAD_USER_INPUT');
    expect(asVariable.json.errors[0].message).toMatch(/DateTime/);
    const asLiteral = await postQuery(
      system.url,
      'mutation { trackEvent(input: { eventId: "sec-date", userId: "u-date", productId: "p1", type: VIEW, occurredAt: "2025-01-01T00:00:00" }) { eventId } }',
      {},
      headers,
    );
    expect(asLiteral.json.errors[0].extensions.code).toBe('BAD_USER_INPUT');
    expect(await system.db.db.collection('events').countDocuments({ userId: 'u-date' })).toBe(0);
  });

  it('answers a body over 1 MB with 413', async () => {
    const result = await post(system.url, JSON.stringify({ query: '{ __typename }', variables: { pad: 'x'.repeat(2 * 1_048_576) } }));
    expect(result.status).toBe(413);
    // and the server still answers afterwards
    expect((await postQuery(system.url, '{ __typename }')).status).toBe(200);
  });
});

describe('a subgraph that is down (defect 10)', () => {
  it('answers SERVICE_UNAVAILABLE, not an internal error', async () => {
    const result = await postQuery(productionUrl, '{ product(id: "p1") { id name } }');
    expect(result.json.errors[0].extensions.code).toBe('SERVICE_UNAVAILABLE');
    expect(result.json.errors[0].message).not.toMatch(/127\.0\.0\.1|ECONNREFUSED/);
  });
});

describe('production mode (defect 11)', () => {
  it('turns introspection off', async () => {
    const result = await postQuery(productionUrl, '{ __schema { types { name } } }');
    expect(result.status).toBe(400);
    expect(result.json.errors[0].extensions.code).toBe('GRAPHQL_VALIDATION_FAILED');
    expect(result.json.data).toBeUndefined();
    // development keeps it on
    expect((await postQuery(system.url, '{ __schema { queryType { name } } }')).json.data.__schema.queryType.name).toBe('Query');
  });

  it('suggests no names in any error message', async () => {
    const token = await signClientToken({ subject: 'storefront', role: 'service' }, TEST_JWT_SECRET);
    const probes = [
      'mutation { trackEvent(input: { userId: "u1", productId: "p1", type: VIEWW }) { eventId } }',
      '{ bestSeller { rank } }',
      '{ bestSellers(limt: 2) { rank } }',
      'query ($k: SimilarityKnd) { similarProducts(productId: "p1", kind: $k) { rank } }',
      '{ similarProducts(productId: "p1", kind: ALSO_VIEWD) { rank } }',
    ];
    for (const query of probes) {
      const result = await postQuery(productionUrl, query, {}, { authorization: `Bearer ${token}` });
      expect(result.json.errors.length).toBeGreaterThan(0);
      for (const error of result.json.errors) expect(error.message).not.toMatch(/did you mean/i);
    }
    // in development the suggestion helps
    const dev = await postQuery(system.url, probes[0]!, {}, { authorization: `Bearer ${token}` });
    expect(dev.json.errors[0].message).toMatch(/Did you mean/);
  });
});
