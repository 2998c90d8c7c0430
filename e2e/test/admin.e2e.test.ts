import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectionOf, maintenanceQueue, RedisNames } from '@recs/shared';
import { Worker } from 'bullmq';
import { startSystem, type System } from '../src/system.ts';

/**
 * The queue board (Bull Board at /admin/queues) through a real gateway: admins only, by header or
 * by the browser's login cookie, every queue with its counts, read-only unless BULL_BOARD_WRITE.
 */
let system: System;
/** A gateway of the same system with BULL_BOARD_WRITE on. */
let writable: number;
let adminToken: string;
let userToken: string;
let serviceToken: string;

const base = (gateway = 0) => system.gateways[gateway]!.url.replace(/\/graphql$/, '/admin/queues');
const get = (path: string, headers: Record<string, string> = {}, gateway = 0) => fetch(`${base(gateway)}${path}`, { headers, redirect: 'manual' });
const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
const MAINTENANCE = encodeURIComponent(RedisNames.queues.maintenance);

interface BoardQueue {
  readonly name: string;
  readonly displayName?: string;
  readonly counts: Record<string, number>;
  readonly readOnlyMode: boolean;
}

beforeAll(async () => {
  system = await startSystem({ label: 'admin' });
  writable = await system.addGateway({ BULL_BOARD_WRITE: true });
  adminToken = await system.token('ops', 'admin');
  userToken = await system.token('shopper', 'user');
  serviceToken = await system.token('backend', 'service');
  // a failed job and a waiting one on the maintenance queue (no maintenance worker runs here)
  const queue = maintenanceQueue(system.redis, system.prefix);
  await queue.add('prune', {}, { attempts: 1 });
  const failing = new Worker(
    RedisNames.queues.maintenance,
    async () => {
      throw new Error('pruning failed');
    },
    { connection: connectionOf(system.redis), prefix: system.prefix, autorun: false },
  );
  const failed = new Promise((resolve) => failing.once('failed', resolve));
  void failing.run();
  await failed;
  await failing.close();
  await queue.add('tick', {});
  await queue.close();
});

afterAll(async () => {
  await maintenanceQueue(system.redis, system.prefix)
    .obliterate({ force: true })
    .catch(() => undefined);
  await system?.stop();
});

describe('queue board', () => {
  it('refuses a request without a token with 401, and a bad token too', async () => {
    for (const path of ['/', '/api/queues', '/static/js/main.js']) {
      const response = await get(path);
      expect(response.status).toBe(401);
      expect(response.headers.get('www-authenticate')).toBe('Bearer');
      expect(await response.text()).toMatch(/\/admin\/queues\/login/);
    }
    expect((await get('/api/queues', { authorization: 'Bearer not-a-token' })).status).toBe(401);
    expect((await get('/api/queues', { cookie: 'recs_admin=not-a-token' })).status).toBe(401);
  });

  it('refuses a user or service token with 403', async () => {
    expect((await get('/api/queues', bearer(userToken))).status).toBe(403);
    expect((await get('/api/queues', bearer(serviceToken))).status).toBe(403);
    expect((await get('/', bearer(userToken))).status).toBe(403);
  });

  it('lists every queue with its counts to an admin', async () => {
    const response = await get('/api/queues', bearer(adminToken));
    expect(response.status).toBe(200);
    const { queues } = (await response.json()) as { queues: BoardQueue[] };
    expect(queues.map((queue) => queue.displayName).sort()).toEqual(['events', 'lists', 'maintenance']);
    const maintenance = queues.find((queue) => queue.name === RedisNames.queues.maintenance)!;
    expect(maintenance.counts).toMatchObject({ waiting: 1, failed: 1 });
    expect(queues.every((queue) => queue.readOnlyMode)).toBe(true);
    // the UI itself
    const page = await get('/', bearer(adminToken));
    expect(page.status).toBe(200);
    expect(await page.text()).toMatch(/<html/i);
  });

  it('lets a browser in with the login cookie, and keeps a non-admin out of it', async () => {
    const login = await get(`/login?token=${encodeURIComponent(adminToken)}`);
    expect(login.status).toBe(303);
    expect(login.headers.get('location')).toBe('/admin/queues/');
    const setCookie = login.headers.get('set-cookie') ?? '';
    expect(setCookie).toMatch(/^recs_admin=[^;]+;/);
    expect(setCookie).toMatch(/; HttpOnly/i);
    expect(setCookie).toMatch(/; SameSite=Strict/i);
    expect(setCookie).toMatch(/; Path=\/admin\/queues(;|$)/);
    expect(setCookie).toMatch(/; Expires=/);
    const cookie = setCookie.split(';')[0]!;
    expect((await get('/api/queues', { cookie })).status).toBe(200);
    // the page and the scripts it loads, as a browser fetches them (the cookie's path covers them)
    const page = await get('/', { cookie });
    expect(page.status).toBe(200);
    const html = await page.text();
    // the page's <base href> makes its relative asset paths absolute
    const baseHref = /<base href="([^"]+)"/.exec(html)?.[1] ?? '/admin/queues/';
    const script = new URL(/<script[^>]+src="([^"]+)"/.exec(html)![1]!, new URL(baseHref, base()));
    expect(script.pathname).toMatch(/^\/admin\/queues\/static\//);
    const asset = await fetch(script, { headers: { cookie } });
    expect(asset.status).toBe(200);
    expect((await fetch(script)).status).toBe(401);

    // the form's POST sets the same cookie
    const posted = await fetch(`${base()}/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ token: adminToken }).toString(),
      redirect: 'manual',
    });
    expect(posted.status).toBe(303);
    expect(posted.headers.get('set-cookie')).toMatch(/^recs_admin=/);
    // without a token the login page is a form
    expect(await (await get('/login')).text()).toMatch(/<form method="post">/);

    const refused = await get(`/login?token=${encodeURIComponent(userToken)}`);
    expect(refused.status).toBe(403);
    expect(refused.headers.get('set-cookie')).toBeNull();
    // a user's token in the cookie is checked like any token
    expect((await get('/api/queues', { cookie: `recs_admin=${userToken}` })).status).toBe(403);
  });

  it('refuses a retry in read-only mode, and allows it with BULL_BOARD_WRITE', async () => {
    const retry = (gateway: number) => fetch(`${base(gateway)}/api/queues/${MAINTENANCE}/retry/failed`, { method: 'PUT', headers: bearer(adminToken) });
    expect((await retry(0)).status).toBe(405);
    const counts = async (gateway: number) => {
      const { queues } = (await (await get('/api/queues', bearer(adminToken), gateway)).json()) as { queues: BoardQueue[] };
      return queues.find((queue) => queue.name === RedisNames.queues.maintenance)!.counts;
    };
    expect(await counts(0)).toMatchObject({ failed: 1 });

    expect((await retry(writable)).status).toBe(200);
    expect(await counts(writable)).toMatchObject({ failed: 0, waiting: 2 });
  });
});
