import fc from 'fast-check';
import { anyId, CATEGORIES, PRODUCTS, TOKEN_USERS, USERS, type Caller } from './events.ts';
import { RawNumber, toLiteral } from './http.ts';

/**
 * Random read operations (with arguments as variables or literals) and random documents, with
 * what the contract says about each: 'ok' (no error), codes one of which must come back, or
 * 'any' (any coded error or none).
 */
export type Expect = { kind: 'ok' } | { kind: 'error'; codes: readonly string[] } | { kind: 'any' } | { kind: 'okOr'; codes: readonly string[] };
const OK: Expect = { kind: 'ok' };
const ANY: Expect = { kind: 'any' };
const error = (...codes: string[]): Expect => ({ kind: 'error', codes });
const INPUT = error('BAD_USER_INPUT', 'GRAPHQL_VALIDATION_FAILED');
const INVALID = error('GRAPHQL_VALIDATION_FAILED');

export interface Operation {
  readonly query: string;
  readonly variables?: Record<string, unknown>;
  readonly operationName?: string;
  readonly expect: Expect;
}

/** An argument: its GraphQL type, the value, and whether the contract takes the value. */
interface Arg {
  readonly name: string;
  readonly type: string;
  readonly value: unknown;
  /** 'ok': in range; 'range': a value of the type out of range (BAD_USER_INPUT); 'type': not of the type. */
  readonly verdict: 'ok' | 'range' | 'type' | 'unknown-arg' | 'open';
}

const int32 = (n: number) => Number.isInteger(n) && n >= -(2 ** 31) && n < 2 ** 31;

/** Ints around the bounds [min, max], and values that are not Ints at all. */
function limitArg(name: string, min: number, max: number): fc.Arbitrary<Arg> {
  return fc
    .oneof(
      { weight: 4, arbitrary: fc.integer({ min, max }) },
      { weight: 2, arbitrary: fc.constantFrom(min - 1, max + 1, -1, 0, 2 ** 31 - 1, -(2 ** 31)) },
      { weight: 1, arbitrary: fc.constantFrom<unknown>(2 ** 31, 1e10, 1.5, '10', true, null, new RawNumber('1e400'), [1]) },
    )
    .map((value) => {
      // an explicit null for an argument with a default: the contract does not say (default, or refused)
      const verdict: Arg['verdict'] =
        value === null ? 'open' : typeof value === 'number' && int32(value) ? (value >= min && value <= max ? 'ok' : 'range') : 'type';
      return { name, type: 'Int', value, verdict };
    });
}

const idValue = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom<unknown>(...PRODUCTS.map((p) => p.id), ...USERS, ...CATEGORIES, 'nope') },
  { weight: 2, arbitrary: anyId.filter((id) => !/[\ud800-\udfff]/.test(id)) },
  { weight: 1, arbitrary: fc.constantFrom<unknown>(7, 1.5, null, true, ['p1'], 'x'.repeat(10_000)) },
);

function idArg(name: string, required: boolean): fc.Arbitrary<Arg> {
  return idValue.map((value) => ({
    name,
    type: required ? 'ID!' : 'ID',
    value,
    verdict: typeof value === 'string' || (typeof value === 'number' && Number.isInteger(value)) ? 'ok' : value === null && !required ? 'ok' : 'type',
  }));
}

const optional = (arbitrary: fc.Arbitrary<Arg>) => fc.option(arbitrary, { nil: undefined, freq: 3 });

interface Field {
  readonly field: string;
  readonly args: readonly Arg[];
  readonly selection: string;
  /** The user whose data this reads, when access is checked. */
  readonly user?: unknown;
  /** Arguments of nested fields (user { browsingHistory(limit) recommendations(limit) }). */
  readonly nested?: readonly Arg[];
}

