import fc from 'fast-check';
import type { Client } from 'graphql-ws';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { deferred } from '@recs/devkit';
import { DEFAULT_ENGINE_CONFIG, EVENT_TYPE_NAMES } from '@recs/engine';
import { COLLECTIONS, fromRawEventDoc, type RawEventDoc } from '@recs/shared';
import { compareAggregates, dumpAggregator, readStoredAggregates, recomputeAggregates } from '@recs/workers';
import { startSystem, type System } from '../src/system.ts';
import { callers, documents, fieldOperation, fieldOperations, RAW_BODIES, type Expect, type Operation } from './fuzz/documents.ts';
import {
  breakEvent,
  buildEvent,
  CATEGORIES,
  contractFlaw,
  schemaBreaker,
  eventSpec,
  trafficEventSpec,
  PRODUCTS,
  TOKEN_USERS,
  USERS,
  type Caller,
  type ModelEvent,
} from './fuzz/events.ts';
import { codesOf, forgedAuthorizations, get, graphqlBody, post, responseProblems, type WireResponse } from './fuzz/http.ts';
import { keyOf, Ledger, track, type Violation } from './fuzz/ledger.ts';
import { ping, runOverSocket, socketProblems } from './fuzz/socket.ts';

/**
 * Property-based fuzzing of the whole running system, as an outside client would attack it:
 * random (valid and invalid) events, arguments, documents and request bodies, from every role
 * and with forged tokens, over HTTP and the websocket. Every answer must be a coded error or a
 * result the contract allows; what the API says it accepted is modelled (ledger.ts) and at the
 * end must be exactly what MongoDB holds and what the aggregates count, once each.
 *
 * Replay a failure with FUZZ_SEED=<seed> (fast-check prints it, with the shrunk counterexample).
 * FUZZ_EXPLORE=1 keeps going after a violation and lists every distinct kind at the end;
 * FUZZ_TRACE=<file> appends every trackEvent(s) call to the file before sending it (to find a
 * request that hangs the process).
 */

const SEED = process.env['FUZZ_SEED'] === undefined ? undefined : Number(process.env['FUZZ_SEED']);
const EXPLORE = process.env['FUZZ_EXPLORE'] === '1';
const settings = (numRuns: number, timeLimitMs: number) => ({
  numRuns,
  // a bound on the time one property takes on a slow machine (runs not made count as passed)
  interruptAfterTimeLimit: timeLimitMs,
  ...(SEED === undefined ? {} : { seed: SEED }),
});

let system: System;
const tokens = new Map<string, string>();
const ledger = new Ledger();
const processErrors: string[] = [];
const explored = new Map<string, { count: number; first: Violation }>();
const onRejection = (reason: unknown) => processErrors.push(`unhandledRejection: ${String((reason as Error)?.stack ?? reason)}`);
const onException = (error: Error) => processErrors.push(`uncaughtException: ${error.stack ?? error.message}`);

function authorization(caller: Caller): string | undefined {
  if (caller.kind === 'anonymous') return undefined;
  if (caller.kind === 'forged') return forgedAuthorizations()[caller.name];
  return `Bearer ${tokens.get(caller.kind === 'user' ? `user:${caller.subject}` : caller.kind)}`;
}

/** Fails the run with every violation (or, exploring, records them and lets the run pass). */
function report(violations: readonly Violation[]): void {
  if (violations.length === 0) return;
  if (EXPLORE) {
    for (const v of violations) {
      const kind = `${v.kind}: ${v.detail.replace(/\d+/g, 'N').slice(0, 160)}`;
      const known = explored.get(kind);
      if (known === undefined) explored.set(kind, { count: 1, first: v });
      else known.count++;
    }
    return;
  }
  throw new Error(violations.map((v) => `${v.kind}: ${v.detail}\n  repro: ${v.repro}`).join('\n'));
}

