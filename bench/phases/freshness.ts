import { COLLECTIONS, connectRedis, FRESHNESS_BUCKETS, createLogger, IDENTITY_HEADER, liveChannel, RedisNames, signInternalIdentity } from '@recs/shared';
import { MongoClient } from 'mongodb';
import type { ClickstreamSimulator, SimulatedEvent } from '@recs/devkit';
import type { Client } from 'graphql-ws';
import { bucketed, sleep, summarize, type Summary } from '../lib/stats.ts';
import type { BenchSystem } from '../lib/system.ts';

export interface FreshnessResult {
  readonly ratePerSecond: number;
  readonly users: number;
  readonly seconds: number;
  /** Seconds of the same load before measuring, unmeasured. */
  readonly warmupSeconds: number;
  /** Events sent while measuring, and how many of each type (simulated shoppers' sessions). */
  readonly eventsSent: number;
  readonly eventMix: Readonly<Record<string, number>>;
  /** trackEvent calls answered without errors over the whole phase, warm-up included (what its CPU is divided by). */
  readonly eventsAccepted: number;
  /**
   * What failed over the whole phase, each counted and the phase going on without it: trackEvent
   * calls (reset, timed out or answered with errors: their users' messages are not matched with
   * them), probes, subscriptions that ended, and errors of the bench's Redis connection that
   * times the change messages (it reconnects; messages meanwhile are not timed).
   */
  readonly failed: { readonly trackEvents: number; readonly probes: number; readonly subscriptions: number; readonly changeChannel: number };
  /** Messages matched with an event (events that did not change their user's list get none). */
  readonly measured: number;
  /** Messages that arrived before the trackEvent answer of their event (counted as 0 ms). */
  readonly beforeAnswer: number;
  readonly latencyMs: Summary;
  /** latencyMs's samples through the gateway histogram's buckets and Prometheus's interpolation: the bucket error alone. */
  readonly bucketedMs: { readonly p50: number; readonly p99: number };
  /**
   * The same messages from their event's trackEvent being sent rather than answered: the span the
   * gateway's recs_freshness_delivered_seconds starts earlier too (at the event's receivedAt).
   * Includes the wait for a socket in the bench's own connection pool, so on a saturated system it
   * runs long.
   */
  readonly fromSentMs: Summary;
  /**
   * The measured window, epoch milliseconds: from the end of the warm-up to the end of the
   * 2 s drain after the last answer (the deliveries measured fall in it), for Prometheus.
   */
  readonly window: { readonly startMs: number; readonly endMs: number };
  /**
   * Where the time goes, per stage (milliseconds): from the trackEvent answer to the change
   * message on Redis (workers), and from that message to the WebSocket delivery (gateway
   * hydration and send), both timed by this process on one clock; and, from the workers' debug
   * log, the age of a flush's oldest event when the flush committed, flush durations, how long
   * list jobs waited and how long list batches took.
   */
  readonly stagesMs: {
    /** trackEvent sent → its answer, the part of the server's span the client's latencyMs leaves out. */
    readonly trackEventAnswer: Summary;
    readonly answerToPublish: Summary;
    readonly publishToDelivery: Summary;
    readonly oldestEventAgeAtCommit: Summary;
    readonly flush: Summary;
    readonly eventsPerFlush: Summary;
    readonly listJobWait: Summary;
    readonly listBatch: Summary;
    readonly listsPerBatch: Summary;
    /** Probes, one every 100 ms during the load: a list read by _id straight from MongoDB... */
    readonly probeMongoRead: Summary;
    /** ...the hydration query of a list change straight to the recommendations subgraph... */
    readonly probeSubgraph: Summary;
    /** ...and the same through the gateway. */
    readonly probeGateway: Summary;
  };
}

const PROBE = `query ($u: ID!) { recommendations(userId: $u) { version } }`;

const TRACK = `mutation ($i: TrackEventInput!) { trackEvent(input: $i) { duplicate } }`;
const LIVE = `subscription ($u: ID!) { recommendationsChanged(userId: $u) { version } }`;

