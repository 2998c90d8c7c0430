import type { GraphQLError } from 'graphql';
import { canAccessUser, type Identity } from './auth.ts';
import { badUserInput, forbidden, unauthenticated } from './errors.ts';
import { optionalId, requireId } from './ids.ts';
import type { StoredList } from './documents.ts';
import type { RedisNames } from './redis.ts';

/**
 * One live subscription field: everything the gateway (which serves it) and the workers (which
 * announce its changes) must agree on. Transport-free: no graphql-ws, no Redis client.
 *
 * A change is announced on the stream's Redis channel; each gateway replica then runs the
 * subscriber's selection on the field's query twin. A message carries the stream's key and a
 * marker, so a replica never delivers an older change after a newer one.
 */
export interface LiveField<Stream extends object, Marker extends string> {
  /** The Query field with the same arguments and return type: it reads the stream's current value. */
  readonly twin: string;
  /** The channel's topic (channels are `<prefix>:live:<topic>:<segment>`, see RedisNames.liveChannel). */
  readonly topic: string;
  /**
   * The stream the field's arguments (coerced, with defaults) select. Ids are checked as
   * everywhere in the API (a BAD_USER_INPUT error) before they name a channel.
   */
  stream(args: Readonly<Record<string, unknown>>): Stream;
  /** The stream as the last part of its channel's name. */
  segment(stream: Stream): string;
  /** Why this identity may not subscribe to the stream (an error to answer with), or undefined. */
  deny(identity: Identity, stream: Stream): GraphQLError | undefined;
  /** The message property that orders the stream's changes: a number that only grows. */
  readonly marker: Marker;
  /** How a subscriber resumes from the last value it saw. */
  readonly resume: LiveResume;
}

/**
 * A subscription argument that names the last marker a subscriber saw (a widget that reconnects
 * or loads late): the gateway sends the current value at once when it is newer, then the live
 * changes. The twin does not take it (liveOperation removes it from the twin query), and it
 * reads the value's marker from a field of the result.
 */
export interface LiveResume {
  /** The subscription argument, e.g. sinceVersion. */
  readonly argument: string;
  /** The result's field that carries the marker, e.g. version. */
  readonly field: string;
  /** The argument's coerced value as a marker; undefined when not given; a bad one: BAD_USER_INPUT. */
  since(value: unknown): number | undefined;
  /** The marker in the result's `field` (as it was serialized), or undefined. */
  read(value: unknown): number | undefined;
}

/** A DateTime (RFC 3339 text, as the API serializes it) as epoch ms, the markers' unit. */
function epochMs(value: unknown): number | undefined {
  if (typeof value !== 'string') return undefined;
  const ms = Date.parse(value);
  return Number.isNaN(ms) ? undefined : ms;
}

/** A field of the table, when its stream and marker do not matter (the gateway's generic paths). */
export type AnyLiveField = LiveField<object, string>;

const liveField = <Stream extends object, Marker extends string>(field: LiveField<Stream, Marker>) => field;

/** Every live field, by its name in the Subscription type. A new one: its SDL and an entry here. */
export const LIVE_FIELDS = {
  recommendationsChanged: liveField({
    twin: 'recommendations',
    topic: 'recommendations',
    stream: (args) => ({ userId: requireId(args['userId'], 'userId') }),
    segment: ({ userId }) => userId,
    // users follow only their own list; services and admins anyone's
    deny: (identity, { userId }) => {
      if (identity.kind === 'anonymous') return unauthenticated('A token is required to subscribe to recommendations');
      return canAccessUser(identity, userId) ? undefined : forbidden(`Not allowed to subscribe to user ${userId}`);
    },
    // the list's version: saved lists count up per user
    marker: 'version',
    resume: {
      argument: 'sinceVersion',
      field: 'version',
      since: (value) => (typeof value === 'number' ? value : undefined),
      read: (value) => (typeof value === 'number' ? value : undefined),
    },
  }),
  bestSellersChanged: liveField({
    twin: 'bestSellersSnapshot',
    topic: 'best-sellers',
    stream: (args) => ({ categoryId: optionalId(args['categoryId'], 'categoryId') ?? null }),
    // `*` is the all-products ranking
    segment: ({ categoryId }) => categoryId ?? '*',
    // public data
    deny: () => undefined,
    // when the ranking changed (epoch ms)
    marker: 'changedAt',
    resume: {
      argument: 'sinceChangedAt',
      field: 'changedAt',
      since: (value) => {
        if (value == null) return undefined;
        const ms = epochMs(value);
        if (ms === undefined) throw badUserInput('sinceChangedAt must be a date-time, e.g. 2026-01-02T03:04:05.678Z', { argument: 'sinceChangedAt' });
        return ms;
      },
      read: epochMs,
    },
  }),
};

