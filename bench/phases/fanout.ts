import type { Client } from 'graphql-ws';
import type { CpuMeter, CpuUsage } from '../lib/cpu.ts';
import { sampleValue } from '../lib/scrape.ts';
import { percentile, sleep, summarize, type Summary } from '../lib/stats.ts';
import type { BenchSystem } from '../lib/system.ts';

export interface FanoutResult {
  /** Subscribers asked for (--subscribers) and rounds run (--rounds). */
  readonly subscribers: number;
  readonly rounds: number;
  /**
   * What failed, each counted and the phase going on without it: sockets that closed or failed
   * while connecting, subscriptions that ended with an error or completed (before or during the
   * rounds; their deliveries after that are not awaited), and rounds whose purchase failed (no
   * delivery measured), with the first few messages.
   */
  readonly failed: {
    readonly connections: number;
    readonly subscriptions: number;
    readonly rounds: number;
    readonly messages: readonly string[];
  };
  /** Seconds to open every socket (in waves of CONNECT_WAVE) and see every subscription active on the gateway. */
  readonly connectSeconds: number;
  /**
   * Per round, from the purchase's trackEvent answer to the first subscriber's message, to the
   * median subscriber's and to the last one's; each a summary over the rounds.
   */
  readonly firstDeliveryMs: Summary;
  readonly medianDeliveryMs: Summary;
  readonly lastDeliveryMs: Summary;
  /** Every delivery of every round, from the same start. */
  readonly deliveryMs: Summary;
  /** Subscriber-rounds without a message within ROUND_TIMEOUT_MS, of the subscribers open at the round's start. */
  readonly missed: number;
  /** CPU of the delivery rounds alone (not of connecting): the cost of one change fanned out. */
  readonly roundsCpu: CpuUsage;
  readonly gatewayMemoryMiB: { readonly before: number; readonly withSubscribers: number; readonly after: number };
  /** This process's resident memory while it held every subscriber's socket. */
  readonly benchMemoryMiB: number;
}

const LIVE = `subscription { bestSellersChanged { changedAt items { rank product { name } } } }`;
const FIELD = 'bestSellersChanged';
/** Sockets opened at once: a wave is connected before the next starts, so the gateway's accept queue never overflows. */
const CONNECT_WAVE = 500;
const ROUND_TIMEOUT_MS = 10_000;
/** Failure messages kept for the report. */
const MESSAGES_KEPT = 5;

/** A subscription's error as graphql-ws hands it: an Error, the socket's close event, or the operation's GraphQL errors. */
function describeError(error: unknown): string {
  if (error instanceof Error) return error.message;
  if (Array.isArray(error)) return error.map((e: { message?: string }) => e.message ?? 'error').join('; ');
  const { code, reason } = error as { code?: number; reason?: string };
  return `socket closed (${code ?? 'no code'}${reason ? `: ${reason}` : ''})`;
}

/** Opens one socket and resolves once graphql-ws says it is connected (acknowledged), or rejects when it closes first. */
function connected(client: Client): Promise<void> {
  return new Promise((resolve, reject) => {
    const offConnected = client.on('connected', () => {
      offConnected();
      offClosed();
      resolve();
    });
    const offClosed = client.on('closed', (event) => {
      offConnected();
      offClosed();
      reject(new Error(`a subscriber's socket closed while connecting (${(event as { code?: number }).code ?? 'no code'})`));
    });
  });
}

/**
 * `subscribers` WebSocket connections (one per subscriber, as browsers hold them), each
 * subscribed to the overall best sellers; each round a new shopper buys the top product, which
 * changes the ranking, and the round ends when every subscriber has its message. A connection,
 * subscription or purchase that fails is counted (FanoutResult.failed), never the end of the run.
 */
