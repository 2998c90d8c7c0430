import fc from 'fast-check';
import { EVENT_TYPE_NAMES } from '@recs/engine';
import { MAX_LITERAL_LIST_DEPTH } from '@recs/shared';
import { isGraphQLName, RawNumber } from './http.ts';

/**
 * Random clickstream events, valid and invalid, and an independent model of what the contract
 * (README "Limits", schema/events.graphql) says the API must do with each.
 */

export const USERS = ['u0', 'u1', 'u2', 'u3', 'u4', 'u5', 'u6', 'u7', 'u8', 'u9'] as const;
/** Users that get tokens of their own (the others are only tracked for by services). */
export const TOKEN_USERS = ['u0', 'u1', 'u2', 'u3'] as const;
export const CATEGORIES = ['c0', 'c1', 'c2'] as const;
export const PRODUCTS = Array.from({ length: 12 }, (_, i) => ({
  id: `p${i}`,
  name: `Fuzz product ${i}`,
  categoryId: CATEGORIES[i % CATEGORIES.length]!,
  categoryName: `Category ${i % CATEGORIES.length}`,
  price: 1 + i,
}));
/** The contract's EventType values (schema/test checks the SDL against this table). */
export const EVENT_TYPES = EVENT_TYPE_NAMES;

const DAY = 86_400_000;
const MINUTE = 60_000;

export type Caller = { kind: 'anonymous' } | { kind: 'user'; subject: string } | { kind: 'service' } | { kind: 'admin' } | { kind: 'forged'; name: string };

/** One event as sent: any field may be missing, null or of the wrong type. */
export type SentEvent = Record<string, unknown>;

// ---- ids -------------------------------------------------------------------------------------

const printable = fc.string({ unit: 'grapheme', minLength: 1, maxLength: 20 }).filter((s) => s.trim() === s && !/\p{Cc}/u.test(s));

/** Ids, good and bad: short, at the 128 limit, over it, empty, control characters, whitespace, unicode, lone surrogates. */
export const anyId = fc.oneof(
  { weight: 6, arbitrary: fc.stringMatching(/^[a-z0-9_-]{1,12}$/) },
  { weight: 2, arbitrary: printable },
  { weight: 1, arbitrary: fc.constantFrom('', ' ', '\t', 'a b', ' lead', 'trail ', 'new\nline', 'nul\u0000', 'esc\u001b[0m', 'del\u007f', 'c1\u0085') },
  { weight: 1, arbitrary: fc.integer({ min: 126, max: 131 }).map((n) => 'x'.repeat(n)) },
  {
    weight: 1,
    arbitrary: fc.constantFrom(
      '😀'.repeat(64),
      '😀'.repeat(65),
      'é'.repeat(128),
      'e\u0301'.repeat(64),
      '\u200b',
      'zw\u200bj',
      '\u2028',
      'rtl\u202e',
      '\ufeffbom',
    ),
  },
  { weight: 1, arbitrary: fc.constantFrom('lone\ud800', '\udfffx', 'a\ud800', 'a\ud801') },
  { weight: 1, arbitrary: fc.constantFrom('$where', 'a.b', '{"$gt":""}', '__proto__', 'constructor', 'null', 'undefined') },
);

/** Event ids from a small pool, so that duplicates (within a batch, across batches and users) are frequent. */
const eventIdPool = fc.constantFrom('e1', 'e2', 'e3', 'e4', 'e5', 'shared', 'dup');

// ---- timestamps ------------------------------------------------------------------------------

const iso = (offsetMs: number) => new Date(Date.now() + offsetMs).toISOString();

/** occurredAt values, each computed when the request is built (the contract is relative to now). */
export const occurredAt = fc.oneof(
  { weight: 6, arbitrary: fc.integer({ min: -399 * DAY, max: 4 * MINUTE }).map((offset) => ({ kind: 'offset' as const, offset })) },
  { weight: 1, arbitrary: fc.integer({ min: 6 * MINUTE, max: 1000 * DAY }).map((offset) => ({ kind: 'offset' as const, offset })) },
  { weight: 1, arbitrary: fc.integer({ min: 401 * DAY, max: 30_000 * DAY }).map((offset) => ({ kind: 'offset' as const, offset: -offset })) },
  {
    weight: 2,
    arbitrary: fc
      .constantFrom<unknown>(null, '0000-01-01T00:00:00Z', '0001-01-01T00:00:00.000Z', '9999-12-31T23:59:59.999Z', '1970-01-01T00:00:00Z')
      .map((value) => ({ kind: 'raw' as const, value })),
  },
);