export type LiveFieldName = keyof typeof LIVE_FIELDS;

/** The key of a field's stream, e.g. `{ userId }`. */
export type LiveStream<F extends LiveFieldName> = (typeof LIVE_FIELDS)[F] extends LiveField<infer Stream, string> ? Stream : never;

/**
 * What a change of a field's stream says: the stream's key, its marker and, when events caused
 * it, `acceptedAt`: when the oldest of those events was accepted (epoch ms), so every hop can
 * measure freshness from acceptance (recs_freshness_published_seconds, _delivered_seconds).
 * Optional: readers must accept messages without it.
 */
export type LiveMessage<F extends LiveFieldName> =
  (typeof LIVE_FIELDS)[F] extends LiveField<infer Stream, infer Marker>
    ? Readonly<Stream & Record<Marker, number> & { acceptedAt?: number } & LiveValue<F>>
    : never;

/**
 * The new value itself, where a message carries it: a recommendationsChanged message carries the
 * list saved at its version (`list`), so the recommendations subgraph's replicas serve it from
 * memory, with no read of the store, to the hydration the same message starts. Optional: readers
 * must accept messages without it (and read the store then).
 */
type LiveValue<F extends LiveFieldName> = F extends 'recommendationsChanged' ? { list?: StoredList } : unknown;

/** The table's entry for a Subscription field, if it is served live. */
export function liveFieldOf(name: string): AnyLiveField | undefined {
  return Object.hasOwn(LIVE_FIELDS, name) ? LIVE_FIELDS[name as LiveFieldName] : undefined;
}

/** The Redis channel of a stream. */
export function streamChannel(names: RedisNames, field: AnyLiveField, stream: object): string {
  return names.liveChannel(field.topic, field.segment(stream));
}

/** The Redis channel of a named field's stream (publishers, tests). */
export function liveChannel<F extends LiveFieldName>(names: RedisNames, field: F, stream: LiveStream<F>): string {
  return streamChannel(names, LIVE_FIELDS[field], stream);
}

/**
 * A change as published: the message plus when it was published (epoch ms, `at`), so relays can
 * report their lag.
 */
export function encodeChange<F extends LiveFieldName>(
  names: RedisNames,
  field: F,
  message: LiveMessage<F>,
  now = Date.now(),
): { channel: string; text: string } {
  return { channel: streamChannel(names, LIVE_FIELDS[field], message), text: JSON.stringify({ ...message, at: now }) };
}

export interface Change {
  /** The change's marker; undefined when the message has none (a relay then takes its arrival time). */
  readonly marker: number | undefined;
  readonly publishedAt: number | undefined;
  /** When the oldest event behind the change was accepted (epoch ms, `acceptedAt`), if the message says. */
  readonly acceptedAt: number | undefined;
}

/** Reads a change message of `field`'s channel; throws a SyntaxError when it is not a JSON object. */
export function decodeChange(field: AnyLiveField, text: string): Change {
  const parsed: unknown = JSON.parse(text);
  if (typeof parsed !== 'object' || parsed === null) throw new SyntaxError('a change message is a JSON object');
  const message = parsed as Record<string, unknown>;
  const marker = message[field.marker];
  const at = message['at'];
  const acceptedAt = message['acceptedAt'];
  return {
    marker: typeof marker === 'number' ? marker : undefined,
    publishedAt: typeof at === 'number' ? at : undefined,
    acceptedAt: typeof acceptedAt === 'number' ? acceptedAt : undefined,
  };
}