export async function measureFanout(system: BenchSystem, topProduct: string, subscribers: number, rounds: number, meter: CpuMeter): Promise<FanoutResult> {
  // each socket is a file descriptor here and one in the gateway
  for (const name of ['bench', 'gateway']) {
    const limit = system.openFilesLimit(name);
    if (limit < subscribers + 1_000)
      throw new Error(
        `the ${name} process may open ${limit} files, too few for ${subscribers} subscribers' sockets: raise ulimit -n to ${subscribers + 1_000}`,
      );
  }
  const before = system.rssMiB('gateway');
  const connectStarted = performance.now();
  const activeBefore = sampleValue(await system.scrape('gateway'), 'subscriptions_active', { field: FIELD }) || 0;
  const failed = { connections: 0, subscriptions: 0, rounds: 0, messages: [] as string[] };
  const fail = (what: 'connections' | 'subscriptions' | 'rounds', message: string) => {
    failed[what]++;
    if (failed.messages.length < MESSAGES_KEPT) failed.messages.push(`${what}: ${message}`);
  };
  let done = false;
  // per round, when each subscriber's message arrived (NaN: not yet; undefined: not awaited)
  let arrivals: (number | undefined)[] = [];
  let remaining = 0;
  let roundDone: () => void = () => undefined;
  const clients: Client[] = [];
  for (let wave = 0; wave < subscribers; wave += CONNECT_WAVE) {
    const opened = Array.from({ length: Math.min(CONNECT_WAVE, subscribers - wave) }, () => system.ws());
    const outcomes = await Promise.allSettled(opened.map(connected));
    outcomes.forEach((outcome, i) => {
      if (outcome.status === 'fulfilled') clients.push(opened[i]!);
      else fail('connections', (outcome.reason as Error).message);
    });
  }
  // the subscribers whose subscription is open: a round waits for these only
  const open = new Set<number>();
  const ended = (i: number, message: string) => {
    // once the rounds are over, disposing of the clients completes every subscription
    if (done || !open.delete(i)) return;
    fail('subscriptions', message);
    // one the current round is waiting for: it waits no more
    if (Number.isNaN(arrivals[i] ?? 0) && --remaining === 0) roundDone();
  };
  clients.forEach((client, i) => {
    open.add(i);
    client.subscribe(
      { query: LIVE },
      {
        next: () => {
          // one message per subscriber per round; a late one of a finished round is not counted
          if (!Number.isNaN(arrivals[i] ?? 0)) return;
          arrivals[i] = performance.now();
          if (--remaining === 0) roundDone();
        },
        error: (error) => ended(i, describeError(error)),
        complete: () => ended(i, 'completed by the gateway'),
      },
    );
  });
  // every open subscription must be active on the gateway before the first round (the gateway says
  // so only through its gauge, so this polls; a scrape that fails is tried again)
  const active = async () => sampleValue(await system.scrape('gateway').catch(() => []), 'subscriptions_active', { field: FIELD }) - activeBefore;
  const deadline = performance.now() + 60_000;
  while (!((await active()) >= open.size)) {
    if (performance.now() > deadline) throw new Error(`fewer than ${open.size} ${FIELD} subscriptions active on the gateway after 60 s`);
    await sleep(200);
  }
  const connectSeconds = Math.round((performance.now() - connectStarted) / 10) / 100;
  const withSubscribers = system.rssMiB('gateway');
  const benchMemoryMiB = Math.round(process.memoryUsage().rss / 2 ** 20);

  const first: number[] = [];
  const median: number[] = [];
  const last: number[] = [];
  const all: number[] = [];
  let missed = 0;
  meter.begin();
  for (let round = 0; round < rounds; round++) {
    arrivals = clients.map((_, i) => (open.has(i) ? Number.NaN : undefined));
    const expected = open.size;
    remaining = expected;
    const arrived = new Promise<void>((resolve) => (roundDone = resolve));
    if (remaining === 0) roundDone();
    const result = await system.post(system.gatewayUrl, `mutation ($i: TrackEventInput!) { trackEvent(input: $i) { duplicate } }`, {
      i: { userId: `fanout-${round}-${Date.now()}`, productId: topProduct, type: 'PURCHASE' },
    });
    if (result.errors !== undefined) {
      fail('rounds', result.errors[0]?.message ?? 'trackEvent failed');
      remaining = Number.POSITIVE_INFINITY;
      await sleep(1_000);
      continue;
    }
    const answered = performance.now();
    const timeout = sleep(ROUND_TIMEOUT_MS).then(() => 'timeout' as const);
    await Promise.race([arrived, timeout]);
    // a message that came before the answer counts as 0 ms
    const deliveries = arrivals.flatMap((at) => (at === undefined || Number.isNaN(at) ? [] : [Math.max(0, at - answered)]));
    missed += expected - deliveries.length;
    remaining = Number.POSITIVE_INFINITY;
    if (deliveries.length > 0) {
      first.push(Math.min(...deliveries));
      median.push(percentile(deliveries, 50));
      last.push(Math.max(...deliveries));
    }
    all.push(...deliveries);
    await sleep(1_000);
  }
  const roundsCpu = meter.end();
  done = true;
  for (const client of clients) await client.dispose();
  await sleep(2_000);
  return {
    subscribers,
    rounds,
    failed,
    connectSeconds,
    firstDeliveryMs: summarize(first),
    medianDeliveryMs: summarize(median),
    lastDeliveryMs: summarize(last),
    deliveryMs: summarize(all),
    missed,
    roundsCpu,
    gatewayMemoryMiB: { before, withSubscribers, after: system.rssMiB('gateway') },
    benchMemoryMiB,
  };
}