const fields: fc.Arbitrary<Field> = fc.oneof(
  idArg('id', true).map((id) => ({ field: 'product', args: [id], selection: '{ id name price inStock category { id name } }' })),
  fc
    .tuple(
      optional(
        fc.array(idValue, { maxLength: 5 }).map(
          (ids): Arg => ({
            name: 'ids',
            type: '[ID!]',
            value: ids,
            verdict: ids.every((v) => typeof v === 'string' || (typeof v === 'number' && Number.isInteger(v))) ? 'ok' : 'type',
          }),
        ),
      ),
      optional(idArg('categoryId', false)),
      optional(
        fc
          .oneof(fc.string({ unit: 'grapheme', maxLength: 30 }), fc.constantFrom('.*', '(a+)+$', '$where', 'x'.repeat(201), '\u0000', 'Fuzz'))
          .map((value): Arg => ({ name: 'search', type: 'String', value, verdict: value.length > 200 ? 'range' : 'ok' })),
      ),
      optional(limitArg('first', 0, 100)),
      optional(
        fc
          .oneof(fc.string({ maxLength: 20 }), fc.constantFrom('cDE=', 'eyJpZCI6InAxIn0', ''))
          .map((value): Arg => ({ name: 'after', type: 'String', value, verdict: 'range' })),
      ),
    )
    .map(([ids, categoryId, search, first, after]) => ({
      field: 'products',
      args: [ids, categoryId, search, first, after].filter((a): a is Arg => a !== undefined),
      selection: '{ totalCount edges { cursor node { id } } pageInfo { hasNextPage hasPreviousPage startCursor endCursor } }',
    })),
  fc.constant<Field>({ field: 'categories', args: [], selection: '{ id name }' }),
  fc.tuple(idArg('id', true), optional(limitArg('limit', 0, 50)), optional(limitArg('limit', 0, 50))).map(([id, history, recs]) => ({
    field: 'user',
    args: [id],
    selection: `{ id browsingHistory${history === undefined ? '' : `(limit: ${toLiteral(history.value)})`} { views lastViewedAt product { id } } recommendations${recs === undefined ? '' : `(limit: ${toLiteral(recs.value)})`} { userId strategy version items { score reasons product { id } } } }`,
    user: id.value,
    nested: [history, recs].filter((a): a is Arg => a !== undefined),
  })),
  fc
    .tuple(
      idArg('userId', true),
      optional(limitArg('limit', 0, 50)),
      optional(fc.constant<Arg>({ name: 'exclude', type: '[ID!]', value: ['p1'], verdict: 'ok' })),
      optional(idArg('categoryId', false)),
      // an unknown argument still fails validation
      optional(fc.constant<Arg>({ name: 'excludeCategories', type: '[ID!]', value: ['c1'], verdict: 'unknown-arg' })),
    )
    .map(([userId, limit, exclude, categoryId, unknown]) => ({
      field: 'recommendations',
      args: [userId, limit, exclude, categoryId, unknown].filter((a): a is Arg => a !== undefined),
      selection: '{ userId strategy version generatedAt items { score reasons product { id name } } }',
      user: userId.value,
    })),
  fc
    .tuple(optional(idArg('categoryId', false)), optional(limitArg('limit', 0, 100)), optional(limitArg('windowDays', 1, 365).filter((a) => a.value !== 364)))
    .map(([categoryId, limit, windowDays]) => ({
      field: 'bestSellers',
      args: [categoryId, limit, windowDays].filter((a): a is Arg => a !== undefined),
      selection: '{ rank score product { id name } }',
    })),
  fc
    .tuple(
      idArg('productId', true),
      optional(
        fc
          .constantFrom('ALSO_VIEWED', 'ALSO_BOUGHT', 'also_viewed', 'NOPE')
          .map((value): Arg => ({ name: 'kind', type: 'SimilarityKind', value, verdict: value.startsWith('ALSO_') ? 'ok' : 'type' })),
      ),
      optional(limitArg('limit', 0, 20)),
    )
    .map(([productId, kind, limit]) => ({
      field: 'similarProducts',
      args: [productId, kind, limit].filter((a): a is Arg => a !== undefined),
      selection: '{ rank score product { id } }',
    })),
  fc.tuple(optional(idArg('categoryId', false)), optional(limitArg('limit', 0, 100))).map(([categoryId, limit]) => ({
    field: 'bestSellersSnapshot',
    args: [categoryId, limit].filter((a): a is Arg => a !== undefined),
    selection: '{ categoryId changedAt items { rank score product { id } } }',
  })),
);

