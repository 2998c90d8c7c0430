import { EventEmitter } from 'node:events';
import { decodeChange, secondsSince, streamChannel, type AnyLiveField, type Logger, type RedisClient, type RedisNames } from '@recs/shared';
import type { DocumentNode, ExecutionResult } from 'graphql';
import { GatewayMetrics, type HydrationOutcome } from '../metrics.ts';
import { DEFAULT_RETRY, isTransientFailure, retryDelay, type RetryPolicy } from './hydration.ts';
import { earliest, LatestResult, type ChangeTimes } from './latest.ts';
import type { LiveOperation } from './liveOperation.ts';
import { withoutMarker } from './resume.ts';

/** Runs a hydration query through the gateway. */
export type Hydrate = (query: DocumentNode, variables: Readonly<Record<string, unknown>>) => Promise<ExecutionResult>;

/** A read older than the change announced is read again after 5, 10, 20, 40 ms, then counted a failure. */
const BEHIND_RETRIES = 4;
const BEHIND_FIRST_DELAY_MS = 5;

/** Subscribers that share a selection (and variables) on one channel: one hydration serves them all. */
class Group {
  readonly subscribers = new Set<LatestResult>();
  /** The newest change marker seen (the field's marker, see LIVE_FIELDS). */
  seen = -Infinity;
  /**
   * Per resuming subscriber, the newest marker it has (its resume argument, then what it was
   * sent): it is never sent a value at or below it. Others have no entry and get every change.
   */
  readonly floors = new Map<LatestResult, number>();
  /** The last result delivered, to skip an identical one (a change outside this selection). */
  last: string | undefined;
  running = false;
  /** Waiting for a hydration slot: a change arriving now is covered by the hydration to come. */
  queued = false;
  again = false;
  /**
   * When the changes no hydration has answered yet were accepted and published (the earliest of
   * each), for the freshness metrics; a failed hydration puts its times back.
   */
  times: ChangeTimes | undefined;
  /** Failed hydrations in a row, since the last good one or the last change. */
  failures = 0;
  /** The retry of a failed hydration, waiting for its turn. */
  retry: NodeJS.Timeout | undefined;
  /** The newest marker a change message carried (messages without one order by arrival, in `seen`). */
  announced = -Infinity;
  /** Reads in a row older than the change announced. */
  behind = 0;
  readonly live: LiveOperation;

  constructor(live: LiveOperation) {
    this.live = live;
  }
}

export interface HubStats {
  readonly channels: number;
  readonly groups: number;
  readonly subscribers: number;
  readonly hydrations: number;
  /** Hydrations that failed (threw, or gave only transient errors) and were not delivered. */
  readonly failedHydrations: number;
  /** Groups whose failed hydration waits for a retry. */
  readonly retrying: number;
  readonly delivered: number;
}

/**
 * Relays change messages from Redis pub/sub to this replica's graphql-ws subscribers. Every
 * replica subscribes only to the channels its own subscribers need. A hydration that fails is
 * not delivered; it is retried (see hydration.ts for what subscribers see meanwhile).
 */
export class LiveHub extends EventEmitter<{ subscribed: [channel: string]; hydrationFailed: [field: string] }> {
  private readonly channels = new Map<string, Map<string, Group>>();
  /** SUBSCRIBE commands not yet confirmed, per channel. */
  private readonly subscribing = new Map<string, Promise<unknown>>();
  /**
   * Each channel's message listener, to unsubscribe exactly it: node-redis's UNSUBSCRIBE without
   * a listener drops every listener of the channel when its reply comes, a new subscriber's
   * (added meanwhile, with no SUBSCRIBE sent since the channel looked subscribed) included, whose
   * changes were then lost.
   */
  private readonly channelListeners = new Map<string, (message: string) => void>();
  private readonly subscriber: RedisClient;
  private readonly names: RedisNames;
  private readonly hydrate: Hydrate;
  private readonly logger: Logger;
  private hydrations = 0;
  private failedHydrations = 0;
  private delivered = 0;
  private readonly maxHydrations: number;
  private readonly retryPolicy: RetryPolicy;
  private running = 0;
  /** Groups waiting for a hydration slot, in arrival order. */
  private readonly turns: (() => void)[] = [];
  private readonly metrics: GatewayMetrics;