function occurredAtValue(spec: { kind: 'offset'; offset: number } | { kind: 'raw'; value: unknown }): unknown {
  return spec.kind === 'offset' ? iso(spec.offset) : spec.value;
}

// ---- numbers ---------------------------------------------------------------------------------

const quantity = fc.oneof(
  { weight: 5, arbitrary: fc.integer({ min: 1, max: 5 }) },
  {
    weight: 2,
    arbitrary: fc.constantFrom<unknown>(0, -1, 100_000, 100_001, 2_147_483_647, -(2 ** 31), null),
  },
);

const price = fc.oneof(
  { weight: 5, arbitrary: fc.double({ min: 0, max: 10_000, noNaN: true, noDefaultInfinity: true }) },
  {
    weight: 2,
    arbitrary: fc.constantFrom<unknown>(
      0,
      -0.01,
      10_000_000,
      10_000_000.5,
      1e308,
      -1e308,
      5e-324,
      null,
      3,
      new RawNumber('1e-400'),
      new RawNumber('-0.0'),
      new RawNumber('0.1e1'),
    ),
  },
);

// ---- metadata --------------------------------------------------------------------------------

/** Keys MongoDB treats specially (dots, $ operators, NUL), prototype names, and ordinary ones. */
const metadataKey = fc.oneof(
  { weight: 4, arbitrary: fc.stringMatching(/^[a-z]{1,8}$/) },
  {
    weight: 2,
    arbitrary: fc.constantFrom(
      'a.b',
      '.',
      'x.',
      '$where',
      '$gt',
      '$',
      'nul\u0000key',
      '\u0000',
      '',
      ' ',
      '__proto__',
      'constructor',
      'toString',
      '_id',
      'é',
      '😀',
    ),
  },
  { weight: 1, arbitrary: fc.string({ unit: 'grapheme', maxLength: 10 }) },
);

const scalar = fc.oneof(
  fc.string({ unit: 'grapheme', maxLength: 20 }),
  fc.constantFrom('\u0000', 'nul\u0000inside', '$where', '{"$gt":1}'),
  fc.integer(),
  fc.double({ noNaN: true, noDefaultInfinity: true }).filter((n) => !Object.is(n, -0)),
  fc.boolean(),
  fc.constant(null),
);

const { json: metadataValue } = fc.letrec<{ json: unknown; object: Record<string, unknown> }>((tie) => ({
  json: fc.oneof({ depthSize: 'small', withCrossShrink: true }, scalar, fc.array(tie('json'), { maxLength: 4 }), tie('object')),
  object: fc.dictionary(metadataKey, tie('json'), { maxKeys: 5 }),
}));

function nested(depth: number, kind: 'object' | 'array'): unknown {
  let value: unknown = 1;
  for (let i = 0; i < depth; i++) value = kind === 'object' ? { d: value } : [value];
  return value;
}

export const metadata = fc.oneof(
  { weight: 5, arbitrary: fc.dictionary(metadataKey, metadataValue, { maxKeys: 6 }) },
  {
    weight: 1,
    arbitrary: fc.constantFrom(
      { page: '/p/1', referrer: 'https://example.com/?a=1&b=2' },
      { 'a.b': 1 },
      { $where: 'sleep(1000)' },
      { 'k\u0000': 1 },
      { nested: [[1, [2, [3]]]] },
      { arr: [[]] },
      { '': '' },
    ),
  },
  { weight: 1, arbitrary: fc.integer({ min: 1, max: 12 }).map((depth) => ({ deep: nested(depth, 'object') })) },
  { weight: 1, arbitrary: fc.integer({ min: 1, max: 1_500 }).map((depth) => ({ deep: nested(depth, 'array') })) },
  { weight: 1, arbitrary: fc.integer({ min: 3_900, max: 4_200 }).map((size) => ({ blob: 'x'.repeat(size) })) },
  { weight: 1, arbitrary: fc.constantFrom({ big: 'é'.repeat(2_100) }, { blob: 'y'.repeat(100_000) }, { list: Array.from({ length: 600 }, (_, i) => i) }) },
  { weight: 1, arbitrary: fc.constantFrom<unknown>('a string', 42, true, [], [{ a: 1 }], null) },
);

