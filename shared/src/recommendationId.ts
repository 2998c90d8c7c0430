/**
 * recommendationId: what a served list was, signed, so the events that follow it (a click, a
 * cart, a purchase) are attributed to the strategy, variant and model that made it, and a client
 * cannot attribute them to another variant, list or user.
 *
 * Format (opaque to clients): `r1~<experiment>~<variant>~<model>~<strategy>~<listVersion>~<servedAt>~<mac>`,
 * the numbers in base 36, the experiment empty when none runs, and the mac the first 128 bits
 * (base64url) of HMAC-SHA256, under a key derived from JWT_SECRET, of the user's id and the rest.
 * The user is not written in the id, only signed: an id checks out only with the event's own
 * userId, and the id stays within the 128 characters of every other id whatever the userId's length.
 */
import { createHmac, timingSafeEqual, type KeyObject } from 'node:crypto';
import type { EventType, RecommendationStrategy } from '@recs/engine';
import { keyOf } from './auth.ts';

/** The event types that may carry a recommendationId (what a list leads to). */
export const ATTRIBUTABLE_TYPES = ['CLICK', 'ADD_TO_CART', 'PURCHASE'] as const satisfies readonly EventType[];
export type AttributableType = (typeof ATTRIBUTABLE_TYPES)[number];

export function isAttributable(type: string): type is AttributableType {
  return (ATTRIBUTABLE_TYPES as readonly string[]).includes(type);
}

/** Experiment names: 1-32 letters, digits, `_` or `-`. */
export const EXPERIMENT_NAME = /^[A-Za-z0-9_-]{1,32}$/;
/** Variant (serving policy) names: 1-16 lower-case letters, digits, `_` or `-`. */
export const VARIANT_NAME = /^[a-z0-9_-]{1,16}$/;
/** Model versions: 1-24 letters, digits, `_`, `.` or `-` (`none`: no learned model). */
export const MODEL_VERSION = /^[A-Za-z0-9_.-]{1,24}$/;

/** An event may follow its list by this long at most; older ids are refused. */
export const ATTRIBUTION_WINDOW_MS = 30 * 86_400_000;
/** A client's clock may be this far behind ours (as events' occurredAt may be ahead by it). */
const CLOCK_SKEW_MS = 5 * 60_000;

/** What was served. */
export interface ServedList {
  /** The experiment the user was assigned in; undefined when none runs. */
  readonly experiment: string | undefined;
  readonly variant: string;
  readonly model: string;
  readonly strategy: RecommendationStrategy;
  /** The stored list's version (0: the cold-start list). */
  readonly listVersion: number;
  /** Epoch ms (the recommendations subgraph rounds it down to the minute). */
  readonly servedAt: number;
}

const STRATEGY_CODES = { PERSONALIZED: 'P', BEST_SELLERS: 'B' } as const satisfies Record<RecommendationStrategy, string>;
const STRATEGIES = new Map(Object.entries(STRATEGY_CODES).map(([strategy, code]) => [code as string, strategy as RecommendationStrategy]));

const VERSION = 'r1';
const SEPARATOR = '~';
const MAC_LENGTH = 22;
const BASE36 = /^[0-9a-z]{1,11}$/;

const keys = new Map<string, KeyObject>();

function mac(userId: string, body: string, secret: string): string {
  return createHmac('sha256', keyOf(keys, secret, 'recs/recommendation-id/v1'))
    .update(`${userId}\n${body}`)
    .digest('base64url')
    .slice(0, MAC_LENGTH);
}

/** The id of a list served to `userId`. The names must match EXPERIMENT_NAME, VARIANT_NAME and MODEL_VERSION. */
export function signRecommendationId(userId: string, served: ServedList, secret: string): string {
  const body = [
    VERSION,
    served.experiment ?? '',
    served.variant,
    served.model,
    STRATEGY_CODES[served.strategy],
    served.listVersion.toString(36),
    served.servedAt.toString(36),
  ].join(SEPARATOR);
  return `${body}${SEPARATOR}${mac(userId, body, secret)}`;
}

export type RecommendationIdCheck = { readonly ok: true; readonly served: ServedList } | { readonly ok: false; readonly message: string };

const refuse = (message: string): RecommendationIdCheck => ({ ok: false, message });

/** What an id says, unchecked: undefined when it is not shaped like one. */
function parse(id: string): { body: string; mac: string; served: ServedList } | undefined {
  const parts = id.split(SEPARATOR);
  if (parts.length !== 8) return undefined;
  const [version, experiment = '', variant = '', model = '', strategyCode = '', listVersion = '', servedAt = '', signature = ''] = parts;
  const strategy = STRATEGIES.get(strategyCode);
  if (version !== VERSION || strategy === undefined || signature.length !== MAC_LENGTH) return undefined;
  if ((experiment !== '' && !EXPERIMENT_NAME.test(experiment)) || !VARIANT_NAME.test(variant) || !MODEL_VERSION.test(model)) return undefined;
  if (!BASE36.test(listVersion) || !BASE36.test(servedAt)) return undefined;
  return {
    body: id.slice(0, id.length - MAC_LENGTH - 1),
    mac: signature,
    served: {
      experiment: experiment === '' ? undefined : experiment,
      variant,
      model,
      strategy,
      listVersion: parseInt(listVersion, 36),
      servedAt: parseInt(servedAt, 36),
    },
  };
}

/**
 * Checks a recommendationId sent with an event of `userId` that occurred at `occurredAt` and
 * was received `now`: signed by this deployment for that user, served before the event (give or
 * take a client's clock skew) and at most ATTRIBUTION_WINDOW_MS before it was received.
 */
export function verifyRecommendationId(id: unknown, userId: string, secret: string, occurredAt: number, now: number): RecommendationIdCheck {
  const parsed = typeof id === 'string' && id.length <= 128 ? parse(id) : undefined;
  if (parsed === undefined) return refuse('recommendationId is not one this API issued');
  const expected = Buffer.from(mac(userId, parsed.body, secret));
  const given = Buffer.from(parsed.mac);
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
    return refuse(`recommendationId was not issued for user ${userId}, or was altered`);
  }
  if (parsed.served.servedAt > now + CLOCK_SKEW_MS) return refuse('recommendationId is not one this API issued');
  if (now - parsed.served.servedAt > ATTRIBUTION_WINDOW_MS) return refuse('recommendationId expired: its list was served more than 30 days ago');
  if (occurredAt < parsed.served.servedAt - CLOCK_SKEW_MS) return refuse('the event occurred before the list of its recommendationId was served');
  return { ok: true, served: parsed.served };
}