  constructor(
    subscriber: RedisClient,
    names: RedisNames,
    hydrate: Hydrate,
    logger: Logger,
    maxConcurrentHydrations: number,
    retry: RetryPolicy = DEFAULT_RETRY,
    metrics: GatewayMetrics = new GatewayMetrics(),
  ) {
    super();
    this.subscriber = subscriber;
    this.names = names;
    this.hydrate = hydrate;
    this.logger = logger;
    this.maxHydrations = maxConcurrentHydrations;
    this.retryPolicy = retry;
    this.metrics = metrics;
  }

  private async slot(): Promise<void> {
    if (this.running < this.maxHydrations) {
      this.running++;
      return;
    }
    // the slot is handed over by release(), running stays the same
    await new Promise<void>((resolve) => this.turns.push(resolve));
  }

  private release(): void {
    const next = this.turns.shift();
    if (next !== undefined) next();
    else this.running--;
  }

  channelOf(live: LiveOperation): string {
    return streamChannel(this.names, live.descriptor, live.stream);
  }

  /**
   * A subscriber's stream of results; ends when the client completes or disconnects. Throws when
   * Redis refuses the channel (the next subscriber tries again).
   */
  async subscribe(live: LiveOperation): Promise<LatestResult> {
    const channel = this.channelOf(live);
    let groups = this.channels.get(channel);
    if (groups === undefined) {
      this.channels.set(channel, (groups = new Map()));
      const { descriptor } = live;
      const listener = (message: string) => this.onMessage(channel, descriptor, message);
      this.channelListeners.set(channel, listener);
      const subscribing = this.subscriber.subscribe(channel, listener);
      this.subscribing.set(channel, subscribing);
      try {
        await subscribing;
      } catch (error) {
        if (this.channels.get(channel) === groups && groups.size === 0) {
          this.channels.delete(channel);
          this.channelListeners.delete(channel);
        }
        throw error;
      } finally {
        this.subscribing.delete(channel);
      }
    } else {
      // another subscriber's SUBSCRIBE may still be on its way
      await this.subscribing.get(channel);
    }
    let group = groups.get(live.key);
    if (group === undefined) groups.set(live.key, (group = new Group(live)));
    const target = group;
    const { field } = live;
    const stream = new LatestResult(() => this.leave(channel, target, stream), {
      dropped: () => this.metrics.dropped(field),
      delivered: (times) => this.metrics.delivered(field, times),
    });
    group.subscribers.add(stream);
    this.metrics.subscribed(field);
    // the subscriber now receives every change published from here on
    this.emit('subscribed', channel);
    if (live.resume !== undefined) {
      group.floors.set(stream, live.resume.since);
      void this.catchUp(target, stream, live.resume);
    }
    return stream;
  }

  /**
   * A resuming subscriber's first result: the current value, sent when it is newer than the
   * subscriber's marker (a live change may have got there first). A transient failure is retried
   * as a change's hydration is; the next change answers it after that.
   */
  private async catchUp(group: Group, stream: LatestResult, resume: NonNullable<LiveOperation['resume']>): Promise<void> {
    const { field } = group.live;
    for (let failures = 0; group.subscribers.has(stream); ) {
      await this.slot();
      this.hydrations++;
      const { result, problem, seconds } = await this.attempt(resume.query, group.live.variables);
      if (problem !== undefined) {
        this.metrics.hydrated(field, 'transient_error', seconds);
        this.failedHydrations++;
        failures++;
        this.logger[failures === 1 ? 'warn' : 'debug']({ err: problem, field, failures }, 'reading the current value for a resuming subscriber failed');
        this.emit('hydrationFailed', field);
        if (failures > this.retryPolicy.attempts) return;
        await new Promise((resolve) => setTimeout(resolve, retryDelay(this.retryPolicy, failures)).unref());
        continue;
      }
      const { value, marker } = withoutMarker(result!, resume.responseKey, group.live.descriptor.resume.read);
      const floor = group.floors.get(stream);
      if (!group.subscribers.has(stream) || floor === undefined) return;
      // an error has no marker: the subscriber learns of it
      const fresh = marker === undefined || marker > floor;
      this.metrics.hydrated(field, (value.errors?.length ?? 0) > 0 ? 'permanent_error' : fresh ? 'delivered' : 'unchanged', seconds);
      if (!fresh) return;
      group.floors.set(stream, marker ?? floor);
      stream.push(value);
      this.delivered++;
      // every subscriber of the group has this value: an older change message needs no hydration
      if (marker !== undefined && marker > group.seen && group.subscribers.size === group.floors.size && [...group.floors.values()].every((f) => f >= marker)) {
        group.seen = marker;
      }
      return;
    }
  }