interface Sent {
  readonly sent: number;
  /** Sent during the warm-up: its deliveries are not measured. */
  readonly warm: boolean;
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
  simulator: ClickstreamSimulator,
  rate: number,
  seconds: number,
  warmupSeconds = 5,
): Promise<FreshnessResult> {
  const sent = new Map<string, Sent[]>();
  const arrivals = new Map<string, number[]>();
  // the change messages themselves, timed as they appear on Redis
  const published = new Map<string, number[]>();
  const redis = await connectRedis(system.env['REDIS_URL']!, createLogger('bench', 'silent'), 'bench');
  const failed = { trackEvents: 0, probes: 0, subscriptions: 0, changeChannel: 0 };
  // a node-redis client without an 'error' listener takes the process down when its connection drops
  const subscriber = redis.duplicate().on('error', () => failed.changeChannel++);
  await subscriber.connect();
  const names = new RedisNames(system.env['QUEUE_PREFIX'] ?? 'recs');
  const prefix = liveChannel(names, 'recommendationsChanged', { userId: '' });
  await subscriber.pSubscribe(`${prefix}*`, (_message, channel) => {
    const user = channel.slice(prefix.length);
    const list = published.get(user) ?? [];
    list.push(performance.now());
    published.set(user, list);
  });
  const flushes: { events: number; ms: number; oldestEventAgeMs: number }[] = [];
  const listBatches: { lists: number; ms: number; queuedMs: number }[] = [];
  let recording = false;
  const stopListening = system.onWorkerLine((line) => {
    if (!recording) return;
    if (line.includes('"msg":"flushed"')) {
      const stats = JSON.parse(line) as { events: number; ms: number; oldestEventAgeMs: number };
      if (stats.events > 0) flushes.push(stats);
    } else if (line.includes('"msg":"lists"')) listBatches.push(JSON.parse(line) as { lists: number; ms: number; queuedMs: number });
  });
  let disposing = false;
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
        // not once the phase disposes of its clients, which completes every subscription
        error: () => {
          if (!disposing) failed.subscriptions++;
        },
        complete: () => {
          if (!disposing) failed.subscriptions++;
        },
      },
    );
  });
  // let the gateway subscribe every channel before the clock starts
  await sleep(3_000);
  arrivals.clear();
  published.clear();

  // probes: how long one read takes at each layer while the load runs
  const mongo = new MongoClient(system.services.mongoUrl);
  await mongo.connect();
  const lists = mongo.db(system.env['MONGO_DB'] ?? 'recs').collection<{ _id: string }>(COLLECTIONS.lists);
  // identity headers live a minute: sign per probe (signInternalIdentity reuses one for a while)
  const identity = async () => ({
    [IDENTITY_HEADER]: await signInternalIdentity({ kind: 'authenticated', subject: 'bench', role: 'service' }, system.secret, PROBE),
  });
  const probes = { mongo: [] as number[], subgraph: [] as number[], gateway: [] as number[] };
  /** Times one probe; one that throws or answers with errors is counted as failed, not timed. */
  const timed = async (samples: number[], run: () => Promise<unknown>) => {
    const started = performance.now();
    try {
      const result = await run();
      if ((result as { errors?: unknown } | null)?.errors !== undefined) failed.probes++;
      else samples.push(performance.now() - started);
    } catch {
      failed.probes++;
    }
  };
  let probing = true;
  const probe = async () => {
    while (probing) {
      const user = users[Math.floor(Math.random() * users.length)]!;
      await Promise.all([
        timed(probes.mongo, () => lists.findOne({ _id: user })),
        timed(probes.subgraph, async () => system.post(system.recommendationsUrl, PROBE, { u: user }, await identity())),
        timed(probes.gateway, () => system.post(system.gatewayUrl, PROBE, { u: user })),
      ]);
      await sleep(100);
    }
  };

  // shoppers browse concurrently: each event comes from one of ACTIVE sessions in progress, so a
  // session's events are about a second apart, as a person's clicks are
  const ACTIVE = 200;
  const sessions: SimulatedEvent[][] = Array.from({ length: ACTIVE }, () => simulator.session());
  const nextEvent = (): SimulatedEvent => {
    const i = Math.floor(Math.random() * ACTIVE);
    while (sessions[i]!.length === 0) sessions[i] = simulator.session();
    return sessions[i]!.shift()!;
  };
  const mix = new Map<string, number>();

  // the same load for a warm-up first (connections, caches, every user's first list), unmeasured
  let count = 0;
  let accepted = 0;
  let warm = true;
  let windowStart = Date.now();
  let probed: Promise<void> | undefined;
  const inFlight: Promise<void>[] = [];
  const tick = 50;
  const started = performance.now();
  let credit = 0;
  while (performance.now() - started < (warmupSeconds + seconds) * 1000) {
    const tickStarted = performance.now();
    if (warm && tickStarted - started >= warmupSeconds * 1000) {
      warm = false;
      recording = true;
      windowStart = Date.now();
      probed = probe();
    }
    credit += rate * (tick / 1000);
    for (; credit >= 1; credit--) {
      const event = nextEvent();
      const user = event.userId;
      const record: Sent = { sent: performance.now(), warm, answered: Number.NaN };
      const list = sent.get(user) ?? [];
      list.push(record);
      sent.set(user, list);
      if (!warm) {
        count++;
        mix.set(event.type, (mix.get(event.type) ?? 0) + 1);
      }
      inFlight.push(
        system.post(system.gatewayUrl, TRACK, { i: event }).then((result) => {
          if (result.errors !== undefined) {
            failed.trackEvents++;
            return;
          }
          record.answered = performance.now();
          accepted++;
        }),
      );
    }
    await sleep(Math.max(0, tick - (performance.now() - tickStarted)));
  }
  probing = false;
  await probed;
  await mongo.close();
  await Promise.all(inFlight);
  await sleep(2_000);
  const windowEnd = Date.now();
  recording = false;
  stopListening();
  // the next phase starts without this one's subscriptions
  disposing = true;
  for (const client of clients) await client.dispose();
  await subscriber.close();
  await redis.close();

  const latencies: number[] = [];
  const fromSent: number[] = [];
  const answers = [...sent.values()]
    .flat()
    .filter((e) => !e.warm && !Number.isNaN(e.answered))
    .map((e) => e.answered - e.sent);
  const toPublish: number[] = [];
  const toDelivery: number[] = [];
  let beforeAnswer = 0;
  for (const [user, times] of arrivals) {
    const events = sent.get(user) ?? [];
    const messages = published.get(user) ?? [];
    let consumed = 0;
    for (const arrived of times) {
      let latest: Sent | undefined;
      while (consumed < events.length && events[consumed]!.sent <= arrived) latest = events[consumed++];
      // a failed call (never answered) is no start to measure from
      if (latest === undefined || latest.warm || Number.isNaN(latest.answered)) continue;
      const latency = arrived - latest.answered;
      if (latency < 0) beforeAnswer++;
      latencies.push(Math.max(0, latency));
      fromSent.push(arrived - latest.sent);
      // the change message this delivery answered: the last one published before it arrived
      const message = messages.filter((at) => at <= arrived).at(-1);
      if (message !== undefined && message >= latest.sent) {
        toPublish.push(Math.max(0, message - latest.answered));
        toDelivery.push(arrived - message);
      }
    }
  }
  return {
    ratePerSecond: rate,
    users: users.length,
    seconds,
    warmupSeconds,
    eventsSent: count,
    eventMix: Object.fromEntries([...mix].sort((a, b) => b[1] - a[1])),
    eventsAccepted: accepted,
    failed,
    measured: latencies.length,
    beforeAnswer,
    latencyMs: summarize(latencies),
    fromSentMs: summarize(fromSent),
    bucketedMs: bucketed(latencies, FRESHNESS_BUCKETS),
    window: { startMs: windowStart, endMs: windowEnd },
    stagesMs: {
      trackEventAnswer: summarize(answers),
      answerToPublish: summarize(toPublish),
      publishToDelivery: summarize(toDelivery),
      oldestEventAgeAtCommit: summarize(flushes.map((f) => f.oldestEventAgeMs)),
      flush: summarize(flushes.map((f) => f.ms)),
      eventsPerFlush: summarize(flushes.map((f) => f.events)),
      listJobWait: summarize(listBatches.map((b) => b.queuedMs)),
      listBatch: summarize(listBatches.map((b) => b.ms)),
      listsPerBatch: summarize(listBatches.map((b) => b.lists)),
      probeMongoRead: summarize(probes.mongo),
      probeSubgraph: summarize(probes.subgraph),
      probeGateway: summarize(probes.gateway),
    },
  };
}