// ---- events ----------------------------------------------------------------------------------

type Field<T> = { present: false } | { present: true; value: T };
/** Present with probability `presence` (a weighted choice: fast-check biases plain numbers towards their bounds). */
const field = <T>(arbitrary: fc.Arbitrary<T>, presence = 0.6) =>
  fc.oneof(
    { weight: Math.round(presence * 10), arbitrary: arbitrary.map((value): Field<T> => ({ present: true, value })) },
    { weight: 10 - Math.round(presence * 10), arbitrary: fc.constant<Field<T>>({ present: false }) },
  );

export interface EventSpec {
  readonly eventId: Field<unknown>;
  readonly userId: unknown;
  readonly productId: unknown;
  readonly type: unknown;
  readonly occurredAt: Field<{ kind: 'offset'; offset: number } | { kind: 'raw'; value: unknown }>;
  readonly sessionId: Field<unknown>;
  readonly quantity: Field<unknown>;
  readonly price: Field<unknown>;
  readonly metadata: Field<unknown>;
}

const productId = fc.oneof(
  { weight: 8, arbitrary: fc.constantFrom(...PRODUCTS.map((p) => p.id)) },
  { weight: 1, arbitrary: fc.constantFrom('not-in-catalog', 'p99') },
  { weight: 1, arbitrary: anyId },
  { weight: 1, arbitrary: fc.constant<unknown>(7) },
);

export const eventSpec: fc.Arbitrary<EventSpec> = fc.record({
  eventId: field(
    fc.oneof({ weight: 4, arbitrary: eventIdPool }, { weight: 4, arbitrary: anyId }, { weight: 1, arbitrary: fc.constantFrom<unknown>(null, 12) }),
    0.9,
  ),
  userId: fc.oneof(
    { weight: 8, arbitrary: fc.constantFrom<unknown>(...USERS) },
    { weight: 1, arbitrary: anyId },
    { weight: 1, arbitrary: fc.constant<unknown>(3) },
  ),
  productId,
  type: fc.constantFrom<unknown>(...EVENT_TYPES),
  occurredAt: field(occurredAt, 0.8),
  sessionId: field(fc.oneof(anyId, fc.constantFrom('s1', 's2'))),
  quantity: field(quantity, 0.4),
  price: field(price, 0.4),
  metadata: field(metadata, 0.4),
});

/**
 * Realistic traffic: events the contract accepts (ids from a pool of a few hundred, so that
 * duplicates across batches happen but most events are new), for the exactly-once checks to
 * count many accepted events rather than a few.
 */
export const trafficEventSpec: fc.Arbitrary<EventSpec> = fc.record({
  eventId: field(
    fc.integer({ min: 0, max: 400 }).map((n) => `t${n}`),
    0.9,
  ),
  userId: fc.constantFrom<unknown>(...USERS),
  productId: fc.constantFrom<unknown>(...PRODUCTS.map((p) => p.id)),
  type: fc.constantFrom<unknown>(...EVENT_TYPES),
  occurredAt: field(
    fc.integer({ min: -30 * DAY, max: 0 }).map((offset) => ({ kind: 'offset' as const, offset })),
    0.5,
  ),
  sessionId: field(fc.constantFrom<unknown>('s1', 's2', 's3'), 0.5),
  quantity: field(fc.integer({ min: 1, max: 5 }), 0.3),
  price: field(fc.double({ min: 0, max: 100, noNaN: true }), 0.3),
  metadata: field(fc.dictionary(fc.constantFrom('page', 'referrer', 'source', 'slot'), fc.string({ maxLength: 20 }), { maxKeys: 3 }), 0.3),
});

/** One flaw that makes an event invalid by the contract but still a valid GraphQL input: refused per event. */
export const contractFlaw = fc.constantFrom<{ field: string; value: unknown }>(
  { field: 'eventId', value: '' },
  { field: 'eventId', value: 'x'.repeat(129) },
  { field: 'productId', value: 'tab\there' },
  { field: 'sessionId', value: ' padded' },
  { field: 'quantity', value: 0 },
  { field: 'price', value: -1 },
  { field: 'metadata', value: { 'a.b': 1 } },
  { field: 'metadata', value: { $where: 'x' } },
  { field: 'metadata', value: { list: [[1]] } },
  { field: 'metadata', value: { page: 'a\ud801' } },
);