  private leave(channel: string, group: Group, stream: LatestResult): void {
    group.subscribers.delete(stream);
    group.floors.delete(stream);
    this.metrics.unsubscribed(group.live.field);
    if (group.subscribers.size > 0) return;
    clearTimeout(group.retry);
    group.retry = undefined;
    const groups = this.channels.get(channel);
    groups?.delete(group.live.key);
    if (groups !== undefined && groups.size === 0) {
      this.channels.delete(channel);
      const listener = this.channelListeners.get(channel);
      this.channelListeners.delete(channel);
      this.subscriber
        .unsubscribe(channel, listener)
        .catch((error: unknown) => this.logger.warn({ channel, err: (error as Error).message }, 'unsubscribe failed'));
    }
  }

  private onMessage(channel: string, field: AnyLiveField, message: string): void {
    let change;
    try {
      change = decodeChange(field, message);
    } catch {
      this.logger.warn({ channel }, 'ignoring a malformed change message');
      return;
    }
    // a message without a marker still means a change: its arrival orders it
    const marker = change.marker ?? Date.now();
    const times: ChangeTimes = { acceptedAt: change.acceptedAt, publishedAt: change.publishedAt };
    for (const group of this.channels.get(channel)?.values() ?? []) {
      if (change.marker !== undefined && change.marker > group.announced) group.announced = change.marker;
      if (marker <= group.seen) continue;
      group.seen = marker;
      group.times = earliest(group.times, times);
      // a new change earns a new round of retries
      group.failures = 0;
      void this.run(group);
    }
  }

  /**
   * One hydration at a time per group; a change arriving meanwhile triggers exactly one more. A
   * hydration that fails schedules its own retry, unless a newer change already made it run again.
   */
  private async run(group: Group): Promise<void> {
    if (group.running) {
      // a hydration waiting for its slot, or one more already due, answers this change too
      if (group.queued || group.again) this.metrics.coalesced(group.live.field);
      group.again = true;
      return;
    }
    // this hydration covers a retry that was waiting
    clearTimeout(group.retry);
    group.retry = undefined;
    group.running = true;
    let failed = false;
    try {
      do {
        group.queued = true;
        await this.slot();
        group.queued = false;
        // changes that arrived while waiting for the slot are covered by this hydration
        group.again = false;
        this.hydrations++;
        // what this hydration reads is at least as new as the newest change heard of
        const marker = group.seen;
        const times = group.times;
        group.times = undefined;
        const attempt = await this.attempt(group.live.marked.query, group.live.variables);
        const { problem, seconds } = attempt;
        failed = problem !== undefined;
        // the marker the read saw, off the result the subscribers get
        const { value: result, marker: read } =
          attempt.result === undefined
            ? { value: undefined, marker: undefined }
            : withoutMarker(attempt.result, group.live.marked.responseKey, group.live.descriptor.resume.read);
        const behind = !failed && read !== undefined && read < group.announced && (result?.errors?.length ?? 0) === 0;
        if (behind) {
          // what was read is older than the change announced: a cache or replica catching up.
          // Read again shortly; past a few tries it is a failure like any other (retried later)
          this.metrics.hydrated(group.live.field, 'behind', seconds);
          group.times = earliest(times, group.times);
          if (++group.behind <= BEHIND_RETRIES) {
            await new Promise((resolve) => setTimeout(resolve, BEHIND_FIRST_DELAY_MS * 2 ** (group.behind - 1)).unref());
            group.again = true;
            continue;
          }
          group.behind = 0;
          failed = true;
          this.failedHydrations++;
          group.failures++;
          this.logger.warn(
            { field: group.live.field, read, announced: group.announced },
            'hydration keeps reading a value older than the change announced; retrying later',
          );
          this.emit('hydrationFailed', group.live.field);
          continue;
        }
        group.behind = 0;
        const text = failed ? undefined : JSON.stringify(result);
        const outcome: HydrationOutcome = failed
          ? 'transient_error'
          : (result?.errors?.length ?? 0) > 0
            ? 'permanent_error'
            : text === group.last
              ? 'unchanged'
              : 'delivered';
        this.metrics.hydrated(group.live.field, outcome, seconds);
        if (failed) {
          // not delivered: the retry (or the next change) answers these changes
          group.times = earliest(times, group.times);
          this.failedHydrations++;
          group.failures++;
          const level = group.failures === 1 ? 'warn' : 'debug';
          this.logger[level]({ err: problem, field: group.live.field, failures: group.failures }, 'hydrating a change failed; the last result stays');
          this.emit('hydrationFailed', group.live.field);
          continue;
        }
        group.failures = 0;
        if (text === group.last) continue;
        group.last = text;
        // the value delivered carries its own marker (at least the change announced)
        const delivered = read ?? marker;
        for (const stream of group.subscribers) {
          const floor = group.floors.get(stream);
          if (floor !== undefined) {
            // a resuming subscriber already has this change, or a newer one
            if (delivered <= floor) continue;
            group.floors.set(stream, delivered);
          }
          stream.push(result!, times);
          this.delivered++;
        }
        if (this.logger.isLevelEnabled('debug')) {
          const now = Date.now();
          this.logger.debug(
            {
              field: group.live.field,
              subscribers: group.subscribers.size,
              hydrateMs: Math.round(seconds * 1_000),
              ...(times?.publishedAt === undefined ? {} : { sincePublishedMs: now - times.publishedAt }),
            },
            'delivered',
          );
        }
      } while (group.again && group.subscribers.size > 0);
    } finally {
      group.running = false;
    }
    if (failed) this.retryLater(group);
  }

