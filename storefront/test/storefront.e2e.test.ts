import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { freePort, TEST_JWT_SECRET } from '@recs/devkit';
import { nextResult, startSystem, type System } from '@recs/e2e';
import { closeServer, COLLECTIONS, createLogger, listen } from '@recs/shared';
import type { Browser, ConsoleMessage, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createStorefrontServer, type Storefront } from '../src/server.ts';
import { launchChromium } from '../tools/browser.ts';

/**
 * The storefront in a real browser (Debian's Chromium, driven by playwright-core; nothing is
 * downloaded): a shopper's clicks go from the page to the gateway, through the workers, and
 * back to the page's widgets over the websocket, with no reload.
 */
export const ARTIFACTS = join(import.meta.dirname, '..', 'test-results');

const kitchen = (id: string, name: string, price: number) => ({ id, name, price, categoryId: 'kitchen', categoryName: 'Kitchen & Dining' });
const lights = (id: string, name: string, price: number) => ({ id, name, price, categoryId: 'lights', categoryName: 'Candles & Lights' });
const garden = (id: string, name: string, price: number) => ({ id, name, price, categoryId: 'garden', categoryName: 'Garden' });
const CATALOG = [
  kitchen('k1', 'Enamel mug', 4.95),
  kitchen('k2', 'Blue teapot', 12.5),
  kitchen('k3', 'Cake tin', 6.75),
  kitchen('k4', 'Tea towel', 2.95),
  kitchen('k5', 'Milk jug', 5.5),
  kitchen('k6', 'Sugar bowl', 4.25),
  kitchen('k7', 'Egg cups', 3.4),
  lights('l1', 'Beeswax candle', 3.2),
  lights('l2', 'Tin lantern', 8),
  lights('l3', 'Tea light holder', 2.1),
  lights('l4', 'Star fairy lights', 9.95),
  lights('l5', 'Glass lantern', 11),
  garden('g1', 'Watering can', 14),
  garden('g2', 'Seed tray', 3.5),
  garden('g3', 'Bird feeder', 7.25),
];
const SHOPPER = 'shopper-a';

let system: System;
let storefront: Storefront;
let origin: string;
let browser: Browser;
let backend: string;

/** Tracks events as the shop's backend would (a service token), through the second gateway while the first is down. */
let seq = 0;
async function track(userId: string, productIds: string[], type: string, sessionId?: string, gateway = 0): Promise<void> {
  const at = Date.now() - 3_600_000;
  const e = productIds.map((productId, i) => ({
    eventId: `sf-${++seq}`,
    userId,
    productId,
    type,
    occurredAt: new Date(at + i * 1_000).toISOString(),
    ...(sessionId === undefined ? {} : { sessionId }),
  }));
  const { data, errors } = await system.query(`mutation ($e: [TrackEventInput!]!) { trackEvents(inputs: $e) { accepted } }`, { e }, backend, gateway);
  expect(errors).toBeUndefined();
  expect(data).toEqual({ trackEvents: { accepted: e.length } });
}

/** What "Recommended for you" shows: its version and its products in order. */
async function recommended(page: Page): Promise<{ version: number; ids: string[] }> {
  return page.evaluate(() => {
    const root = document.querySelector<HTMLElement>('[data-testid="recommended"]')!;
    return {
      version: Number(root.dataset['version'] ?? -1),
      ids: [...root.querySelectorAll<HTMLElement>('li[data-product-id]')].map((li) => li.dataset['productId']!),
    };
  });
}

async function waitForVersionAbove(page: Page, version: number, timeout: number): Promise<void> {
  await page.waitForFunction((v) => Number(document.querySelector<HTMLElement>('[data-testid="recommended"]')?.dataset['version'] ?? -1) > v, version, {
    timeout,
    polling: 'raf',
  });
}

/** Waits until "Recently viewed" lists exactly these products, in this order (it refreshes once each view is stored). */
async function recentlyViewed(page: Page, ids: readonly string[]): Promise<void> {
  await page.waitForFunction(
    (expected) =>
      [...document.querySelectorAll<HTMLElement>('[data-testid="recently-viewed-items"] li')].map((li) => li.dataset['productId']).join() === expected.join(),
    ids,
    { timeout: 15_000 },
  );
}

async function openProduct(page: Page, id: string): Promise<void> {
  await page.locator(`[data-testid="product-card"][data-product-id="${id}"]`).click();
  await page.locator(`[data-testid="product-page"][data-product-id="${id}"]`).waitFor();
}

