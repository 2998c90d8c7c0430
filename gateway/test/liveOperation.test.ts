import { Supergraph } from '@apollo/federation-internals';
import { supergraphSdl } from '@recs/schema';
import { type GraphQLError, parse, print, validate } from 'graphql';
import { describe, expect, it } from 'vitest';
import { LatestResult } from '../src/subscriptions/latest.ts';
import { liveOperation } from '../src/subscriptions/liveOperation.ts';
import { RESUME_MARKER_KEY } from '../src/subscriptions/resume.ts';

const schema = Supergraph.build(supergraphSdl()).apiSchema().toGraphQLJSSchema();

describe('liveOperation', () => {
  it('rewrites a subscription onto its query twin, keeping aliases, variables and fragments', () => {
    const document = parse(`
      subscription Live($me: ID!, $n: Int) {
        mine: recommendationsChanged(userId: $me, limit: $n) { items { ...Item } version }
      }
      fragment Item on Recommendation { score product { name category { name } } }
    `);
    const live = liveOperation(schema, document, 'Live', { me: 'u1', n: 3 });
    expect(live.field).toBe('recommendationsChanged');
    expect(live.args).toEqual({ userId: 'u1', limit: 3 });
    expect(print(live.query)).toBe(
      print(
        parse(`
      query Live($me: ID!, $n: Int) {
        mine: recommendations(userId: $me, limit: $n) { items { ...Item } version }
      }
      fragment Item on Recommendation { score product { name category { name } } }
    `),
      ),
    );
    expect(validate(schema, live.query)).toEqual([]);
  });

  it('names the root field as its own alias, applies argument defaults, and reads through Subscription fragments', () => {
    const document = parse(`subscription { ...Root } fragment Root on Subscription { bestSellersChanged { categoryId items { rank } } }`);
    const live = liveOperation(schema, document, undefined);
    expect(live.args).toEqual({ limit: 10 });
    const [operation] = live.query.definitions;
    expect(print(operation!)).toBe('{\n  bestSellersChanged: bestSellersSnapshot {\n    categoryId\n    items {\n      rank\n    }\n  }\n}');
    expect(validate(schema, live.query)).toEqual([]);
  });

  it('gives subscribers with the same selection and variables the same key, and others a different one', () => {
    const a = liveOperation(schema, parse(`subscription($c: ID) { bestSellersChanged(categoryId: $c) { changedAt } }`), undefined, { c: 'x' });
    const b = liveOperation(schema, parse(`subscription($c: ID) { bestSellersChanged(categoryId: $c) { changedAt } }`), undefined, { c: 'x' });
    const c = liveOperation(schema, parse(`subscription($c: ID) { bestSellersChanged(categoryId: $c) { changedAt } }`), undefined, { c: 'y' });
    expect(a.key).toBe(b.key);
    expect(a.key).not.toBe(c.key);
  });
});

describe('LatestResult', () => {
  it('keeps only the newest undelivered result for a slow consumer', async () => {
    let closed = false;
    const stream = new LatestResult(() => {
      closed = true;
    });
    stream.push({ data: { v: 1 } });
    stream.push({ data: { v: 2 } });
    stream.push({ data: { v: 3 } });
    expect(await stream.next()).toEqual({ value: { data: { v: 3 } }, done: false });
    expect(stream.dropped).toBe(2);
    const waiting = stream.next();
    stream.push({ data: { v: 4 } });
    expect(await waiting).toEqual({ value: { data: { v: 4 } }, done: false });
    await stream.return();
    expect(closed).toBe(true);
    expect(await stream.next()).toEqual({ value: undefined, done: true });
  });
});

describe('liveOperation for a resuming subscriber', () => {
  const resuming = parse(`
    subscription Live($me: ID!, $since: Int) {
      recommendationsChanged(userId: $me, sinceVersion: $since) { items { score } }
    }
  `);

  it('takes the resume argument and its variable out of the twin query, and reads the marker in its first query', () => {
    const live = liveOperation(schema, resuming, 'Live', { me: 'u1', since: 4 });
    expect(live.args).toEqual({ userId: 'u1', limit: 10, sinceVersion: 4 });
    expect(live.variables).toEqual({ me: 'u1' });
    expect(print(live.query)).toBe(print(parse(`query Live($me: ID!) { recommendationsChanged: recommendations(userId: $me) { items { score } } }`)));
    expect(live.resume?.since).toBe(4);
    expect(live.resume?.responseKey).toBe('recommendationsChanged');
    expect(print(live.resume!.query)).toBe(
      print(parse(`query Live($me: ID!) { recommendationsChanged: recommendations(userId: $me) { items { score } ${RESUME_MARKER_KEY}: version } }`)),
    );
    for (const query of [live.query, live.resume!.query]) expect(validate(schema, query)).toEqual([]);
  });

  it('groups a resuming subscriber with the others of the same selection', () => {
    const resumer = liveOperation(schema, resuming, 'Live', { me: 'u1', since: 4 });
    const live = liveOperation(schema, resuming, 'Live', { me: 'u1', since: null });
    const plain = liveOperation(schema, parse(`subscription Live($me: ID!) { recommendationsChanged(userId: $me) { items { score } } }`), 'Live', { me: 'u1' });
    expect(live.resume).toBeUndefined();
    expect(plain.resume).toBeUndefined();
    expect(resumer.key).toBe(live.key);
    expect(resumer.key).toBe(plain.key);
  });

  it('resumes best sellers from a literal date, reading changedAt, and refuses a bad date with BAD_USER_INPUT', () => {
    const live = liveOperation(schema, parse(`subscription { bestSellersChanged(sinceChangedAt: "2026-01-02T00:00:00Z") { items { rank } } }`), undefined);
    expect(live.resume?.since).toBe(Date.parse('2026-01-02T00:00:00Z'));
    expect(print(live.query)).not.toContain('sinceChangedAt');
    expect(print(live.resume!.query)).toContain(`${RESUME_MARKER_KEY}: changedAt`);
    expect(validate(schema, live.resume!.query)).toEqual([]);
    try {
      liveOperation(schema, parse(`subscription { bestSellersChanged(sinceChangedAt: "soon") { items { rank } } }`), undefined);
      expect.unreachable();
    } catch (error) {
      expect((error as GraphQLError).extensions['code']).toBe('BAD_USER_INPUT');
    }
  });
});
