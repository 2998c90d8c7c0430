import { eventKey } from '@recs/engine';
import { COLLECTIONS, MAX_LITERAL_DEPTH, MAX_LITERAL_LIST_DEPTH } from '@recs/shared';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { nextResult, startSystem, type System } from '../src/system.ts';

/**
 * Deeply nested list literals (found by the fuzz test): the gateway's query planner walked a list
 * value twice per level, so each level doubled the time and ~170 levels hung the process. Literals
 * nesting deeper than the limits are refused as invalid documents, on both transports, before
 * the planner sees them. (No test sends the ~170 levels that hung it: without the rule that test
 * would hang the test process too, instead of failing.)
 */
let system: System;
let user: string;

const lists = (n: number, inner = '1') => `${'['.repeat(n)}${inner}${']'.repeat(n)}`;
const objects = (n: number, inner = '1') => `${'{ a: '.repeat(n)}${inner}${' }'.repeat(n)}`;
const track = (eventId: string, metadata: string) =>
  `mutation { trackEvent(input: { eventId: "${eventId}", userId: "lit-u1", productId: "p1", type: VIEW, metadata: ${metadata} }) { eventId } }`;

async function post(query: string, token?: string): Promise<{ status: number; json: any }> {
  const response = await fetch(system.url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'apollo-require-preflight': 'true', ...(token === undefined ? {} : { authorization: `Bearer ${token}` }) },
    body: JSON.stringify({ query }),
  });
  return { status: response.status, json: await response.json() };
}

const events = () => system.db.db.collection<{ _id: string; metadata?: unknown }>(COLLECTIONS.events);
const storedEvents = (eventId: string) => events().countDocuments({ _id: eventKey('lit-u1', eventId) });

beforeAll(async () => {
  system = await startSystem({ label: 'literals' });
  user = await system.token('lit-u1', 'user');
}, 60_000);

afterAll(async () => {
  await system?.stop();
});

describe('nested literals (fuzz defect: exponential query planning)', () => {
  it('refuses lists nested one level too deep with 400 GRAPHQL_VALIDATION_FAILED, and stores nothing', async () => {
    // metadata is the first object: the lists start one level below it
    const refused = await post(track('lit-deep-list', `{ deep: ${lists(MAX_LITERAL_LIST_DEPTH + 1)} }`), user);
    expect(refused.status).toBe(400);
    expect(refused.json.errors).toEqual([
      expect.objectContaining({
        message: `List literals nest more than ${MAX_LITERAL_LIST_DEPTH} levels deep`,
        extensions: expect.objectContaining({ code: 'GRAPHQL_VALIDATION_FAILED' }),
      }),
    ]);
    expect(refused.json.data).toBeUndefined();
    expect(await storedEvents('lit-deep-list')).toBe(0);
  });

  it('refuses objects nested too deep, and deep lists in other places: other arguments, variable defaults', async () => {
    const deepObject = await post(track('lit-deep-object', objects(MAX_LITERAL_DEPTH)), user);
    expect(deepObject.status).toBe(400);
    expect(deepObject.json.errors).toEqual([
      expect.objectContaining({
        message: `Literal values nest more than ${MAX_LITERAL_DEPTH} levels deep`,
        extensions: expect.objectContaining({ code: 'GRAPHQL_VALIDATION_FAILED' }),
      }),
    ]);
    const inIds = await post(`{ products(ids: ${lists(MAX_LITERAL_LIST_DEPTH + 1, '"p1"')}) { edges { node { id } } } }`);
    expect(inIds.status).toBe(400);
    expect(inIds.json.errors.map((error: { message: string }) => error.message)).toContain(
      `List literals nest more than ${MAX_LITERAL_LIST_DEPTH} levels deep`,
    );
    const inDefault = await post(
      `mutation ($m: JSON = { deep: ${lists(MAX_LITERAL_LIST_DEPTH + 1)} }) { trackEvent(input: { eventId: "lit-default", userId: "lit-u1", productId: "p1", type: VIEW, metadata: $m }) { eventId } }`,
      user,
    );
    expect(inDefault.status).toBe(400);
    expect(inDefault.json.errors[0]).toMatchObject({
      message: `List literals nest more than ${MAX_LITERAL_LIST_DEPTH} levels deep`,
      extensions: { code: 'GRAPHQL_VALIDATION_FAILED' },
    });
    expect(await storedEvents('lit-deep-object')).toBe(0);
    expect(await storedEvents('lit-default')).toBe(0);
  });

  it('refuses the same over the websocket', async () => {
    const client = system.wsClient(user);
    try {
      const refused = await nextResult(client, track('lit-ws', `{ deep: ${lists(MAX_LITERAL_LIST_DEPTH + 1)} }`), {}).result;
      expect(refused.errors).toEqual([
        expect.objectContaining({
          message: `List literals nest more than ${MAX_LITERAL_LIST_DEPTH} levels deep`,
          extensions: expect.objectContaining({ code: 'GRAPHQL_VALIDATION_FAILED' }),
        }),
      ]);
      expect(await storedEvents('lit-ws')).toBe(0);
    } finally {
      await client.dispose();
    }
  });

  it('passes literals at the limits on to the API, and stores the deepest metadata it allows', async () => {
    // at the limits the document is valid: the engine answers (arrays inside arrays cannot be stored)
    const atListLimit = await post(track('lit-at-list-limit', `{ deep: ${lists(MAX_LITERAL_LIST_DEPTH)} }`), user);
    expect(atListLimit.json.errors).toEqual([
      expect.objectContaining({ extensions: expect.objectContaining({ code: 'BAD_USER_INPUT', reason: 'INVALID_METADATA' }) }),
    ]);
    const atDepthLimit = await post(track('lit-at-depth-limit', objects(MAX_LITERAL_DEPTH - 1)), user);
    expect(atDepthLimit.json.errors).toEqual([
      expect.objectContaining({ extensions: expect.objectContaining({ code: 'BAD_USER_INPUT', reason: 'INVALID_METADATA' }) }),
    ]);
    // the deepest the API takes: a list of events, an event, 5 levels of metadata with arrays
    const deepest = await post(
      `mutation { trackEvents(inputs: [{ eventId: "lit-deepest", userId: "lit-u1", productId: "p1", type: VIEW, metadata: { a: [{ b: [{ c: 1 }, "x"] }] } }]) { accepted rejected { index code } } }`,
      user,
    );
    expect(deepest.json).toEqual({ data: { trackEvents: { accepted: 1, rejected: [] } } });
    const stored = await events().findOne({ _id: eventKey('lit-u1', 'lit-deepest') });
    expect(stored?.metadata).toEqual({ a: [{ b: [{ c: 1 }, 'x'] }] });
  });
});