function wellFormedId(value: unknown): boolean {
  if (value === null || value === undefined) return true;
  const id = String(value);
  return id.length >= 1 && [...id].length <= 128 && id.trim() === id && !/[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]/u.test(id);
}

/** May `caller` read `user`'s data? (README Auth.) */
function access(caller: Caller, user: unknown): Expect {
  if (caller.kind === 'anonymous') return error('UNAUTHENTICATED');
  if (caller.kind === 'user' && String(user) !== caller.subject) return error('FORBIDDEN');
  return OK;
}

/** A field with its arguments as variables or literals, and what must come back. */
export function fieldOperation(field: Field, asVariables: boolean, caller: Caller): Operation {
  const enums = new Set(['kind']);
  const args = field.args;
  const rendered = args.map((arg) => `${arg.name}: ${asVariables && arg.verdict !== 'unknown-arg' ? `$${arg.name}` : toLiteral(arg.value, enums, arg.name)}`);
  const declared = asVariables ? args.filter((a) => a.verdict !== 'unknown-arg').map((a) => `$${a.name}: ${a.type}`) : [];
  const query = `query Fuzz${declared.length > 0 ? `(${declared.join(', ')})` : ''} { ${field.field}${rendered.length > 0 ? `(${rendered.join(', ')})` : ''} ${field.selection} }`;
  const variables = asVariables ? Object.fromEntries(args.filter((a) => a.verdict !== 'unknown-arg').map((a) => [a.name, a.value])) : undefined;
  const all = [...args, ...(field.nested ?? [])];
  let expectation: Expect;
  if (all.some((a) => a.verdict === 'unknown-arg')) expectation = INVALID;
  else if (all.some((a) => a.verdict === 'type')) expectation = INPUT;
  else if (field.user !== undefined && access(caller, field.user).kind === 'error') expectation = access(caller, field.user);
  else if (all.some((a) => a.verdict === 'range')) expectation = field.field === 'products' ? ANY : error('BAD_USER_INPUT');
  else if (all.some((a) => a.verdict === 'open')) expectation = ANY;
  else expectation = field.field === 'products' ? ANY : OK;
  // an id that is not 1-128 printable characters may be refused as such, before any access check
  if (args.some((a) => a.type.startsWith('ID') && a.verdict === 'ok' && !wellFormedId(a.value)) && expectation.kind !== 'any') {
    expectation = expectation.kind === 'ok' ? { kind: 'okOr', codes: ['BAD_USER_INPUT'] } : { ...expectation, codes: [...expectation.codes, 'BAD_USER_INPUT'] };
  }
  return { query, ...(variables === undefined ? {} : { variables }), expect: expectation };
}

export const fieldOperations = fc.tuple(fields, fc.boolean());

// ---- random documents ------------------------------------------------------------------------

const deepSelection = (depth: number) => {
  let inner = '{ id }';
  for (let i = 0; i < depth; i++) inner = `{ id alsoViewed { product ${inner} } }`;
  return `{ product(id: "p1") ${inner} }`;
};

const VALID = [
  '{ categories { id name } }',
  'query Q($id: ID!) { product(id: $id) { id name } }',
  '{ bestSellers(limit: 5) { rank product { id name category { name } } } }',
  'query { user(id: "u0") { browsingHistory { views } } }',
  'mutation { trackEvent(input: { userId: "u0", productId: "p1", type: VIEW }) { eventId } }',
];

