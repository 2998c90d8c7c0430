import { Supergraph } from '@apollo/federation-internals';
import { testServices, uniqueName } from '@recs/devkit';
import { supergraphSdl } from '@recs/schema';
import { connectRedis, createLogger, liveChannel, RedisNames, type RedisClient } from '@recs/shared';
import { parse, print, type ExecutionResult } from 'graphql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LiveHub } from '../src/subscriptions/hub.ts';
import { liveOperation } from '../src/subscriptions/liveOperation.ts';
import { RESUME_MARKER_KEY } from '../src/subscriptions/resume.ts';

const schema = Supergraph.build(supergraphSdl()).apiSchema().toGraphQLJSSchema();
const logger = createLogger('resume-test', 'silent');
const DOCUMENT = parse(`subscription ($u: ID!, $since: Int) { recommendationsChanged(userId: $u, sinceVersion: $since) { version } }`);

let redis: RedisClient;
let subscriber: RedisClient;

beforeAll(async () => {
  redis = await connectRedis(testServices().redisUrl, logger, 'resume-test');
  subscriber = redis.duplicate();
  await subscriber.connect();
});

afterAll(async () => {
  await subscriber?.close();
  await redis?.close();
});

/** A hub over a list store at `version`: every hydration reads the current version, as the twin does. */
function store(version: number) {
  const names = new RedisNames(uniqueName('resume'));
  const state = { version, hydrations: 0 };
  const hub = new LiveHub(
    subscriber,
    names,
    async (query): Promise<ExecutionResult> => {
      state.hydrations++;
      // catch-ups and change hydrations both read the marker (the hub checks a read is not behind)
      const marked = print(query).includes(RESUME_MARKER_KEY);
      return { data: { recommendationsChanged: { version: state.version, ...(marked ? { [RESUME_MARKER_KEY]: state.version } : {}) } } };
    },
    logger,
    4,
  );
  return {
    state,
    hub,
    subscribe: (since: number | null) => hub.subscribe(liveOperation(schema, DOCUMENT, undefined, { u: 'u1', since })),
    /** Saves a new version and announces it. */
    change: async () => announce(++state.version),
    /** A change message as a lagging publisher sends it. */
    announce: (marker: number) => announce(marker),
  };
  function announce(marker: number) {
    return redis.publish(liveChannel(names, 'recommendationsChanged', { userId: 'u1' }), JSON.stringify({ userId: 'u1', version: marker }));
  }
}

const versionOf = (result: IteratorResult<ExecutionResult>) =>
  (result.value?.data as { recommendationsChanged?: { version: number } } | undefined)?.recommendationsChanged;

describe('LiveHub for resuming subscribers', () => {
  it('sends the current list at once when it is newer than sinceVersion, without the marker it read, then the next change', async () => {
    const { hub, subscribe, change } = store(5);
    const stream = await subscribe(3);
    expect(versionOf(await stream.next())).toEqual({ version: 5 });
    await change();
    expect(versionOf(await stream.next())).toEqual({ version: 6 });
    await stream.return();
    await hub.close();
  });

  it('sends nothing at once when sinceVersion is the current version, then the next change', async () => {
    const { state, hub, subscribe, change } = store(5);
    const stream = await subscribe(5);
    const first = stream.next();
    await change();
    // had the catch-up sent version 5, it would come first
    expect(versionOf(await first)).toEqual({ version: 6 });
    // the catch-up read (version 5: not sent) and the change's
    expect(state.hydrations).toBe(2);
    await stream.return();
    await hub.close();
  });

  it('drops a change message older than what a resumed subscriber got, without hydrating it', async () => {
    const { state, hub, subscribe, change, announce } = store(5);
    const stream = await subscribe(2);
    expect(versionOf(await stream.next())).toEqual({ version: 5 });
    // the publisher of versions 4 and 5 lags behind
    await announce(4);
    await announce(5);
    await change();
    expect(versionOf(await stream.next())).toEqual({ version: 6 });
    expect(state.hydrations).toBe(2);
    await stream.return();
    await hub.close();
  });

  it('never sends a resumed subscriber a list older than the one it has, while others of its group get every change', async () => {
    const { state, hub, subscribe, announce } = store(3);
    const plain = await subscribe(null);
    state.version = 5;
    const resumer = await subscribe(4);
    expect(versionOf(await resumer.next())).toEqual({ version: 5 });
    // the plain subscriber has not had version 5: its change message still reaches it
    await announce(5);
    expect(versionOf(await plain.next())).toEqual({ version: 5 });
    state.version = 6;
    await announce(6);
    expect(versionOf(await plain.next())).toEqual({ version: 6 });
    expect(versionOf(await resumer.next())).toEqual({ version: 6 });
    await plain.return();
    await resumer.return();
    await hub.close();
  });

  it('sends nothing at once without sinceVersion, as before', async () => {
    const { state, hub, subscribe, change } = store(5);
    const stream = await subscribe(null);
    const first = stream.next();
    await change();
    expect(versionOf(await first)).toEqual({ version: 6 });
    // no catch-up: only the change's read
    expect(state.hydrations).toBe(1);
    await stream.return();
    await hub.close();
  });
});