function checkExpectation(
  expectation: Expect,
  response: { body?: { data?: unknown; errors?: readonly { extensions?: Record<string, unknown> }[] } },
): string | undefined {
  const codes = codesOf(response as never);
  if (expectation.kind === 'ok' && codes.length > 0) return `expected no error, got ${JSON.stringify(codes)}`;
  if (expectation.kind === 'ok' && response.body?.data == null) return 'expected data, got none';
  if (expectation.kind === 'okOr' && codes.some((code) => !expectation.codes.includes(String(code))))
    return `expected no error or ${expectation.codes.join('/')}, got ${JSON.stringify(codes)}`;
  if (expectation.kind === 'error' && !codes.some((code) => expectation.codes.includes(String(code))))
    return `expected ${expectation.codes.join('/')}, got ${JSON.stringify(codes)}`;
  return undefined;
}

async function send(operation: Operation, caller: Caller): Promise<Violation[]> {
  const body = graphqlBody(operation.query, operation.variables, operation.operationName);
  const repro = `as ${caller.kind === 'user' ? `user ${caller.subject}` : caller.kind}: ${body.slice(0, 600)}`;
  const auth = authorization(caller);
  let response: WireResponse;
  try {
    response = await post(system.url, body, auth === undefined ? {} : { authorization: auth });
  } catch (error) {
    return [{ kind: 'transport failure', detail: String((error as Error).cause ?? error), repro }];
  }
  const violations = responseProblems(response).map((detail) => ({
    kind: detail.startsWith('HTTP') ? 'HTTP 5xx' : 'uncoded or internal error',
    detail,
    repro,
  }));
  const wrong = checkExpectation(operation.expect, response);
  if (wrong !== undefined && violations.length === 0) violations.push({ kind: 'answer outside the contract', detail: wrong, repro });
  return violations;
}

const callerArb = fc.oneof(
  { weight: 10, arbitrary: fc.constantFrom(...callers) },
  { weight: 1, arbitrary: fc.constantFrom(...Object.keys(forgedAuthorizations())).map((name): Caller => ({ kind: 'forged', name })) },
);

beforeAll(async () => {
  process.on('unhandledRejection', onRejection);
  process.on('uncaughtException', onException);
  // every call comes from 127.0.0.1 and a few tokens, far faster than a shop's visitors: request
  // rates are not what this explores (e2e/test/rateLimits.e2e.test.ts tests them), so no limits
  system = await startSystem({
    label: 'fuzz',
    gateway: {
      RATE_LIMIT_ANONYMOUS_QUERIES: 0,
      RATE_LIMIT_ANONYMOUS_EVENTS: 0,
      RATE_LIMIT_USER_QUERIES: 0,
      RATE_LIMIT_USER_EVENTS: 0,
      MAX_CONNECTIONS_PER_IP: 0,
    },
  });
  tokens.set('service', await system.token('fuzz-storefront', 'service'));
  tokens.set('admin', await system.token('fuzz-ops', 'admin'));
  for (const user of TOKEN_USERS) tokens.set(`user:${user}`, await system.token(user, 'user'));
  const upsert = await system.query(`mutation ($p: [ProductInput!]!) { upsertProducts(products: $p) { created } }`, { p: PRODUCTS }, tokens.get('admin'));
  expect(upsert.data).toEqual({ upsertProducts: { created: PRODUCTS.length } });
  await system.catalog.load();
});

afterEach(() => {
  // a crash anywhere in the process (gateway, subgraphs, workers) fails the test that caused it
  expect(processErrors).toEqual([]);
});

afterAll(async () => {
  process.off('unhandledRejection', onRejection);
  process.off('uncaughtException', onException);
  await system?.stop();
  console.log(
    `fuzz: ${ledger.calls} tracking calls with ${ledger.sent} events sent, ${ledger.stored.size + ledger.generated.length} accepted` +
      ` (${ledger.uncertainKeys.size + ledger.uncertainUsers.size} left unchecked as uncertain)`,
  );
  if (EXPLORE) {
    const lines = [...explored].map(([kind, { count, first }]) => `${count}x ${kind}\n    repro: ${first.repro.slice(0, 700)}`);
    console.log(`FUZZ_EXPLORE: ${explored.size} distinct violations\n${lines.join('\n')}`);
  }
});

