import type { Client } from 'graphql-ws';
import { sleep, summarize, type Summary } from '../lib/stats.ts';
import type { BenchSystem } from '../lib/system.ts';

export interface FreshnessResult {
  readonly ratePerSecond: number;
  readonly users: number;
  readonly seconds: number;
  readonly eventsSent: number;
  /** Messages matched with an event (events that did not change their user's list get none). */
  readonly measured: number;
  /** Messages that arrived before the trackEvent answer of their event (counted as 0 ms). */
  readonly beforeAnswer: number;
  readonly latencyMs: Summary;
}

const TRACK = `mutation ($i: TrackEventInput!) { trackEvent(input: $i) { duplicate } }`;
const LIVE = `subscription ($u: ID!) { recommendationsChanged(userId: $u) { version } }`;

interface Sent {
  readonly sent: number;
  answered: number;
}

/**
 * A steady `rate` of single trackEvent calls spread over `users` users, each subscribed to their
 * own list. Each message is matched, afterwards, with the latest event of its user sent before
 * it arrived; latency = arrival - that event's trackEvent answer (0 when the message came first).
 */
export async function measureFreshness(
  system: BenchSystem,
  users: readonly string[],
  productIds: readonly string[],
  rate: number,
  seconds: number,
): Promise<FreshnessResult> {
  const sent = new Map<string, Sent[]>();
  const arrivals = new Map<string, number[]>();
  const clients: Client[] = Array.from({ length: 10 }, () => system.ws(system.serviceToken));
  users.forEach((user, i) => {
    clients[i % clients.length]!.subscribe(
      { query: LIVE, variables: { u: user } },
      {
        next: () => {
          const list = arrivals.get(user) ?? [];
          list.push(performance.now());
          arrivals.set(user, list);
        },
        error: () => undefined,
        complete: () => undefined,
      },
    );
  });
  // let the gateway subscribe every channel before the clock starts
  await sleep(3_000);
  arrivals.clear();

  let count = 0;
  const inFlight: Promise<void>[] = [];
  const tick = 50;
  const started = performance.now();
  let credit = 0;
  while (performance.now() - started < seconds * 1000) {
    const tickStarted = performance.now();
    credit += rate * (tick / 1000);
    for (; credit >= 1; credit--) {
      const user = users[Math.floor(Math.random() * users.length)]!;
      const productId = productIds[Math.floor(Math.random() * productIds.length)]!;
      const record: Sent = { sent: performance.now(), answered: Number.NaN };
      const list = sent.get(user) ?? [];
      list.push(record);
      sent.set(user, list);
      count++;
      inFlight.push(
        system.post(system.gatewayUrl, TRACK, { i: { userId: user, productId, type: count % 3 === 0 ? 'PURCHASE' : 'VIEW' } }).then(() => {
          record.answered = performance.now();
        }),
      );
    }
    await sleep(Math.max(0, tick - (performance.now() - tickStarted)));
  }
  await Promise.all(inFlight);
  await sleep(2_000);

  const latencies: number[] = [];
  let beforeAnswer = 0;
  for (const [user, times] of arrivals) {
    const events = sent.get(user) ?? [];
    let consumed = 0;
    for (const arrived of times) {
      let latest: Sent | undefined;
      while (consumed < events.length && events[consumed]!.sent <= arrived) latest = events[consumed++];
      if (latest === undefined) continue;
      const latency = arrived - latest.answered;
      if (latency < 0) beforeAnswer++;
      latencies.push(Math.max(0, latency));
    }
  }
  return { ratePerSecond: rate, users: users.length, seconds, eventsSent: count, measured: latencies.length, beforeAnswer, latencyMs: summarize(latencies) };
}