/** Documents that are wrong on purpose, each with what must come back. */
export const documents: fc.Arbitrary<Operation> = fc.oneof(
  fc.string({ unit: 'grapheme', maxLength: 200 }).map((query) => ({ query, expect: ANY })),
  fc.string({ unit: 'binary', maxLength: 100 }).map((query) => ({ query, expect: ANY })),
  fc
    .tuple(fc.constantFrom(...VALID), fc.double({ min: 0, max: 1, noNaN: true }))
    .map(([doc, cut]) => ({ query: doc.slice(0, Math.floor(doc.length * cut)), variables: { id: 'p1' }, expect: ANY })),
  fc
    .integer({ min: 1, max: 40 })
    .map((depth) => ({ query: deepSelection(depth), expect: depth >= 7 ? error('GRAPHQL_VALIDATION_FAILED', 'BAD_USER_INPUT') : ANY })),
  fc.integer({ min: 1, max: 80 }).map((n) => ({
    query: `{ ${Array.from({ length: n }, (_, i) => `a${i}: categories { id }`).join(' ')} }`,
    expect: n > 30 ? error('GRAPHQL_VALIDATION_FAILED', 'BAD_USER_INPUT') : OK,
  })),
  fc.integer({ min: 1, max: 3_000 }).map((n) => ({ query: `{ ${'__typename '.repeat(n)}}`, expect: ANY })),
  fc
    .integer({ min: 1, max: 2_000 })
    .map((n) => ({ query: `${'{'.repeat(n)}${'}'.repeat(n)}`, expect: error('GRAPHQL_PARSE_FAILED', 'GRAPHQL_VALIDATION_FAILED', 'BAD_REQUEST') })),
  fc.constantFrom<Operation>(
    { query: '{ nope }', expect: INVALID },
    { query: '{ product(id: "p1") { nope } }', expect: INVALID },
    { query: '{ product(id: "p1", bogus: 1) { id } }', expect: INVALID },
    { query: '{ categories { id @include(if: $x) } }', expect: INVALID },
    { query: 'query($x: Boolean!) { categories { id @include(if: $x) } }', expect: INPUT },
    { query: 'query($x: Boolean!) { categories { id @skip(if: $x) } }', variables: { x: 'yes' }, expect: INPUT },
    { query: '{ categories @foo { id } }', expect: INVALID },
    { query: '{ categories @deprecated { id } }', expect: INVALID },
    { query: '{ categories @include(if: true) @include(if: false) { id } }', expect: INVALID },
    { query: '{ products @defer { totalCount } }', expect: ANY },
    { query: '{ ... on Query { ... @defer { categories { id } } } }', expect: ANY },
    { query: '{ products { edges @stream { cursor } } }', expect: ANY },
    { query: 'query { ...A } fragment A on Query { ...B } fragment B on Query { ...A }', expect: INVALID },
    { query: 'query { ...A } fragment A on Query { categories { id } ...A }', expect: INVALID },
    { query: 'query { product(id: "p1") { ...P } } fragment P on Product { alsoViewed { product { ...P } } }', expect: INVALID },
    { query: 'query { ...A } fragment A on Product { id }', expect: INVALID },
    { query: 'query { categories { id } } fragment Unused on Query { categories { id } }', expect: INVALID },
    {
      query: 'query A { categories { id } } query B { categories { name } }',
      expect: error('BAD_REQUEST', 'OPERATION_RESOLUTION_FAILURE', 'GRAPHQL_VALIDATION_FAILED'),
    },
    { query: 'query A { categories { id } }', operationName: 'B', expect: error('BAD_REQUEST', 'OPERATION_RESOLUTION_FAILURE', 'GRAPHQL_VALIDATION_FAILED') },
    { query: 'query A { categories { id } } query A { categories { id } }', expect: INVALID },
    { query: 'subscription { bestSellersChanged { categoryId } }', expect: ANY },
    { query: 'subscription { recommendationsChanged(userId: "u0") { version } }', expect: ANY },
    { query: '{ __schema { types { name fields { name } } } }', expect: ANY },
    { query: '{ __type(name: "Product") { fields { name args { name } } } }', expect: ANY },
    { query: '{ __typename }', expect: OK },
    { query: 'query($v: [[ID!]!]!) { products(ids: $v) { totalCount } }', variables: { v: [['p1']] }, expect: INVALID },
    { query: 'query($v: ID) { product(id: $v) { id } }', expect: INVALID },
    { query: '{ product(id: 1e400) { id } }', expect: INVALID },
    { query: '{ bestSellers(limit: 1e400) { rank } }', expect: INVALID },
    { query: '{ bestSellers(limit: 99999999999999999999) { rank } }', expect: INVALID },
    { query: '{ similarProducts(productId: "p1", kind: "ALSO_VIEWED") { rank } }', expect: INVALID },
    { query: '{ product(id: "\\uD800") { id } }', expect: error('GRAPHQL_PARSE_FAILED') },
    { query: '{ product(id: """block\nstring""") { id } }', expect: { kind: 'okOr', codes: ['BAD_USER_INPUT'] } },
    { query: '# only a comment', expect: error('GRAPHQL_PARSE_FAILED') },
    { query: '', expect: error('BAD_REQUEST', 'GRAPHQL_PARSE_FAILED') },
    { query: 'mutation { upsertProducts(products: []) { created } }', expect: ANY },
    { query: 'mutation { clearHistory(userId: "nobody-of-the-fuzz") { id } }', expect: ANY },
    { query: 'mutation { trackEvents(inputs: []) { accepted } }', expect: ANY },
    { query: '{ user(id: "u0") { browsingHistory(limit: -1) { views } } }', expect: ANY },
  ),
);

