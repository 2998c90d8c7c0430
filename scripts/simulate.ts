/**
 * Sends a synthetic clickstream to a running gateway (see devkit/src/simulator.ts for the model):
 *   npm run simulate -- [--url URL] [--rate EVENTS_PER_S] [--users N] [--seed N] [--duration S] [--user-ids A,B,...]
 * --user-ids: real user ids that shop as well (npm start passes Online Retail CustomerIDs whose
 * history it imported, so their buy-again lists show), each as active as a synthetic shopper.
 * It signs a development service token with JWT_SECRET (or the running `npm start`'s key).
 * One shopper, `--focus` (default shopper-1), browses every few seconds so a live subscription
 * to their recommendations shows changes soon; `--widget true` (the default) holds one such
 * subscription itself, as the shopper's open page would, so event-to-subscriber freshness
 * (recs_freshness_delivered_seconds) has deliveries to measure.
 */
import { parseArgs } from 'node:util';
import { ClickstreamSimulator, type SimulatedEvent, type SimulatorProduct } from '@recs/devkit';
import { signClientToken } from '@recs/shared';
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';
import { devJwtSecret, readDevEnv } from './lib/devProfile.ts';

const { values } = parseArgs({
  options: {
    url: { type: 'string', default: process.env['GATEWAY_URL'] ?? 'http://127.0.0.1:4000/graphql' },
    rate: { type: 'string', default: '10' },
    users: { type: 'string', default: '200' },
    seed: { type: 'string', default: '42' },
    duration: { type: 'string', default: '0' },
    focus: { type: 'string', default: '1' },
    'focus-every': { type: 'string', default: '5' },
    widget: { type: 'string', default: 'true' },
    'user-ids': { type: 'string', default: '' },
  },
});
const rate = Number(values.rate);
const users = Number(values.users);
const seed = Number(values.seed);
const duration = Number(values.duration);
const focus = Number(values.focus);
const focusEvery = Number(values['focus-every']) * 1_000;
for (const [name, value] of Object.entries({ rate, users, seed, duration, focus })) {
  if (!Number.isFinite(value) || value < 0) {
    console.error(`--${name} must be a non-negative number`);
    process.exit(2);
  }
}

const secret = process.env['JWT_SECRET'] ?? readDevEnv()?.['JWT_SECRET'] ?? devJwtSecret();
const token = await signClientToken({ subject: 'clickstream-simulator', role: 'service', expiresIn: '30d' }, secret);

/** Aborted by SIGINT / SIGTERM: the request in flight and the wait between ticks end at once, so the simulator stops promptly however slow the gateway is. */
const stop = new AbortController();
process.on('SIGINT', () => stop.abort());
process.on('SIGTERM', () => stop.abort());

async function graphql<T>(query: string, variables: Record<string, unknown> = {}): Promise<T> {
  const response = await fetch(values.url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify({ query, variables }),
    signal: stop.signal,
  });
  const body = (await response.json()) as { data?: T; errors?: { message: string }[] };
  if (body.errors !== undefined && body.errors.length > 0) throw new Error(body.errors.map((e) => e.message).join('; '));
  return body.data as T;
}

async function loadCatalog(): Promise<SimulatorProduct[]> {
  const products: SimulatorProduct[] = [];
  let after: string | null = null;
  for (;;) {
    const page: {
      products: {
        edges: { node: { id: string; price: number | null; category: { id: string } | null } }[];
        pageInfo: { hasNextPage: boolean; endCursor: string | null };
      };
    } = await graphql(
      `query ($after: String) { products(first: 100, after: $after) { edges { node { id price category { id } } } pageInfo { hasNextPage endCursor } } }`,
      { after },
    );
    for (const { node } of page.products.edges) {
      products.push({ id: node.id, categoryId: node.category?.id ?? 'none', ...(node.price === null ? {} : { price: node.price }) });
    }
    if (!page.products.pageInfo.hasNextPage) return products;
    after = page.products.pageInfo.endCursor;
  }
}

const catalog = await loadCatalog().catch((error: unknown) => {
  // stopped while it was still reading the catalog
  if (stop.signal.aborted) process.exit(0);
  throw error;
});
if (catalog.length === 0) {
  console.error('The catalog is empty: import one first (npm run import-catalog).');
  process.exit(1);
}
const userIds = values['user-ids']
  .split(',')
  .map((id) => id.trim())
  .filter((id) => id !== '');
const simulator = new ClickstreamSimulator({ seed, users, products: catalog, userIds });
console.log(
  `simulating ${users} shoppers${userIds.length > 0 ? ` and ${userIds.length} given customers` : ''} over ${catalog.length} products at ~${rate} events/s (seed ${seed}); focus: ${simulator.userId(focus)}`,
);

/** The focus shopper's open page: a live subscription to their recommendations, reconnecting as a widget does. */
let deliveries = 0;
const widget =
  focus > 0 && values.widget !== 'false'
    ? createClient({
        url: values.url.replace(/^http/, 'ws'),
        webSocketImpl: WebSocket,
        connectionParams: { authorization: `Bearer ${token}` },
        retryAttempts: Number.POSITIVE_INFINITY,
        shouldRetry: () => true,
      })
    : undefined;
widget?.subscribe(
  { query: 'subscription ($user: ID!) { recommendationsChanged(userId: $user) { version } }', variables: { user: simulator.userId(focus) } },
  {
    next: () => {
      deliveries++;
    },
    error: (error) => console.error(`live widget: ${error instanceof Error ? error.message : JSON.stringify(error)}`),
    complete: () => undefined,
  },
);

let sent = 0;
let accepted = 0;
let buffer: SimulatedEvent[] = [];
let lastFocus = 0;
let lastReport = Date.now();
const started = Date.now();
while (!stop.signal.aborted && (duration === 0 || Date.now() - started < duration * 1_000)) {
  const tickStarted = Date.now();
  if (focus > 0 && tickStarted - lastFocus >= focusEvery) {
    buffer.push(...simulator.session(focus));
    lastFocus = tickStarted;
  }
  const quota = Math.max(1, Math.round(rate / 4));
  while (buffer.length < quota) buffer.push(...simulator.session());
  const batch = buffer.slice(0, Math.min(quota, 1_000));
  buffer = buffer.slice(batch.length);
  try {
    const result = await graphql<{ trackEvents: { accepted: number } }>(`mutation ($e: [TrackEventInput!]!) { trackEvents(inputs: $e) { accepted } }`, {
      e: batch,
    });
    sent += batch.length;
    accepted += result.trackEvents.accepted;
  } catch (error) {
    // stopped mid-request: the batch may or may not have been stored, as for any client that goes away
    if (stop.signal.aborted) break;
    console.error(`trackEvents failed: ${(error as Error).message}`);
  }
  if (Date.now() - lastReport >= 15_000) {
    console.log(
      `sent ${sent} events (${accepted} accepted) in ${Math.round((Date.now() - started) / 1000)} s${widget === undefined ? '' : `; ${deliveries} live list changes received`}`,
    );
    lastReport = Date.now();
  }
  await new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, Math.max(0, 250 - (Date.now() - tickStarted)));
    stop.signal.addEventListener(
      'abort',
      () => {
        clearTimeout(timer);
        resolve();
      },
      { once: true },
    );
  });
}
console.log(`stopped after ${sent} events (${accepted} accepted)`);
// graphql-ws's dispose() waits for a connection attempt in flight, which may never settle: the
// widget's socket must not keep the simulator alive (stdout to a pipe is written synchronously)
void widget?.dispose();
process.exit(0);