/**
 * A value of the wrong GraphQL type for one field (or an unknown field): the whole request is
 * refused before any resolver runs. Kept apart so that most batches get past input coercion.
 */
export const schemaBreaker = fc.oneof(
  fc.constantFrom<unknown>('view', 'BOGUS', '', 'HIDE_PRODUCT', 'CLEAR_HISTORY', null, 1).map((value) => ({ field: 'type', value })),
  fc.constantFrom<unknown>(null, undefined, -1.5, true).map((value) => ({ field: 'userId', value })),
  fc.constantFrom<unknown>(null, undefined, 1.5, true, ['p1'], { id: 'p1' }).map((value) => ({ field: 'productId', value })),
  fc.constantFrom<unknown>(1.5, false, ['e1']).map((value) => ({ field: 'eventId', value })),
  fc
    .constantFrom<unknown>(
      1.5,
      '3',
      true,
      2 ** 31,
      -(2 ** 31) - 1,
      Number.MAX_SAFE_INTEGER,
      new RawNumber('1e400'),
      new RawNumber('-1e400'),
      new RawNumber('1e2'),
      new RawNumber('99999999999999999999'),
    )
    .map((value) => ({ field: 'quantity', value })),
  fc.constantFrom<unknown>('1.5', false, [1], new RawNumber('1e400'), new RawNumber('-1e400')).map((value) => ({ field: 'price', value })),
  fc
    .constantFrom<unknown>(
      'garbage',
      '',
      'yesterday',
      '2025-02-30T00:00:00Z',
      '2025-13-01T00:00:00Z',
      '2025-01-01',
      '2025-01-01T00:00:00',
      '+275760-09-13T00:00:00.000Z',
      'NaN',
      0,
      1.5,
      1e300,
      true,
      { $date: 1 },
      ['2025-01-01T00:00:00Z'],
    )
    .map((value) => ({ field: 'occurredAt', value })),
  fc.constantFrom<unknown>(1.5, true, ['r1'], { id: 'r1' }).map((value) => ({ field: 'recommendationId', value })),
  fc.constantFrom('recommendationid', 'bogus', 'eventid').map((name) => ({ field: name, value: 'x' })),
);

export function breakEvent(event: SentEvent, breaker: { field: string; value: unknown }): SentEvent {
  const broken = { ...event };
  if (breaker.value === undefined) delete broken[breaker.field];
  else broken[breaker.field] = breaker.value;
  return broken;
}

/** The event to send, with times relative to now. */
export function buildEvent(spec: EventSpec): SentEvent {
  const event: SentEvent = { userId: spec.userId, productId: spec.productId, type: spec.type };
  if (spec.eventId.present) event['eventId'] = spec.eventId.value;
  if (spec.occurredAt.present) event['occurredAt'] = occurredAtValue(spec.occurredAt.value);
  if (spec.sessionId.present) event['sessionId'] = spec.sessionId.value;
  if (spec.quantity.present) event['quantity'] = spec.quantity.value;
  if (spec.price.present) event['price'] = spec.price.value;
  if (spec.metadata.present) event['metadata'] = spec.metadata.value;
  return event;
}

// ---- the model -------------------------------------------------------------------------------

/**
 * What GraphQL input coercion does with a value: 'ok' (it reaches the resolver as `value`),
 * 'fail' (the request is refused before any resolver runs) or 'maybe' (the contract does not say
 * which layer refuses it; either is fine).
 */
type Coercion = { kind: 'ok'; value: unknown } | { kind: 'fail' } | { kind: 'maybe' };
const ok = (value: unknown): Coercion => ({ kind: 'ok', value });
const FAIL: Coercion = { kind: 'fail' };
const MAYBE: Coercion = { kind: 'maybe' };

export type Mode = 'variables' | 'literal';

function numberOf(value: unknown, mode: Mode): { literal: 'int' | 'float' | 'other'; value: number } | undefined {
  if (value instanceof RawNumber) {
    const n = mode === 'variables' ? (JSON.parse(value.text) as number) : Number(value.text);
    const literal = /^-?\d+$/.test(value.text) ? 'int' : 'float';
    return { literal, value: n };
  }
  if (typeof value === 'number') return { literal: Number.isInteger(value) && !String(value).includes('e') ? 'int' : 'float', value };
  return undefined;
}

