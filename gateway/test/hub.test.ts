import { Supergraph } from '@apollo/federation-internals';
import { deferred, testServices, uniqueName } from '@recs/devkit';
import { supergraphSdl } from '@recs/schema';
import { connectRedis, createLogger, liveChannel, RedisNames, type RedisClient } from '@recs/shared';
import { parse, type ExecutionResult } from 'graphql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LiveHub } from '../src/subscriptions/hub.ts';
import { DEFAULT_RETRY, isTransientFailure, retryDelay } from '../src/subscriptions/hydration.ts';
import { liveOperation } from '../src/subscriptions/liveOperation.ts';

const schema = Supergraph.build(supergraphSdl()).apiSchema().toGraphQLJSSchema();
const logger = createLogger('hub-test', 'silent');
const RETRY = { firstDelayMs: 5, maxDelayMs: 20, attempts: 3 };

const GOOD: ExecutionResult = { data: { bestSellersChanged: { items: [{ rank: 1 }] } } };
/** What the gateway answers while a subgraph is down (Apollo's formatted errors). */
const DOWN = {
  errors: [{ message: 'connect ECONNREFUSED 127.0.0.1:4001', extensions: { code: 'INTERNAL_SERVER_ERROR' } }],
  data: null,
} as unknown as ExecutionResult;

let redis: RedisClient;
let subscriber: RedisClient;

beforeAll(async () => {
  redis = await connectRedis(testServices().redisUrl, logger, 'hub-test');
  subscriber = redis.duplicate();
  await subscriber.connect();
});

afterAll(async () => {
  await subscriber?.close();
  await redis?.close();
});

/** A hub whose hydrations give `answers` in turn (an Error is thrown), then the last one again. */
function hubWith(answers: (ExecutionResult | Error)[]) {
  const names = new RedisNames(uniqueName('hub'));
  let calls = 0;
  const hub = new LiveHub(
    subscriber,
    names,
    async () => {
      const answer = answers[Math.min(calls++, answers.length - 1)]!;
      if (answer instanceof Error) throw answer;
      return answer;
    },
    logger,
    4,
    RETRY,
  );
  const live = liveOperation(schema, parse(`subscription { bestSellersChanged { items { rank } } }`), undefined);
  let version = 0;
  return {
    hub,
    calls: () => calls,
    subscribe: () => hub.subscribe(live),
    change: () => redis.publish(liveChannel(names, 'bestSellersChanged', { categoryId: null }), JSON.stringify({ changedAt: ++version })),
    failures: (n: number) => {
      const seen = deferred();
      let count = 0;
      const listener = () => {
        if (++count === n) {
          hub.off('hydrationFailed', listener);
          seen.resolve();
        }
      };
      hub.on('hydrationFailed', listener);
      return seen.promise;
    },
  };
}

describe('hydration results', () => {
  it('calls a result transient only when every error may pass on a retry', () => {
    expect(isTransientFailure(GOOD)).toBe(false);
    expect(isTransientFailure({ errors: [] })).toBe(false);
    expect(isTransientFailure(DOWN)).toBe(true);
    expect(isTransientFailure({ errors: [{ message: 'no code' }] } as never)).toBe(true);
    expect(isTransientFailure({ errors: [{ message: 'Mongo down', extensions: { code: 'SERVICE_UNAVAILABLE' } }] } as never)).toBe(true);
    expect(isTransientFailure({ errors: [{ message: 'limit too high', extensions: { code: 'BAD_USER_INPUT' } }] } as never)).toBe(false);
    // one error that a retry would not fix: the result is the answer
    expect(
      isTransientFailure({ errors: [DOWN.errors![0]!, { message: 'too many aliases', extensions: { code: 'GRAPHQL_VALIDATION_FAILED' } }] } as never),
    ).toBe(false);
  });

  it('backs off exponentially up to the cap, with jitter of at most half', () => {
    const top = () => 0.999_999;
    expect([1, 2, 3, 4, 5, 6, 7, 8].map((n) => retryDelay(DEFAULT_RETRY, n, top))).toEqual([250, 500, 1000, 2000, 4000, 8000, 10_000, 10_000]);
    expect(retryDelay(DEFAULT_RETRY, 1, () => 0)).toBe(125);
    expect(retryDelay(DEFAULT_RETRY, 40, () => 0)).toBe(5000);
  });
});

