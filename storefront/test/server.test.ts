import type { AddressInfo } from 'node:net';
import { TEST_JWT_SECRET } from '@recs/devkit';
import { closeServer, createLogger, listen, verifyClientToken } from '@recs/shared';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createStorefrontServer, type Storefront } from '../src/server.ts';

/** The shop's backend over real HTTP: the page and its script, and the sign-in that mints tokens. */
let storefront: Storefront;
let base: string;

beforeAll(async () => {
  storefront = await createStorefrontServer({
    gatewayUrl: 'http://127.0.0.1:4999/graphql',
    jwtSecret: TEST_JWT_SECRET,
    customers: [{ id: '17850', label: 'Customer 17850' }],
    logger: createLogger('storefront-test', 'silent'),
  });
  await listen(storefront.http, 0);
  base = `http://127.0.0.1:${(storefront.http.address() as AddressInfo).port}`;
});
afterAll(() => closeServer(storefront.http));

const signIn = (body: string) => fetch(`${base}/session`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });

describe('the storefront server', () => {
  it('serves the page with the gateway it calls, a policy that lets it call only that gateway, and the bundled script', async () => {
    const page = await fetch(`${base}/`);
    expect(page.status).toBe(200);
    const html = await page.text();
    const config = JSON.parse(/<script type="application\/json" id="storefront-config">(.*?)<\/script>/s.exec(html)![1]!) as {
      gatewayUrl: string;
      customers: unknown[];
    };
    expect(config).toEqual({ gatewayUrl: 'http://127.0.0.1:4999/graphql', customers: [{ id: '17850', label: 'Customer 17850' }] });
    expect(page.headers.get('content-security-policy')).toContain("connect-src 'self' http://127.0.0.1:4999 ws://127.0.0.1:4999;");
    expect(page.headers.get('content-security-policy')).toContain("script-src 'self'");

    const script = await fetch(`${base}/app.js`);
    expect(script.headers.get('content-type')).toMatch(/^text\/javascript/);
    const code = await script.text();
    expect(code.length).toBe(storefront.scriptBytes);
    // graphql-ws's client is in the bundle, and the page's own code
    expect(code).toContain('graphql-transport-ws');
    expect(code).toContain('recommendationsChanged');
    const again = await fetch(`${base}/app.js`, { headers: { 'if-none-match': script.headers.get('etag')! } });
    expect(again.status).toBe(304);
    expect((await fetch(`${base}/styles.css`)).status).toBe(200);
    expect((await fetch(`${base}/nothing-here`)).status).toBe(404);
  });

  it('signs a picker customer in with a token the gateway accepts for that customer only', async () => {
    const response = await signIn(JSON.stringify({ customerId: '17850' }));
    expect(response.status).toBe(200);
    expect(response.headers.get('cache-control')).toBe('no-store');
    const { userId, token, expiresAt } = (await response.json()) as { userId: string; token: string; expiresAt: string };
    expect(userId).toBe('17850');
    expect(await verifyClientToken(token, TEST_JWT_SECRET)).toEqual({ kind: 'authenticated', subject: '17850', role: 'user' });
    const lifetime = Date.parse(expiresAt) - Date.now();
    expect(lifetime).toBeGreaterThan(3_500_000);
    expect(lifetime).toBeLessThanOrEqual(3_600_000);
  });

  it('gives a new visitor an id of their own, and signs them in again with it', async () => {
    const first = (await (await signIn('{}')).json()) as { userId: string };
    expect(first.userId).toMatch(/^visitor-[0-9a-f]{16}$/);
    const second = (await (await signIn('{}')).json()) as { userId: string };
    expect(second.userId).not.toBe(first.userId);
    const back = (await (await signIn(JSON.stringify({ customerId: first.userId }))).json()) as { userId: string };
    expect(back.userId).toBe(first.userId);
  });

  it('refuses anyone else, and bad requests, with a coded error and no token', async () => {
    for (const [body, status, code] of [
      [JSON.stringify({ customerId: '12345' }), 400, 'UNKNOWN_CUSTOMER'],
      [JSON.stringify({ customerId: 'visitor-xyz' }), 400, 'UNKNOWN_CUSTOMER'],
      [JSON.stringify({ customerId: 17850 }), 400, 'UNKNOWN_CUSTOMER'],
      ['{not json', 400, 'BAD_REQUEST'],
      [JSON.stringify({ customerId: 'x'.repeat(2_000) }), 413, 'TOO_LARGE'],
    ] as const) {
      const response = await signIn(body);
      expect(response.status, body.slice(0, 40)).toBe(status);
      const answer = (await response.json()) as { code: string; token?: string };
      expect(answer.code).toBe(code);
      expect(answer.token).toBeUndefined();
    }
    expect((await fetch(`${base}/session`)).status).toBe(405);
  });
});