beforeAll(async () => {
  const port = await freePort();
  origin = `http://127.0.0.1:${port}`;
  // two gateways: the page uses the first; the second carries the backend's events while the first restarts
  system = await startSystem({ label: 'storefront', gateways: 2, gateway: { CORS_ORIGINS: [origin] } });
  backend = await system.token('shop-backend', 'service');
  const admin = await system.token('admin', 'admin');
  const { errors } = await system.query(`mutation ($p: [ProductInput!]!) { upsertProducts(products: $p) { created } }`, { p: CATALOG }, admin);
  expect(errors).toBeUndefined();
  // the workers' catalog has it before the first event (it follows changes by message otherwise)
  await system.catalog.load();

  // other shoppers: lights bought together, kitchen products viewed together and bought
  await track('u1', ['l1', 'l3', 'k4'], 'PURCHASE');
  await track('u2', ['l2', 'l4', 'k4'], 'PURCHASE');
  await track('u3', ['l1', 'l4', 'k5'], 'PURCHASE');
  await track('u4', ['k1', 'k2', 'k5', 'k6'], 'VIEW', 'u4-s1');
  await track('u5', ['k2', 'k3', 'k6', 'k7'], 'VIEW', 'u5-s1');
  await track('u6', ['k1', 'k3', 'k7', 'k5'], 'VIEW', 'u6-s1');
  await track('u7', ['g1', 'g2', 'g3'], 'VIEW', 'u7-s1');
  await track('u8', ['g1', 'g3'], 'PURCHASE');
  // the shopper bought two lights before
  await track(SHOPPER, ['l1', 'l2'], 'PURCHASE');
  // the workers have made the shopper's list (sinceVersion 0: it comes at once if it is there already)
  const listed = nextResult(system.wsClient(backend), `subscription ($u: ID!) { recommendationsChanged(userId: $u, sinceVersion: 0) { version } }`, {
    u: SHOPPER,
  });
  expect((await listed.result).errors).toBeUndefined();

  storefront = await createStorefrontServer({
    gatewayUrl: system.url,
    jwtSecret: TEST_JWT_SECRET,
    customers: [{ id: SHOPPER, label: 'Shopper A' }],
    logger: createLogger('storefront-test', 'silent'),
  });
  await listen(storefront.http, port);
  browser = await launchChromium();
  mkdirSync(ARTIFACTS, { recursive: true });
});

afterAll(async () => {
  await browser?.close();
  if (storefront?.http.listening) await closeServer(storefront.http);
  await system?.stop();
});

