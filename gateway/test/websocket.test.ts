import { signClientToken } from '@recs/shared';
import { buildSchema, GraphQLError, parse, validate } from 'graphql';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { socketErrorFormat, withCode } from '../src/subscriptions/errors.ts';
import { runAt, tokenExpiry } from '../src/subscriptions/expiry.ts';
import { clientIp, ConnectionLimiter } from '../src/subscriptions/limits.ts';

const SECRET = 'unit-test-secret-unit-test-secret-0123456789';

describe('ConnectionLimiter', () => {
  it('admits up to the limit per key, and one more once a place is given back (once)', () => {
    const limiter = new ConnectionLimiter(2);
    const a1 = limiter.acquire('a')!;
    const a2 = limiter.acquire('a')!;
    expect(limiter.acquire('a')).toBeUndefined();
    expect(limiter.acquire('b')).toBeDefined();
    a1();
    a1();
    expect(limiter.count('a')).toBe(1);
    expect(limiter.acquire('a')).toBeDefined();
    a2();
    expect(limiter.count('a')).toBe(1);
  });

  it('forgets keys with no connection, and has no limit at 0', () => {
    const limiter = new ConnectionLimiter(0);
    const releases = Array.from({ length: 1000 }, () => limiter.acquire('ip')!);
    expect(limiter.count('ip')).toBe(1000);
    for (const release of releases) release();
    expect(limiter.size).toBe(0);
  });
});

describe('clientIp', () => {
  const request = (remoteAddress: string, forwardedFor?: string) =>
    ({ socket: { remoteAddress }, headers: forwardedFor === undefined ? {} : { 'x-forwarded-for': forwardedFor } }) as never;

  it('is the socket peer without trusted proxies, whatever X-Forwarded-For says', () => {
    expect(clientIp(request('::ffff:10.1.2.3', '6.6.6.6'), 0)).toBe('10.1.2.3');
    expect(clientIp(request('::1'), 0)).toBe('::1');
  });

  it('is the address the outermost trusted proxy saw, not what the client wrote further left', () => {
    // client 203.0.113.7 forged "6.6.6.6"; nginx appended the real peer; the gateway's peer is nginx
    expect(clientIp(request('172.18.0.5', '6.6.6.6, 203.0.113.7'), 1)).toBe('203.0.113.7');
    expect(clientIp(request('172.18.0.5', '6.6.6.6, 203.0.113.7, 10.0.0.2'), 2)).toBe('203.0.113.7');
    // fewer entries than trusted hops: the leftmost there is
    expect(clientIp(request('172.18.0.5'), 1)).toBe('172.18.0.5');
    expect(clientIp(request('172.18.0.5', '203.0.113.7'), 3)).toBe('203.0.113.7');
  });
});

describe('token expiry', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('reads exp of a signed token, with or without the Bearer prefix', async () => {
    const token = await signClientToken({ subject: 'u', role: 'user', expiresIn: '90s' }, SECRET);
    const at = tokenExpiry(`Bearer ${token}`)!;
    expect(Math.abs(at - (Date.now() + 90_000))).toBeLessThan(2_000);
    expect(tokenExpiry(token)).toBe(at);
    expect(tokenExpiry('not-a-token')).toBeUndefined();
    expect(tokenExpiry('a.%%%.c')).toBeUndefined();
  });

  it('runs at the time given, even beyond setTimeout’s longest delay, unless cancelled', () => {
    vi.useFakeTimers({ now: 0 });
    const ran: string[] = [];
    runAt(40 * 86_400_000, () => ran.push('far'));
    const cancel = runAt(1_000, () => ran.push('cancelled'));
    runAt(-5, () => ran.push('past'));
    expect(ran).toEqual(['past']);
    cancel();
    vi.advanceTimersByTime(2 ** 31 - 1);
    expect(ran).toEqual(['past']);
    vi.advanceTimersByTime(40 * 86_400_000 - (2 ** 31 - 1) - 1);
    expect(ran).toEqual(['past']);
    vi.advanceTimersByTime(1);
    expect(ran).toEqual(['past', 'far']);
  });
});

describe('websocket errors', () => {
  const schema = buildSchema(`enum Kind { VIEW PURCHASE } type Query { categories(kind: Kind): [String] category: String }`);
  const validated = (query: string) => validate(schema, parse(query)).map((error) => withCode(error, 'GRAPHQL_VALIDATION_FAILED'));
  const production = socketErrorFormat(true);
  const development = socketErrorFormat(false);

  it('drops graphql-js suggestions of fields, arguments and enum values in production only', () => {
    const [field] = validated(`{ categoriez }`);
    expect(development.error(field!)).toEqual({
      message: 'Cannot query field "categoriez" on type "Query". Did you mean "categories" or "category"?',
      locations: [{ line: 1, column: 3 }],
      extensions: { code: 'GRAPHQL_VALIDATION_FAILED' },
    });
    expect(production.error(field!).message).toBe('Cannot query field "categoriez" on type "Query".');
    expect(production.error(validated(`{ categories(kind: PURCHASEE) }`)[0]!).message).toBe('Value "PURCHASEE" does not exist in "Kind" enum.');
    expect(production.error(validated(`{ categories(kinds: VIEW) }`)[0]!).message).toBe('Unknown argument "kinds" on field "Query.categories".');
    const variable = {
      message: 'Variable "$t" got invalid value "X"; Value "X" does not exist in "Kind" enum. Did you mean the enum value "VIEW"?',
      extensions: { code: 'BAD_USER_INPUT' },
    };
    expect(production.error(variable).message).toBe('Variable "$t" got invalid value "X"; Value "X" does not exist in "Kind" enum.');
  });

  it('sends Apollo’s formatted errors and GraphQLErrors alike, an uncoded one as INTERNAL_SERVER_ERROR', () => {
    const [error] = validated(`{ categoriez }`);
    const formatted = { message: 'Cannot query field "x". Did you mean "y"?', extensions: { code: 'GRAPHQL_VALIDATION_FAILED' } };
    const uncoded = new GraphQLError('Unable to identify operation');
    expect(production.result({ data: null, errors: [error!, formatted, uncoded] })).toEqual({
      data: null,
      errors: [
        { message: 'Cannot query field "categoriez" on type "Query".', locations: [{ line: 1, column: 3 }], extensions: { code: 'GRAPHQL_VALIDATION_FAILED' } },
        { message: 'Cannot query field "x".', extensions: { code: 'GRAPHQL_VALIDATION_FAILED' } },
        { message: 'Internal server error', extensions: { code: 'INTERNAL_SERVER_ERROR' } },
      ],
    });
    expect(development.result({ errors: [uncoded] }).errors).toEqual([
      { message: 'Unable to identify operation', extensions: { code: 'INTERNAL_SERVER_ERROR' } },
    ]);
    expect(development.result({ data: { a: 1 } })).toEqual({ data: { a: 1 } });
  });
});