/** A lone surrogate cannot be written in a GraphQL document (\\uD800 is not a valid escape there). */
export const hasLoneSurrogate = (value: string) => /[\ud800-\udfff]/u.test(value.replace(/[\ud800-\udbff][\udc00-\udfff]/g, ''));

function coerceId(value: unknown, mode: Mode): Coercion {
  if (typeof value === 'string') return mode === 'literal' && hasLoneSurrogate(value) ? FAIL : ok(value);
  const n = numberOf(value, mode);
  if (n !== undefined) {
    if (mode === 'literal') return n.literal === 'int' ? ok(String(n.value)) : FAIL;
    return Number.isInteger(n.value) ? ok(String(n.value)) : FAIL;
  }
  return FAIL;
}

function coerceInt(value: unknown, mode: Mode): Coercion {
  const n = numberOf(value, mode);
  if (n === undefined) return FAIL;
  if (mode === 'literal' && n.literal !== 'int') return FAIL;
  return Number.isInteger(n.value) && n.value >= -(2 ** 31) && n.value < 2 ** 31 ? ok(n.value) : FAIL;
}

function coerceFloat(value: unknown, mode: Mode): Coercion {
  const n = numberOf(value, mode);
  if (n === undefined) return FAIL;
  // graphql-js refuses a non-finite variable; a literal too big for a double parses to Infinity
  return Number.isFinite(n.value) ? ok(n.value) : MAYBE;
}

function coerceDateTime(value: unknown): Coercion {
  if (value === null || value === undefined) return ok(undefined);
  if (typeof value === 'string') {
    const strict = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/i.test(value);
    if (strict && !Number.isNaN(Date.parse(value)) && new Date(value).toISOString().slice(0, 10) === value.slice(0, 10)) return ok(Date.parse(value));
    // an RFC 3339 look-alike or garbage: refused as an input value or as an invalid timestamp
    return MAYBE;
  }
  // numbers (Unix times?) and other JSON: the DateTime scalar may take or refuse them
  return MAYBE;
}

function isValidId(value: unknown): 'yes' | 'no' | 'either' {
  if (typeof value !== 'string') return 'no';
  if (value.length === 0 || /\p{Cc}/u.test(value)) return 'no';
  const codePoints = [...value].length;
  if (codePoints > 128) return 'no';
  // a lone surrogate is not a character at all (and would be stored as U+FFFD): refused
  if (hasLoneSurrogate(value)) return 'no';
  // format/separator characters are not "printable"; UTF-16 length vs characters is not specified
  if (value.length > 128) return 'either';
  if (value.trim() !== value || /[\p{Cf}\p{Zl}\p{Zp}]/u.test(value)) return 'either';
  return 'yes';
}

function depth(value: unknown): number {
  if (value === null || typeof value !== 'object') return 0;
  let max = 0;
  for (const child of Object.values(value)) max = Math.max(max, depth(child));
  return max + 1;
}

function hasUnstorableKey(value: unknown): boolean {
  if (value === null || typeof value !== 'object') return false;
  const keys = Array.isArray(value) ? [] : Object.keys(value);
  return keys.some((key) => key.includes('.') || key.startsWith('$') || key.includes('\u0000')) || Object.values(value).some(hasUnstorableKey);
}

/** Keys the README's metadata rules refuse: empty, over 64 characters, a '.', a leading '$', a control character. */
function hasRefusedKey(value: unknown): boolean {
  if (value === null || typeof value !== 'object') return false;
  const keys = Array.isArray(value) ? [] : Object.keys(value);
  return (
    keys.some((key) => key === '' || key.length > 64 || key.includes('.') || key.startsWith('$') || /\p{Cc}/u.test(key)) ||
    Object.values(value).some(hasRefusedKey)
  );
}

/** A key or string value that is not well-formed UTF-16 (it could not be stored as sent). */
function hasMalformedString(value: unknown): boolean {
  if (typeof value === 'string') return hasLoneSurrogate(value);
  if (value === null || typeof value !== 'object') return false;
  return Object.keys(value).some(hasLoneSurrogate) || Object.values(value).some(hasMalformedString);
}

