import { Supergraph } from '@apollo/federation-internals';
import { supergraphSdl } from '@recs/schema';
import { decodeChange, encodeChange, LIVE_FIELDS, liveChannel, liveFieldOf, RedisNames, type Identity } from '@recs/shared';
import { GraphQLError } from 'graphql';
import { describe, expect, it } from 'vitest';

const schema = Supergraph.build(supergraphSdl()).apiSchema().toGraphQLJSSchema();
const names = new RedisNames('recs');
const user = (subject: string): Identity => ({ kind: 'authenticated', subject, role: 'user' });

describe('LIVE_FIELDS', () => {
  it('has an entry for every Subscription field, and each twin is a Query field with the same arguments and type', () => {
    const subscriptions = schema.getSubscriptionType()!.getFields();
    const queries = schema.getQueryType()!.getFields();
    expect(Object.keys(LIVE_FIELDS).sort()).toEqual(Object.keys(subscriptions).sort());
    for (const [name, field] of Object.entries(LIVE_FIELDS)) {
      const subscription = subscriptions[name]!;
      const twin = queries[field.twin];
      expect(twin, `${name}'s twin ${field.twin}`).toBeDefined();
      expect(String(twin!.type)).toBe(String(subscription.type));
      const signature = (args: readonly { name: string; type: unknown; defaultValue: unknown }[]) =>
        args.map((arg) => `${arg.name}: ${String(arg.type)} = ${JSON.stringify(arg.defaultValue)}`);
      // the resume argument is the subscription's own: liveOperation takes it out of the twin query
      const resume = subscription.args.find((arg) => arg.name === field.resume.argument);
      expect(resume, `${name}'s resume argument ${field.resume.argument}`).toBeDefined();
      expect(String(resume!.type)).not.toMatch(/!$/);
      expect(signature(twin!.args)).toEqual(signature(subscription.args.filter((arg) => arg !== resume)));
    }
  });

  it('reads the resume argument and the result’s marker in the messages’ unit, refusing a bad date with BAD_USER_INPUT', () => {
    const { recommendationsChanged: recommendations, bestSellersChanged: bestSellers } = LIVE_FIELDS;
    expect(recommendations.resume.since(4)).toBe(4);
    expect(recommendations.resume.since(null)).toBeUndefined();
    expect(recommendations.resume.read(7)).toBe(7);
    expect(bestSellers.resume.since('2026-01-02T00:00:00.000Z')).toBe(Date.parse('2026-01-02T00:00:00Z'));
    expect(bestSellers.resume.since(undefined)).toBeUndefined();
    expect(bestSellers.resume.read('2026-01-02T00:00:00.005Z')).toBe(Date.parse('2026-01-02T00:00:00Z') + 5);
    expect(bestSellers.resume.read(null)).toBeUndefined();
    for (const bad of ['yesterday', 12]) {
      try {
        bestSellers.resume.since(bad);
        expect.unreachable();
      } catch (error) {
        expect((error as GraphQLError).extensions['code']).toBe('BAD_USER_INPUT');
      }
    }
  });

  it('finds entries by name only among its own fields', () => {
    expect(liveFieldOf('recommendationsChanged')).toBe(LIVE_FIELDS.recommendationsChanged);
    expect(liveFieldOf('constructor')).toBeUndefined();
    expect(liveFieldOf('recommendations')).toBeUndefined();
  });

  it('names the channels the workers and every gateway replica share', () => {
    expect(liveChannel(names, 'recommendationsChanged', { userId: 'u1' })).toBe('recs:live:recommendations:u1');
    expect(liveChannel(names, 'bestSellersChanged', { categoryId: null })).toBe('recs:live:best-sellers:*');
    expect(liveChannel(names, 'bestSellersChanged', { categoryId: 'home' })).toBe('recs:live:best-sellers:home');
  });

  it('reads the stream from the arguments, refusing a bad id with BAD_USER_INPUT', () => {
    expect(LIVE_FIELDS.recommendationsChanged.stream({ userId: 'u1', limit: 3 })).toEqual({ userId: 'u1' });
    expect(LIVE_FIELDS.bestSellersChanged.stream({ limit: 10 })).toEqual({ categoryId: null });
    for (const bad of [() => LIVE_FIELDS.recommendationsChanged.stream({}), () => LIVE_FIELDS.bestSellersChanged.stream({ categoryId: 'x'.repeat(500) })]) {
      expect(bad).toThrow(GraphQLError);
      try {
        bad();
      } catch (error) {
        expect((error as GraphQLError).extensions['code']).toBe('BAD_USER_INPUT');
      }
    }
  });

  it('lets a user subscribe to their own recommendations only; services to anyone; anonymous clients to best sellers only', () => {
    const recommendations = LIVE_FIELDS.recommendationsChanged;
    const code = (error: GraphQLError | undefined) => error?.extensions['code'];
    expect(recommendations.deny(user('u1'), { userId: 'u1' })).toBeUndefined();
    expect(code(recommendations.deny(user('u1'), { userId: 'u2' }))).toBe('FORBIDDEN');
    expect(code(recommendations.deny({ kind: 'anonymous' }, { userId: 'u1' }))).toBe('UNAUTHENTICATED');
    expect(recommendations.deny({ kind: 'authenticated', subject: 'svc', role: 'service' }, { userId: 'u2' })).toBeUndefined();
    expect(LIVE_FIELDS.bestSellersChanged.deny({ kind: 'anonymous' }, { categoryId: null })).toBeUndefined();
  });

  it('reads back the marker and publication time a publisher wrote, per field', () => {
    const published = encodeChange(names, 'recommendationsChanged', { userId: 'u1', version: 7 }, 1_000);
    expect(published.channel).toBe('recs:live:recommendations:u1');
    expect(JSON.parse(published.text)).toEqual({ userId: 'u1', version: 7, at: 1_000 });
    expect(decodeChange(LIVE_FIELDS.recommendationsChanged, published.text)).toEqual({ marker: 7, publishedAt: 1_000 });
    const ranking = encodeChange(names, 'bestSellersChanged', { categoryId: null, changedAt: 5 }, 9);
    expect(decodeChange(LIVE_FIELDS.bestSellersChanged, ranking.text)).toEqual({ marker: 5, publishedAt: 9 });
    // another field's marker is not this field's
    expect(decodeChange(LIVE_FIELDS.bestSellersChanged, published.text)).toEqual({ marker: undefined, publishedAt: 1_000 });
    expect(() => decodeChange(LIVE_FIELDS.bestSellersChanged, 'not json')).toThrow(SyntaxError);
    expect(() => decodeChange(LIVE_FIELDS.bestSellersChanged, 'null')).toThrow(SyntaxError);
  });
});