describe('fuzzing the running system', () => {
  it('answers random events of every role with a coded outcome the contract allows', async () => {
    const call = fc.record({
      caller: callerArb,
      events: fc.oneof({ weight: 3, arbitrary: fc.array(eventSpec, { maxLength: 8 }) }, { weight: 1, arbitrary: fc.array(eventSpec, { maxLength: 50 }) }),
      literal: fc.boolean(),
      single: fc.oneof({ weight: 1, arbitrary: fc.constant(true) }, { weight: 4, arbitrary: fc.constant(false) }),
      breaker: fc.option(fc.tuple(fc.nat(), schemaBreaker), { nil: undefined, freq: 6 }),
    });
    await fc.assert(
      fc.asyncProperty(call, async ({ caller, events, literal, single, breaker }) => {
        const sent = (single ? events.slice(0, 1) : events).map(buildEvent);
        if (breaker !== undefined && sent.length > 0) sent[breaker[0] % sent.length] = breakEvent(sent[breaker[0] % sent.length]!, breaker[1]);
        if (single && sent.length === 0) return;
        report(
          await track(system.url, ledger, { caller, authorization: authorization(caller), events: sent, mode: literal ? 'literal' : 'variables', single }),
        );
      }),
      settings(150, 35_000),
    );
    // the batch limit, once
    const big = Array.from({ length: 1_001 }, (_, i) => ({ eventId: `big-${i}`, userId: 'u9', productId: 'p1', type: 'VIEW' }));
    report(
      await track(system.url, ledger, {
        caller: { kind: 'service' },
        authorization: authorization({ kind: 'service' }),
        events: big,
        mode: 'variables',
        single: false,
      }),
    );
  }, 120_000);

  it('accepts random valid traffic with some refused events in each batch, from services and users', async () => {
    const call = fc.record({
      service: fc.boolean(),
      subject: fc.constantFrom(...TOKEN_USERS),
      events: fc.array(fc.tuple(trafficEventSpec, fc.oneof({ weight: 5, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: contractFlaw })), {
        minLength: 1,
        maxLength: 30,
      }),
      literal: fc.boolean(),
    });
    const before = ledger.stored.size + ledger.generated.length;
    await fc.assert(
      fc.asyncProperty(call, async ({ service, subject, events, literal }) => {
        const caller: Caller = service ? { kind: 'service' } : { kind: 'user', subject };
        const sent = events.map(([spec, flaw]) => {
          const event = buildEvent(service ? spec : { ...spec, userId: subject });
          return flaw === undefined ? event : breakEvent(event, flaw);
        });
        report(
          await track(system.url, ledger, {
            caller,
            authorization: authorization(caller),
            events: sent,
            mode: literal ? 'literal' : 'variables',
            single: false,
          }),
        );
      }),
      settings(80, 30_000),
    );
    // most of this traffic is valid: the exactly-once checks below count hundreds of events, not a few
    expect(ledger.stored.size + ledger.generated.length - before).toBeGreaterThan(100);
  }, 90_000);

  it('answers random arguments of every query, as variables and as literals, within the contract', async () => {
    await fc.assert(
      fc.asyncProperty(fieldOperations, fc.constantFrom(...callers), async ([field, asVariables], caller) => {
        report(await send(fieldOperation(field, asVariables, caller), caller));
      }),
      settings(150, 25_000),
    );
  }, 90_000);

  it('answers random and malformed documents and bodies over HTTP with coded errors, never a 5xx', async () => {
    await fc.assert(
      fc.asyncProperty(documents, fc.constantFrom(...callers), async (operation, caller) => {
        report(await send(operation, caller));
      }),
      settings(120, 20_000),
    );
    for (const { body, contentType } of RAW_BODIES) {
      const repro = `POST ${contentType ?? 'application/json'} ${JSON.stringify(body.slice(0, 200))}${body.length > 200 ? ` (${body.length} chars)` : ''}`;
      const response = await post(system.url, body, contentType === undefined ? {} : { 'content-type': contentType }).catch((error: Error) => error);
      if (response instanceof Error) report([{ kind: 'transport failure', detail: String(response.cause ?? response), repro }]);
      else report(responseProblems(response).map((detail) => ({ kind: detail.startsWith('HTTP') ? 'HTTP 5xx' : 'uncoded or internal error', detail, repro })));
    }
    for (const search of [
      '?query=%7B__typename%7D',
      '?query=mutation%7BclearHistory(userId%3A%22u0%22)%7Bid%7D%7D',
      '?query=%7B',
      '?variables=%7B',
      '?query=%7B__typename%7D&variables=x',
      '',
    ]) {
      const response = await get(`${system.url}${search}`, { authorization: `Bearer ${tokens.get('user:u0')}` });
      report(responseProblems(response).map((detail) => ({ kind: 'HTTP 5xx', detail, repro: `GET /graphql${search}` })));
    }
  }, 90_000);

  it('refuses every forged or garbage Authorization header with 401 UNAUTHENTICATED', async () => {
    const violations: Violation[] = [];
    for (const [name, header] of Object.entries(forgedAuthorizations())) {
      for (const query of ['{ categories { id } }', '{ user(id: "u0") { id } }']) {
        let response: WireResponse;
        try {
          response = await post(system.url, graphqlBody(query), { authorization: header });
        } catch (error) {
          violations.push({ kind: 'transport failure', detail: String((error as Error).cause ?? error), repro: `token "${name}": ${query}` });
          continue;
        }
        const codes = codesOf(response);
        if (response.status !== 401 || !codes.includes('UNAUTHENTICATED') || response.body?.data != null) {
          violations.push({
            kind: 'forged token not refused with 401',
            detail: `token "${name}": HTTP ${response.status} ${JSON.stringify(codes)} data ${JSON.stringify(response.body?.data)}`,
            repro: `Authorization: ${header.slice(0, 200)} ${query}`,
          });
        }
      }
    }
    report(violations);
  });

  it('serves random operations and subscriptions over the websocket without closing it; other subscriptions survive', async () => {
    const roles: Caller[] = [{ kind: 'anonymous' }, { kind: 'user', subject: 'u0' }, { kind: 'service' }, { kind: 'admin' }];
    const closures: string[] = [];
    const sockets = roles.map((caller) => {
      const auth = authorization(caller);
      const client: Client = system.wsClient(auth?.replace(/^Bearer /, ''));
      client.on('closed', (event) =>
        closures.push(`${caller.kind} socket closed: ${(event as { code?: number }).code} ${(event as { reason?: string }).reason ?? ''}`),
      );
      // a long-lived subscription on each socket, which must still deliver at the end
      const canary = deferred<unknown>();
      canary.promise.catch(() => undefined); // awaited at the end; a closed socket must not be an unhandled rejection meanwhile
      client.subscribe(
        { query: 'subscription { bestSellersChanged(categoryId: "c0") { categoryId changedAt } }' },
        { next: (value) => canary.resolve(value), error: (error) => canary.reject(error), complete: () => canary.reject(new Error('canary completed')) },
      );
      return { caller, client, canary };
    });
    for (const { client } of sockets) await ping(client);

    const subscription = fc.oneof(
      fc
        .tuple(
          fc.oneof(fc.constantFrom<unknown>(...USERS), fc.constantFrom<unknown>('', null, 5, 1.5, 'x'.repeat(200))),
          fc.option(fc.oneof(fc.integer({ min: -2, max: 60 }), fc.constantFrom<unknown>(2 ** 31, '1', null)), { nil: undefined }),
        )
        .map(([userId, limit]) => ({
          query: `subscription Live($u: ID!${limit === undefined ? '' : ', $l: Int'}) { recommendationsChanged(userId: $u${limit === undefined ? '' : ', limit: $l'}) { userId version items { product { id name } } } }`,
          variables: { u: userId, ...(limit === undefined ? {} : { l: limit }) },
        })),
      fc
        .tuple(
          fc.oneof(fc.constantFrom<unknown>(...CATEGORIES, null), fc.constantFrom<unknown>('', 7, true, 'nope')),
          fc.option(fc.integer({ min: -2, max: 120 }), { nil: undefined }),
        )
        .map(([categoryId, limit]) => ({
          query: `subscription B($c: ID${limit === undefined ? '' : ', $l: Int'}) { bestSellersChanged(categoryId: $c${limit === undefined ? '' : ', limit: $l'}) { categoryId items { rank product { id } } } }`,
          variables: { c: categoryId, ...(limit === undefined ? {} : { l: limit }) },
        })),
      fc.constantFrom(
        { query: 'subscription { bestSellersChanged { categoryId } recommendationsChanged(userId: "u0") { version } }' },
        { query: 'subscription { nope }' },
        { query: 'subscription { ...S } fragment S on Subscription { bestSellersChanged { categoryId } }' },
        { query: 'subscription { ...A } fragment A on Subscription { ...B } fragment B on Subscription { ...A }' },
        { query: 'subscription { bestSellersChanged(categoryId: 1e400) { categoryId } }' },
        { query: 'subscription { __typename }' },
        { query: 'subscription S { bestSellersChanged { categoryId } }', operationName: 'T' },
      ),
    );
    const op = fc.oneof(
      subscription.map((payload) => ({ payload, isSubscription: true })),
      fc
        .tuple(fieldOperations, fc.constantFrom(...roles))
        .map(([[field, asVariables], caller]) => ({ payload: fieldOperation(field, asVariables, caller), isSubscription: false })),
      documents
        .filter((d) => !d.query.trimStart().startsWith('subscription') && d.query.length < 50_000)
        .map((payload) => ({ payload, isSubscription: /subscription/.test(payload.query) })),
    );
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 0, max: sockets.length - 1 }), op, async (which, { payload, isSubscription }) => {
        const { caller, client } = sockets[which]!;
        const { expect: _expect, ...request } = payload as Operation;
        const outcome = await Promise.race([
          runOverSocket(client, request, isSubscription),
          // a socket closed under the operation leaves its promise pending: stop waiting then
          new Promise<never>((_, reject) => client.on('closed', () => reject(new Error('socket closed')))),
        ]).catch((error: Error) => ({ results: [], broken: error.message, live: false }));
        const repro = `over the websocket as ${caller.kind}: ${JSON.stringify(request).slice(0, 600)}`;
        const violations = socketProblems(outcome).map((detail) => ({
          kind: detail.startsWith('socket') ? 'websocket closed by an operation' : 'uncoded or internal error over the websocket',
          detail,
          repro,
        }));
        violations.push(...closures.splice(0).map((detail) => ({ kind: 'websocket closed by an operation', detail, repro })));
        report(violations);
      }),
      settings(60, 20_000),
    );

    // every socket still answers, and every canary subscription still delivers
    for (const { client } of sockets) await ping(client);
    const purchase = { eventId: 'canary-purchase', userId: 'canary-buyer', productId: 'p0', type: 'PURCHASE' };
    report(
      await track(system.url, ledger, {
        caller: { kind: 'service' },
        authorization: authorization({ kind: 'service' }),
        events: [purchase],
        mode: 'variables',
        single: false,
      }),
    );
    for (const { canary } of sockets) await canary.promise;
    expect(closures).toEqual([]);
  }, 90_000);

  it('stores exactly the events it accepted and applies each exactly once', async () => {
    const db = system.db.db;
    const deadline = Date.now() + 45_000;
    // the workers have applied everything once the inbox and the commit plans are empty
    while ((await db.collection(COLLECTIONS.inbox).countDocuments()) > 0 || (await db.collection(COLLECTIONS.plans).countDocuments()) > 0) {
      if (Date.now() > deadline) throw new Error('the workers did not apply every accepted event within 45 s');
      await new Promise((resolve) => setImmediate(resolve));
      await db.command({ ping: 1 });
    }

    // 1. the events collection holds exactly the accepted events (none for a refused one)
    const violations: Violation[] = [];
    const docs = await db
      .collection<RawEventDoc>(COLLECTIONS.events)
      .find({ type: { $in: [...EVENT_TYPE_NAMES] } })
      .toArray();
    const unmatched = [...ledger.generated];
    const found = new Set<string>();
    for (const doc of docs) {
      const event = fromRawEventDoc(doc);
      const key = keyOf(event.userId, event.eventId);
      if (ledger.uncertainKeys.has(key) || ledger.uncertainUsers.has(event.userId)) continue;
      const model = ledger.stored.get(key);
      if (model !== undefined) {
        found.add(key);
        const differences = differencesOf(model, event, doc);
        if (differences.length > 0)
          violations.push({
            kind: 'stored event differs from the accepted one',
            detail: `${key}: ${differences.join('; ')}`,
            repro: JSON.stringify(doc).slice(0, 400),
          });
        continue;
      }
      const index = unmatched.findIndex((m) => differencesOf(m, event, doc).length === 0);
      if (index >= 0) unmatched.splice(index, 1);
      else violations.push({ kind: 'stored an event the API did not accept', detail: key, repro: JSON.stringify(doc).slice(0, 400) });
    }
    for (const [key, model] of ledger.stored) {
      if (!found.has(key) && !ledger.uncertainKeys.has(key) && !ledger.uncertainUsers.has(model.userId))
        violations.push({ kind: 'accepted event not stored', detail: key, repro: JSON.stringify(model).slice(0, 400) });
    }
    for (const model of unmatched.filter((m) => !ledger.uncertainUsers.has(m.userId)))
      violations.push({
        kind: 'accepted event (generated id) not stored',
        detail: `${model.userId} ${model.productId} ${model.type}`,
        repro: JSON.stringify(model).slice(0, 400),
      });

    // 2. every stored aggregate is what replaying the stored events once gives
    let differences: string[] = [];
    for (;;) {
      const stored = await readStoredAggregates(db);
      differences = compareAggregates(stored, dumpAggregator(await recomputeAggregates(db, system.catalog, DEFAULT_ENGINE_CONFIG)));
      if (differences.length === 0 || Date.now() > deadline) break;
    }
    violations.push(...differences.map((detail) => ({ kind: 'aggregates differ from a replay of the stored events', detail, repro: 'workers/src/verify.ts' })));

    // 3. and what the API shows agrees with the model: history views per user, distinct buyers per product
    const service = tokens.get('service');
    const accepted = ledger.all().filter((event) => !ledger.uncertainUsers.has(event.userId));
    for (const user of new Set(accepted.map((event) => event.userId))) {
      const mine = accepted.filter((event) => event.userId === user);
      if (mine.length > DEFAULT_ENGINE_CONFIG.ringSize) continue; // the ring keeps the latest only
      const views = new Map<string, number>();
      for (const event of mine) if (event.type === 'VIEW' || event.type === 'CLICK') views.set(event.productId, (views.get(event.productId) ?? 0) + 1);
      const answer = await system.query<{ user: { browsingHistory: { views: number; product: { id: string } }[] } }>(
        'query ($u: ID!) { user(id: $u) { browsingHistory(limit: 50) { views product { id } } } }',
        { u: user },
        service,
      );
      const shown = Object.fromEntries((answer.data?.user.browsingHistory ?? []).map((entry) => [entry.product.id, entry.views]));
      if (views.size <= 50 && JSON.stringify(sortedEntries(shown)) !== JSON.stringify(sortedEntries(Object.fromEntries(views)))) {
        violations.push({
          kind: 'browsing history differs from the accepted events',
          detail: `${user}: shown ${JSON.stringify(sortedEntries(shown))}, model ${JSON.stringify(sortedEntries(Object.fromEntries(views)))}`,
          repro: JSON.stringify(answer.errors ?? []),
        });
      }
    }
    const windowDays = 364; // a window the query fuzz never asks for, so no cached ranking is served
    const today = Math.floor(Date.now() / 86_400_000);
    for (const category of [null, ...CATEGORIES]) {
      const expected = new Map<string, Set<string>>();
      const unsure = new Set<string>(ledger.uncertainProducts);
      for (const event of accepted) {
        if (event.type !== 'PURCHASE') continue;
        const product = PRODUCTS.find((p) => p.id === event.productId);
        if (product === undefined || (category !== null && product.categoryId !== category)) continue;
        const day = event.occurredAt === 'now' ? today : typeof event.occurredAt === 'number' ? Math.floor(event.occurredAt / 86_400_000) : Number.NaN;
        if (!Number.isFinite(day) || Math.abs(day - (today - windowDays + 1)) <= 1 || day >= today) unsure.add(event.productId);
        if (day >= today - windowDays + 1 && day <= today) expected.set(event.productId, (expected.get(event.productId) ?? new Set()).add(event.userId));
      }
      const answer = await system.query<{ bestSellers: { score: number; product: { id: string } }[] }>(
        'query ($c: ID, $w: Int) { bestSellers(categoryId: $c, limit: 100, windowDays: $w) { score product { id } } }',
        { c: category, w: windowDays },
      );
      const shown = new Map((answer.data?.bestSellers ?? []).map((item) => [item.product.id, item.score]));
      for (const product of PRODUCTS) {
        if (unsure.has(product.id) || (category !== null && product.categoryId !== category)) continue;
        const buyers = expected.get(product.id)?.size ?? 0;
        if ((shown.get(product.id) ?? 0) !== buyers)
          violations.push({
            kind: 'best-seller buyers differ from the accepted purchases',
            detail: `${category ?? 'all'} ${product.id}: shown ${shown.get(product.id) ?? 0}, model ${buyers}`,
            repro: JSON.stringify(answer.errors ?? []),
          });
      }
    }
    report(violations);
  }, 90_000);

  it('found no violation while exploring (FUZZ_EXPLORE=1 only)', () => {
    expect([...explored.keys()]).toEqual([]);
  });
});