function hasLongArray(value: unknown): boolean {
  if (value === null || typeof value !== 'object') return false;
  if (Array.isArray(value) && value.length > 100) return true;
  return Object.values(value).some(hasLongArray);
}

function hasNestedArray(value: unknown, inArray = false): boolean {
  if (value === null || typeof value !== 'object') return false;
  if (Array.isArray(value)) return inArray || value.some((child) => hasNestedArray(child, true));
  return Object.values(value).some((child) => hasNestedArray(child, false));
}

/** A reason the contract allows (or requires) for refusing an event; 'ACCEPT' for taking it. */
export type Outcome =
  | 'ACCEPT'
  | 'FORBIDDEN'
  | 'INVALID_EVENT_ID'
  | 'INVALID_USER_ID'
  | 'INVALID_PRODUCT_ID'
  | 'INVALID_SESSION_ID'
  | 'INVALID_TYPE'
  | 'INVALID_TIMESTAMP'
  | 'FUTURE_TIMESTAMP'
  | 'TOO_OLD'
  | 'INVALID_QUANTITY'
  | 'INVALID_PRICE'
  | 'INVALID_METADATA';

export interface Expectation {
  /** The whole request must be refused (GraphQL coercion), may be, or must not be. */
  readonly coercion: 'ok' | 'fail' | 'maybe';
  /** If it reaches the resolver: the outcomes the contract allows for this event. */
  readonly outcomes: ReadonlySet<Outcome>;
  /** What would be stored, when accepted (values as coerced). */
  readonly event: ModelEvent;
}

export interface ModelEvent {
  readonly eventId: string | undefined;
  readonly userId: string;
  readonly productId: string;
  readonly type: string;
  /** Epoch ms, 'now' when left out, 'unknown' when the contract does not say how it is read. */
  readonly occurredAt: number | 'now' | 'unknown';
  readonly quantity: number;
  readonly price: number | undefined;
  readonly sessionId: string | undefined;
  readonly metadata: unknown;
}

