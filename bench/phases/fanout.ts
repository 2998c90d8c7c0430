import { sleep, summarize, type Summary } from '../lib/stats.ts';
import type { BenchSystem } from '../lib/system.ts';

export interface FanoutResult {
  readonly subscribers: number;
  readonly rounds: number;
  /** Per round: from the purchase's trackEvent answer to the last subscriber's message. */
  readonly lastDeliveryMs: Summary;
  /** Every delivery of every round, from the same start. */
  readonly deliveryMs: Summary;
  readonly missed: number;
  readonly gatewayMemoryMiB: { readonly before: number; readonly withSubscribers: number; readonly after: number };
}

const LIVE = `subscription { bestSellersChanged { changedAt items { rank product { name } } } }`;

/**
 * `subscribers` WebSocket connections, each subscribed to the overall best sellers; each round
 * a new shopper buys the top product, which changes the ranking.
 */
export async function measureFanout(system: BenchSystem, topProduct: string, subscribers: number, rounds: number): Promise<FanoutResult> {
  const before = system.rssMiB('gateway');
  const waiting: ((at: number) => void)[] = [];
  const clients = Array.from({ length: subscribers }, () => system.ws());
  for (const client of clients) {
    client.subscribe(
      { query: LIVE },
      {
        next: () => {
          const at = performance.now();
          const slot = waiting.shift();
          slot?.(at);
        },
        error: () => undefined,
        complete: () => undefined,
      },
    );
  }
  // let every subscription reach the gateway
  await sleep(5_000);
  const withSubscribers = system.rssMiB('gateway');

  const last: number[] = [];
  const all: number[] = [];
  let missed = 0;
  for (let round = 0; round < rounds; round++) {
    const deliveries: number[] = [];
    const arrived = new Promise<void>((resolve) => {
      let remaining = subscribers;
      for (let i = 0; i < subscribers; i++) {
        waiting.push((at) => {
          deliveries.push(at);
          if (--remaining === 0) resolve();
        });
      }
    });
    const result = await system.post(system.gatewayUrl, `mutation ($i: TrackEventInput!) { trackEvent(input: $i) { duplicate } }`, {
      i: { userId: `fanout-${round}-${Date.now()}`, productId: topProduct, type: 'PURCHASE' },
    });
    if (result.errors !== undefined) throw new Error(result.errors[0]?.message);
    const answered = performance.now();
    const timeout = sleep(10_000).then(() => 'timeout' as const);
    if ((await Promise.race([arrived, timeout])) === 'timeout') {
      missed += subscribers - deliveries.length;
      waiting.length = 0;
    }
    if (deliveries.length > 0) last.push(Math.max(...deliveries) - answered);
    for (const at of deliveries) all.push(Math.max(0, at - answered));
    await sleep(1_000);
  }
  for (const client of clients) await client.dispose();
  await sleep(2_000);
  return {
    subscribers,
    rounds,
    lastDeliveryMs: summarize(last),
    deliveryMs: summarize(all),
    missed,
    gatewayMemoryMiB: { before, withSubscribers, after: system.rssMiB('gateway') },
  };
}