  /** Tries a failed hydration again after a backoff, a bounded number of times; then waits for the next change. */
  private retryLater(group: Group): void {
    if (group.subscribers.size === 0 || group.retry !== undefined) return;
    if (group.failures > this.retryPolicy.attempts) {
      this.logger.warn({ field: group.live.field, failures: group.failures }, 'hydration keeps failing; waiting for the next change');
      return;
    }
    group.retry = setTimeout(
      () => {
        group.retry = undefined;
        void this.run(group);
      },
      retryDelay(this.retryPolicy, group.failures),
    );
    group.retry.unref();
  }

  /**
   * One hydration, in a slot the caller already holds (released here): its result, or why it
   * failed for a passing reason (it threw, or every error is transient), and how long it took.
   */
  private async attempt(
    query: DocumentNode,
    variables: Readonly<Record<string, unknown>>,
  ): Promise<{ result: ExecutionResult | undefined; problem: string | undefined; seconds: number }> {
    const started = performance.now();
    let result: ExecutionResult | undefined;
    let problem: string | undefined;
    try {
      result = await this.hydrate(query, variables);
      if (isTransientFailure(result)) problem = result.errors!.map((error) => error.message).join('; ');
    } catch (error) {
      problem = (error as Error).message;
    } finally {
      this.release();
    }
    return { result, problem, seconds: secondsSince(started) };
  }

  stats(): HubStats {
    let groups = 0;
    let subscribers = 0;
    let retrying = 0;
    for (const channelGroups of this.channels.values()) {
      groups += channelGroups.size;
      for (const group of channelGroups.values()) {
        subscribers += group.subscribers.size;
        if (group.retry !== undefined) retrying++;
      }
    }
    return {
      channels: this.channels.size,
      groups,
      subscribers,
      hydrations: this.hydrations,
      failedHydrations: this.failedHydrations,
      retrying,
      delivered: this.delivered,
    };
  }

  async close(): Promise<void> {
    for (const groups of this.channels.values()) {
      for (const group of groups.values()) {
        clearTimeout(group.retry);
        group.retry = undefined;
        for (const stream of [...group.subscribers]) await stream.return();
      }
    }
  }
}