/** The contract's verdict on one event sent by `caller` (an authenticated one), at about `now`. */
export function expect1(event: SentEvent, caller: Caller, mode: Mode, now: number): Expectation {
  let coercion: 'ok' | 'fail' | 'maybe' = 'ok';
  const worst = (c: Coercion) => {
    if (c.kind === 'fail') coercion = 'fail';
    else if (c.kind === 'maybe' && coercion === 'ok') coercion = 'maybe';
    return c.kind === 'ok' ? c.value : undefined;
  };
  const known = new Set(['eventId', 'userId', 'productId', 'type', 'occurredAt', 'sessionId', 'quantity', 'price', 'metadata']);
  if (Object.keys(event).some((key) => !known.has(key))) coercion = 'fail';
  const required = (key: string) => (event[key] === null || event[key] === undefined ? FAIL : coerceId(event[key], mode));
  const optional = (key: string, coerce: (value: unknown, mode: Mode) => Coercion) =>
    event[key] === null || event[key] === undefined ? ok(undefined) : coerce(event[key], mode);

  const eventId = worst(optional('eventId', coerceId)) as string | undefined;
  const userId = worst(required('userId')) as string;
  const productId = worst(required('productId')) as string;
  const type = event['type'];
  if (typeof type !== 'string' || !(EVENT_TYPES as readonly string[]).includes(type)) coercion = 'fail';
  const at = worst(coerceDateTime(event['occurredAt'])) as number | undefined;
  const sessionId = worst(optional('sessionId', coerceId)) as string | undefined;
  const qty = worst(optional('quantity', coerceInt)) as number | undefined;
  const prc = worst(optional('price', coerceFloat)) as number | undefined;
  const meta = event['metadata'];

  /** Refusals the contract requires, and ones it allows (it does not say). */
  const must = new Set<Outcome>();
  const may = new Set<Outcome>();
  const check = (verdict: 'yes' | 'no' | 'either', code: Outcome) => {
    if (verdict === 'no') must.add(code);
    if (verdict === 'either') may.add(code);
  };
  if (eventId !== undefined) check(isValidId(eventId), 'INVALID_EVENT_ID');
  check(isValidId(userId), 'INVALID_USER_ID');
  check(isValidId(productId), 'INVALID_PRODUCT_ID');
  if (sessionId !== undefined) check(isValidId(sessionId), 'INVALID_SESSION_ID');
  const rawAt = event['occurredAt'];
  if (typeof rawAt === 'string' && at === undefined) must.add('INVALID_TIMESTAMP'); // if it got past coercion
  if (rawAt !== null && rawAt !== undefined && typeof rawAt !== 'string') {
    // a non-string the DateTime scalar took (a Unix time?): the contract says nothing of it
    for (const code of ['INVALID_TIMESTAMP', 'FUTURE_TIMESTAMP', 'TOO_OLD'] as const) may.add(code);
    may.add('ACCEPT');
  }
  if (at !== undefined) {
    // two minutes either side of each bound are left open: the server's clock reads later than ours
    const margin = 2 * MINUTE;
    if (at > now + 5 * MINUTE + margin) must.add('FUTURE_TIMESTAMP');
    else if (at > now + 5 * MINUTE - margin) may.add('FUTURE_TIMESTAMP');
    if (at < now - 400 * DAY - margin) must.add('TOO_OLD');
    else if (at < now - 400 * DAY + margin) may.add('TOO_OLD');
  }
  if (qty !== undefined && (qty < 1 || qty > 100_000)) must.add('INVALID_QUANTITY');
  if (event['quantity'] !== null && event['quantity'] !== undefined && qty === undefined) must.add('INVALID_QUANTITY');
  if (prc !== undefined && (prc < 0 || prc > 10_000_000)) must.add('INVALID_PRICE');
  if (event['price'] !== null && event['price'] !== undefined && prc === undefined) must.add('INVALID_PRICE');
  if (meta !== null && meta !== undefined) {
    if (typeof meta !== 'object' || Array.isArray(meta)) must.add('INVALID_METADATA');
    else {
      const size = Buffer.byteLength(JSON.stringify(meta));
      // "at most 4 KB": 4,096 bytes of JSON, give or take how the server measures it
      if (size > 4_096 + 64) must.add('INVALID_METADATA');
      else if (size > 4_096 - 64) may.add('INVALID_METADATA');
      // the contract sets no depth limit; a server may set one
      if (depth(meta) > 5) may.add('INVALID_METADATA');
      // README "Limits": no array directly inside an array, at most 100 elements per array, keys of
      // 1-64 characters without '.', a leading '$' or control characters (what MongoDB and FerretDB
      // can store)
      if (hasNestedArray(meta) || hasUnstorableKey(meta) || hasRefusedKey(meta) || hasLongArray(meta) || hasMalformedString(meta)) must.add('INVALID_METADATA');
    }
  }
  if (caller.kind === 'user' && caller.subject !== userId) must.add('FORBIDDEN');

  const outcomes = new Set<Outcome>([...must, ...may]);
  if (must.size === 0) outcomes.add('ACCEPT');
  else outcomes.delete('ACCEPT');
  return {
    coercion,
    outcomes,
    event: {
      eventId,
      userId,
      productId,
      type: String(type),
      occurredAt: at ?? (rawAt === null || rawAt === undefined ? 'now' : 'unknown'),
      quantity: qty ?? 1,
      price: prc,
      sessionId,
      metadata: meta,
    },
  };
}

/**
 * Whether a metadata object can be written as a GraphQL literal: keys must be GraphQL names, and
 * lists nest less deep than the gateway allows list literals to (MAX_LITERAL_LIST_DEPTH, counting
 * trackEvents' own list; deeper ones are refused as invalid documents, see literals.e2e.test.ts;
 * here they go as variables).
 */
export function literalSafe(value: unknown): boolean {
  return listDepth(value) < MAX_LITERAL_LIST_DEPTH && literalWritable(value);
}

function listDepth(value: unknown): number {
  if (value === null || typeof value !== 'object') return 0;
  const children = Object.values(value).map(listDepth);
  return Math.max(0, ...children) + (Array.isArray(value) ? 1 : 0);
}

function literalWritable(value: unknown): boolean {
  if (value instanceof RawNumber) return true;
  if (value === null || typeof value !== 'object') return typeof value !== 'string' || !/[\ud800-\udfff]/.test(value);
  if (Array.isArray(value)) return value.every(literalWritable);
  return Object.entries(value).every(([key, child]) => isGraphQLName(key) && literalWritable(child));
}