describe('the storefront in Chromium', () => {
  it('changes live as the shopper browses, buys and prunes their history, and catches up after a gateway restart', { timeout: 120_000 }, async () => {
    const page = await browser.newPage({ viewport: { width: 1360, height: 900 } });
    const consoleErrors: { at: number; text: string }[] = [];
    const onConsole = (message: ConsoleMessage) => {
      if (message.type() === 'error') consoleErrors.push({ at: Date.now(), text: message.text() });
    };
    page.on('console', onConsole);
    page.on('pageerror', (error) => consoleErrors.push({ at: Date.now(), text: `uncaught: ${error.message}` }));
    let loads = 0;
    page.on('load', () => loads++);

    await page.goto(`${origin}/?customer=${SHOPPER}`);
    await page.locator('[data-testid="product-card"]').first().waitFor();
    await page.waitForFunction(() => document.documentElement.dataset['firstRenderMs'] !== undefined);
    const firstRenderMs = Number(await page.evaluate(() => document.documentElement.dataset['firstRenderMs']));
    await page.locator('[data-testid="live-status"][data-state="live"]').waitFor();
    const before = await recommended(page);
    expect(before.version).toBeGreaterThan(0);
    // the two lights bought before come back as buy-again, said in words
    await page.locator('[data-testid="recommended"] .why', { hasText: 'You bought this before' }).first().waitFor();

    // three products of one category
    await page.locator('[data-category="kitchen"]').click();
    await page.locator('[data-testid="result-count"]', { hasText: '7 products' }).waitFor();
    for (const id of ['k1', 'k2', 'k3']) {
      await openProduct(page, id);
      await page.goBack();
      await page.locator('[data-testid="product-grid"]').waitFor();
    }
    const viewedAt = Date.now();
    // within 2 s, without a reload, the list has the kitchen products viewed with them
    await page.waitForFunction(
      (old) => {
        const items = [...document.querySelectorAll<HTMLElement>('[data-testid="recommended"] li[data-product-id]')].map((li) => li.dataset['productId']);
        return items.join() !== old.join() && items.some((id) => ['k5', 'k6', 'k7'].includes(id!));
      },
      before.ids,
      { timeout: 2_000, polling: 'raf' },
    );
    const changedAfterMs = Date.now() - viewedAt;
    const afterViews = await recommended(page);
    expect(afterViews.version).toBeGreaterThan(before.version);
    const words = await page.locator('[data-testid="recommended"] .why').allTextContents();
    expect(words.some((w) => /^Viewed with (Enamel mug|Blue teapot|Cake tin)$/.test(w) || w === 'Popular in Kitchen & Dining')).toBe(true);
    // the best sellers follow the category on screen
    await page.locator('[data-testid="best-sellers"][data-category="kitchen"] li[data-product-id="k4"]').waitFor();

    // recently viewed: the three products, newest first; one removed stays removed
    await recentlyViewed(page, ['k3', 'k2', 'k1']);
    await page.locator('[data-testid="recently-viewed-items"] li[data-product-id="k2"] [data-action="remove"]').click();
    await recentlyViewed(page, ['k3', 'k1']);
    const { data: history } = await system.query<{ user: { browsingHistory: { product: { id: string } }[] } }>(
      `query ($u: ID!) { user(id: $u) { browsingHistory { product { id } } } }`,
      { u: SHOPPER },
      backend,
    );
    expect(history!.user.browsingHistory.map((entry) => entry.product.id)).toEqual(['k3', 'k1']);

    // buying a recommended product moves it or takes it off the list
    const shown = await recommended(page);
    const bought = shown.ids.find((id) => id.startsWith('k'))!;
    const position = shown.ids.indexOf(bought);
    const servedAs = await page.locator('[data-testid="recommended"]').getAttribute('data-recommendation-id');
    expect(servedAs).toMatch(/^r1~/);
    await page.locator(`[data-testid="recommended"] li[data-product-id="${bought}"] a`).click();
    await page.locator(`[data-testid="product-page"][data-product-id="${bought}"] [data-action="add-to-cart"]`).click();
    await page.locator('[data-testid="cart"][data-lines="1"]').waitFor();
    const beforeBuying = await recommended(page);
    await page.locator('[data-testid="cart"] [data-action="buy"]').click();
    await page.locator('[data-testid="order-placed"]').waitFor();
    await page.waitForFunction(
      ([v, id, at]) => {
        const root = document.querySelector<HTMLElement>('[data-testid="recommended"]')!;
        const items = [...root.querySelectorAll<HTMLElement>('li[data-product-id]')].map((li) => li.dataset['productId']);
        return Number(root.dataset['version']) > (v as number) && items.indexOf(id as string) !== at;
      },
      [beforeBuying.version, bought, position] as const,
      { timeout: 10_000, polling: 'raf' },
    );

    // once the list's animations are over
    await page.waitForFunction(() => document.getAnimations().length === 0);
    await page.screenshot({ path: join(ARTIFACTS, 'storefront.png') });
    // the click, the basket add and the purchase are attributed to the list they came from
    const attributed = await system.db.db
      .collection<{ userId: string; productId: string; type: string; receivedAt: Date; recommendationId?: string }>(COLLECTIONS.events)
      .find({ userId: SHOPPER, productId: bought, type: { $in: ['CLICK', 'ADD_TO_CART', 'PURCHASE'] } })
      .sort({ receivedAt: -1 })
      .toArray();
    // the newest of each type (the grid may have been clicked before, unattributed)
    const newest = (type: string) => attributed.find((event) => event.type === type)?.recommendationId;
    expect([newest('CLICK'), newest('ADD_TO_CART'), newest('PURCHASE')]).toEqual([servedAs, servedAs, servedAs]);

    // the gateway restarts; meanwhile the shopper's list changes (their phone, through the other gateway)
    const beforeRestart = await recommended(page);
    const restartStarted = Date.now();
    await system.gateway(0).stop();
    await page.locator('[data-testid="live-status"][data-state="reconnecting"]').waitFor();
    const watcher = system.wsClient(backend, 1);
    const changed = nextResult<{ recommendationsChanged: { version: number } }>(
      watcher,
      `subscription ($u: ID!, $v: Int) { recommendationsChanged(userId: $u, sinceVersion: $v) { version } }`,
      { u: SHOPPER, v: beforeRestart.version },
    );
    await track(SHOPPER, ['g1', 'g2', 'g3'], 'VIEW', 'phone-1', 1);
    const missed = (await changed.result).data!.recommendationsChanged.version;
    expect(missed).toBeGreaterThan(beforeRestart.version);
    changed.dispose();
    // the page still shows the list from before: nothing reached it
    expect((await recommended(page)).version).toBe(beforeRestart.version);
    await system.gateway(0).start();
    // it reconnects and, resuming from the version it showed, gets the list it missed
    await page.locator('[data-testid="live-status"][data-state="live"]').waitFor({ timeout: 15_000 });
    const restartEnded = Date.now();
    await waitForVersionAbove(page, beforeRestart.version, 10_000);
    expect((await recommended(page)).version).toBe(missed);
    expect(await page.locator('[data-testid="recommended"] li[data-product-id^="g"]').count()).toBeGreaterThan(0);

    expect(loads).toBe(1);
    // the only errors are the browser's own reports of the refused connections while the gateway was down
    const unexpected = consoleErrors.filter(
      ({ at, text }) => !(at >= restartStarted && at <= restartEnded && /WebSocket connection to .* failed|ERR_CONNECTION_REFUSED/.test(text)),
    );
    expect(unexpected).toEqual([]);
    console.log(
      `storefront in Chromium: first render ${firstRenderMs} ms after navigation start; list changed ${changedAfterMs} ms after the third view; ` +
        `gateway down ${restartEnded - restartStarted} ms; script ${(storefront.scriptBytes / 1024).toFixed(1)} KiB; screenshot ${join(ARTIFACTS, 'storefront.png')}`,
    );
    await page.close();
  });
});