/** Request bodies that are not a GraphQL request at all. */
export const RAW_BODIES: readonly { body: string; contentType?: string }[] = [
  { body: '' },
  { body: 'not json' },
  { body: '[]' },
  { body: '[{"query":"{ __typename }"},{"query":"{ categories { id } }"}]' },
  { body: 'null' },
  { body: '42' },
  { body: '"{ __typename }"' },
  { body: '{}' },
  { body: '{"query": 42}' },
  { body: '{"query": null}' },
  { body: '{"query": ["{ __typename }"]}' },
  { body: '{"query": "{ __typename }", "variables": "x"}' },
  { body: '{"query": "{ __typename }", "variables": [1]}' },
  { body: '{"query": "{ __typename }", "operationName": 5}' },
  { body: '{"query": "{ __typename }", "extensions": {"persistedQuery": {"version": 1, "sha256Hash": "abc"}}}' },
  { body: '{"extensions": {"persistedQuery": {"version": 1, "sha256Hash": "abc"}}}' },
  { body: '{"query": "{ __typename }", "extensions": "x"}' },
  { body: '{"query": "{ __typename }"', contentType: 'application/json' },
  { body: '{"query": "{ __typename }"}', contentType: 'text/plain' },
  { body: '{"query": "{ __typename }"}', contentType: 'application/graphql' },
  { body: '{ __typename }', contentType: 'application/graphql' },
  { body: '{"query": "{ __typename }"}', contentType: 'application/x-www-form-urlencoded' },
  { body: `{"query": "{ __typename }", "variables": {"x": "${'y'.repeat(1_100_000)}"}}` },
  { body: `{"query": "{ ${'__typename '.repeat(120_000)}}"}` },
  { body: '{"query": "{ __typename }", "variables": {"a": 1e400}}' },
  { body: '{"query": "query($a: Float) { bestSellers(limit: 1) { rank } }", "variables": {"a": 1e400}}' },
  { body: '{"query": "query($l: Int) { bestSellers(limit: $l) { rank } }", "variables": {"l": 1e400}}' },
  { body: '{"query": "{ __typename }", "__proto__": {"polluted": true}}' },
  { body: '\u0000\u0001\u0002' },
];

export const callers: readonly Caller[] = [
  { kind: 'anonymous' },
  ...TOKEN_USERS.map((subject) => ({ kind: 'user' as const, subject })),
  { kind: 'service' },
  { kind: 'admin' },
];
