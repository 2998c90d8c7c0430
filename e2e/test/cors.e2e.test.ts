import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSystem, type System } from '../src/system.ts';

/**
 * Browsers' cross-origin calls (a storefront's page on its own origin calling the gateway):
 * allowed for the origins in CORS_ORIGINS only, on the first gateway; none on the second, which
 * keeps the default (no origin).
 */
const SHOP = 'http://shop.localhost:3000';
let system: System;
let plain: number;

beforeAll(async () => {
  system = await startSystem({ label: 'cors', gateway: { CORS_ORIGINS: [SHOP] } });
  plain = await system.addGateway({ CORS_ORIGINS: [] });
});
afterAll(() => system.stop());

const preflight = (url: string, origin: string) =>
  fetch(url, {
    method: 'OPTIONS',
    headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization,content-type' },
  });

describe('CORS on /graphql', () => {
  it("answers a configured origin's preflight, and its requests carry the origin back", async () => {
    const answer = await preflight(system.url, SHOP);
    expect(answer.status).toBe(204);
    expect(answer.headers.get('access-control-allow-origin')).toBe(SHOP);
    expect(answer.headers.get('access-control-allow-methods')).toBe('GET,POST');
    expect(answer.headers.get('access-control-allow-headers')).toBe('content-type,authorization,apollo-require-preflight');
    expect(answer.headers.get('access-control-max-age')).toBe('600');
    expect(answer.headers.get('vary')).toContain('Origin');

    const response = await fetch(system.url, {
      method: 'POST',
      headers: { origin: SHOP, 'content-type': 'application/json' },
      body: JSON.stringify({ query: '{ categories { id } }' }),
    });
    expect(response.status).toBe(200);
    expect(response.headers.get('access-control-allow-origin')).toBe(SHOP);
    expect(await response.json()).toEqual({ data: { categories: [] } });
  });

  it('gives any other origin nothing that lets its page read the answer', async () => {
    const answer = await preflight(system.url, 'http://evil.localhost');
    expect(answer.headers.get('access-control-allow-origin')).toBeNull();
    const response = await fetch(system.url, {
      method: 'POST',
      headers: { origin: 'http://evil.localhost', 'content-type': 'application/json' },
      body: JSON.stringify({ query: '{ categories { id } }' }),
    });
    expect(response.headers.get('access-control-allow-origin')).toBeNull();
  });

  it('allows no origin by default', async () => {
    const url = system.gateways[plain]!.url;
    const answer = await preflight(url, SHOP);
    expect(answer.headers.get('access-control-allow-origin')).toBeNull();
    expect(answer.status).not.toBe(204);
  });
});