describe('LiveHub when hydrations fail', () => {
  it('delivers nothing while hydrations fail, and the good result once a retry succeeds', async () => {
    const { hub, subscribe, change, calls } = hubWith([DOWN, new Error('socket hang up'), GOOD]);
    const stream = await subscribe();
    await change();
    const first = await stream.next();
    expect(first.value).toEqual(GOOD);
    expect(calls()).toBe(3);
    expect(hub.stats()).toMatchObject({ failedHydrations: 2, retrying: 0, delivered: 1 });
    await stream.return();
  });

  it('stops retrying after the bounded number of attempts, and hydrates again on the next change', async () => {
    const { hub, subscribe, change, calls, failures } = hubWith([DOWN, DOWN, DOWN, DOWN, GOOD]);
    const stream = await subscribe();
    const allFailed = failures(RETRY.attempts + 1);
    await change();
    await allFailed;
    expect(calls()).toBe(RETRY.attempts + 1);
    expect(hub.stats()).toMatchObject({ retrying: 0, delivered: 0 });
    await change();
    expect((await stream.next()).value).toEqual(GOOD);
    await stream.return();
  });

  it('delivers a result with an error a retry would not fix, and keeps the subscription', async () => {
    const refused = { data: null, errors: [{ message: 'Not allowed', extensions: { code: 'FORBIDDEN' } }] } as unknown as ExecutionResult;
    const { hub, subscribe, change } = hubWith([refused, GOOD]);
    const stream = await subscribe();
    await change();
    expect((await stream.next()).value).toEqual(refused);
    expect(hub.stats().retrying).toBe(0);
    await change();
    expect((await stream.next()).value).toEqual(GOOD);
    await stream.return();
  });

  it('does not deliver partial data whose errors are all transient', async () => {
    const partial = { data: { bestSellersChanged: { items: [null] } }, errors: DOWN.errors } as unknown as ExecutionResult;
    const { subscribe, change } = hubWith([partial, GOOD]);
    const stream = await subscribe();
    await change();
    expect((await stream.next()).value).toEqual(GOOD);
    await stream.return();
  });

  it('cancels a waiting retry when the last subscriber leaves', async () => {
    const { hub, subscribe, change, failures } = hubWith([DOWN]);
    const stream = await subscribe();
    const failed = failures(1);
    await change();
    await failed;
    expect(hub.stats().retrying).toBe(1);
    await stream.return();
    expect(hub.stats()).toMatchObject({ groups: 0, retrying: 0 });
  });
});

describe('LiveHub channels', () => {
  it('keeps delivering to a subscriber that joins a channel while the last one is leaving it', async () => {
    const { hub, subscribe, change } = hubWith([GOOD]);
    const first = await subscribe();
    // the channel's UNSUBSCRIBE is on its way when the next subscriber comes
    await first.return();
    const second = await subscribe();
    await change();
    let timer: NodeJS.Timeout | undefined;
    const lost = new Promise((resolve) => {
      timer = setTimeout(() => resolve('no result within 5 s: the change message was lost'), 5_000);
    });
    expect(await Promise.race([second.next().then((result) => result.value), lost])).toEqual(GOOD);
    clearTimeout(timer);
    await second.return();
    await hub.close();
  });
});

describe('LiveHub when a read is behind the change announced', () => {
  const ranking = (changedAt: number, rank: number) =>
    ({ data: { bestSellersChanged: { items: [{ rank }], _recsResumeMarker: new Date(changedAt).toISOString() } } }) as ExecutionResult;

  it('reads again until it sees the change, and delivers that read without the marker it added', async () => {
    const names = new RedisNames(uniqueName('hub'));
    const reads = [ranking(1_000, 1), ranking(1_000, 1), ranking(2_000, 2)];
    let calls = 0;
    const hub = new LiveHub(subscriber, names, async () => reads[Math.min(calls++, reads.length - 1)]!, logger, 4, RETRY);
    const live = liveOperation(schema, parse(`subscription { bestSellersChanged { items { rank } } }`), undefined);
    const stream = await hub.subscribe(live);
    // announced at 2,000 ms; the first two reads still see the ranking of 1,000 ms (a cache catching up)
    await redis.publish(liveChannel(names, 'bestSellersChanged', { categoryId: null }), JSON.stringify({ changedAt: 2_000 }));
    expect((await stream.next()).value).toEqual({ data: { bestSellersChanged: { items: [{ rank: 2 }] } } });
    expect(calls).toBe(3);
    expect(hub.stats()).toMatchObject({ delivered: 1, failedHydrations: 0 });
    await stream.return();
  });

  it('counts a read that stays behind as a failed hydration, delivering nothing older than announced', async () => {
    const names = new RedisNames(uniqueName('hub'));
    let calls = 0;
    const hub = new LiveHub(
      subscriber,
      names,
      async () => {
        calls++;
        return ranking(1_000, 1);
      },
      logger,
      4,
      { ...RETRY, attempts: 0 },
    );
    const live = liveOperation(schema, parse(`subscription { bestSellersChanged { items { rank } } }`), undefined);
    const stream = await hub.subscribe(live);
    const failed = new Promise<void>((resolve) => hub.once('hydrationFailed', () => resolve()));
    await redis.publish(liveChannel(names, 'bestSellersChanged', { categoryId: null }), JSON.stringify({ changedAt: 2_000 }));
    await failed;
    // the first read and four more, spaced 5, 10, 20, 40 ms
    expect(calls).toBe(5);
    expect(hub.stats()).toMatchObject({ delivered: 0, failedHydrations: 1 });
    await stream.return();
    await hub.close();
  });
});
