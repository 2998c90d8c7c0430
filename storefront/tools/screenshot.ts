/**
 * The README's picture and the first-render figure, from a running `npm start`:
 *   node storefront/tools/screenshot.ts [--url http://localhost:3000/] [--customer 17850] [--out docs/images/storefront.png] [--loads 5]
 * Loads the page `--loads` times in a fresh browser context each (no cache) and prints the
 * first render (navigation start to the grid and "Recommended for you" shown) of each, then opens
 * a product of the customer's list and saves a screenshot once the widgets' animations are over.
 * Drives Debian's Chromium (CHROMIUM_PATH picks another); nothing is downloaded.
 */
import { parseArgs } from 'node:util';
import { launchChromium } from './browser.ts';

const { values } = parseArgs({
  options: {
    url: { type: 'string', default: 'http://localhost:3000/' },
    customer: { type: 'string', default: '17850' },
    out: { type: 'string', default: 'docs/images/storefront.png' },
    loads: { type: 'string', default: '5' },
  },
});
const browser = await launchChromium();
try {
  const page = `${values.url}?customer=${encodeURIComponent(values.customer)}`;
  const renders: number[] = [];
  for (let i = 0; i < Number(values.loads); i++) {
    const context = await browser.newContext({ viewport: { width: 1360, height: 900 } });
    const tab = await context.newPage();
    await tab.goto(page);
    await tab.waitForFunction(() => document.documentElement.dataset['firstRenderMs'] !== undefined, undefined, { timeout: 15_000 });
    renders.push(Number(await tab.evaluate(() => document.documentElement.dataset['firstRenderMs'])));
    await context.close();
  }
  const sorted = [...renders].sort((a, b) => a - b);
  console.log(`first render over ${renders.length} cold loads (ms): ${renders.join(', ')}; median ${sorted[Math.floor(sorted.length / 2)]}`);

  const context = await browser.newContext({ viewport: { width: 1360, height: 1180 } });
  const tab = await context.newPage();
  await tab.goto(page);
  await tab.locator('[data-testid="recommended"] li a').first().waitFor();
  // a product the customer is recommended, as a shopper would open it
  await tab.locator('[data-testid="recommended"] li a').nth(2).click();
  await tab.locator('[data-testid="product-page"]').waitFor();
  await tab.locator('[data-testid="best-sellers"] li').first().waitFor();
  await tab.locator('[data-testid="recently-viewed-items"] li').first().waitFor();
  // the view just tracked changes the list: once it has come and its animations are over
  const version = await tab.locator('[data-testid="recommended"]').getAttribute('data-version');
  await tab
    .waitForFunction((v) => document.querySelector<HTMLElement>('[data-testid="recommended"]')!.dataset['version'] !== v, version, { timeout: 5_000 })
    .catch(() => undefined);
  await tab.waitForFunction(() => document.getAnimations().length === 0);
  await tab.screenshot({ path: values.out });
  console.log(`screenshot: ${values.out}`);
} finally {
  await browser.close();
}