function sortedEntries(record: Record<string, number>): [string, number][] {
  return Object.entries(record).sort((a, b) => (a[0] < b[0] ? -1 : 1));
}

/**
 * A JSON value as text with every object's keys sorted: the same value whatever the order of its
 * keys. JSON objects are unordered, and a MongoDB-wire server may reorder keys (FerretDB moves an
 * `_id` key to the front of a nested document too, MongoDB only of the top-level one); arrays
 * keep their order.
 */
function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, inner: unknown) =>
    inner !== null && typeof inner === 'object' && !Array.isArray(inner)
      ? Object.fromEntries(Object.entries(inner).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
      : inner,
  );
}

/** How a stored event differs from the model of the accepted one (first write wins for duplicates). */
function differencesOf(model: ModelEvent, event: ReturnType<typeof fromRawEventDoc>, doc: RawEventDoc): string[] {
  const differences: string[] = [];
  const same = (name: string, a: unknown, b: unknown) => {
    if (a !== b) differences.push(`${name}: stored ${JSON.stringify(a)}, sent ${JSON.stringify(b)}`);
  };
  same('userId', event.userId, model.userId);
  if (model.eventId !== undefined) same('eventId', event.eventId, model.eventId);
  same('productId', event.productId, model.productId);
  same('type', event.type, model.type);
  same('quantity', event.quantity, model.quantity);
  same('price', event.price, model.price);
  same('sessionId', event.sessionId, model.sessionId);
  if (typeof model.occurredAt === 'number') same('occurredAt', event.occurredAt, model.occurredAt);
  if (model.occurredAt === 'now' && Math.abs(event.occurredAt - event.receivedAt) > 5_000)
    same('occurredAt (default: when received)', event.occurredAt, event.receivedAt);
  const meta = model.metadata === null || model.metadata === undefined ? undefined : canonicalJson(model.metadata);
  same('metadata', doc.metadata === undefined ? undefined : canonicalJson(doc.metadata), meta);
  return differences;
}
