import { describe, expect, it } from 'vitest';
import { SignJWT } from 'jose';
import {
  ANONYMOUS,
  AuthenticationError,
  canAccessUser,
  DEFAULT_TOKEN_POLICY,
  identityFromAuthorization,
  signClientToken,
  signInternalIdentity,
  verifyClientToken,
  verifyInternalIdentity,
} from '../src/auth.ts';
import { loadConfig, tokenEnv, tokenPolicy } from '../src/config.ts';

const secret = 'test-secret-that-is-at-least-32-characters';

describe('client tokens', () => {
  it('turns a bearer token into its subject and role', async () => {
    const token = await signClientToken({ subject: 'u1', role: 'user' }, secret);
    expect(await identityFromAuthorization(`Bearer ${token}`, secret)).toEqual({ kind: 'authenticated', subject: 'u1', role: 'user' });
  });

  it('treats a missing header as anonymous', async () => {
    expect(await identityFromAuthorization(undefined, secret)).toEqual(ANONYMOUS);
    expect(await identityFromAuthorization('', secret)).toEqual(ANONYMOUS);
  });

  it('refuses tokens signed with another key, expired, or without a known role', async () => {
    const other = await signClientToken({ subject: 'u1', role: 'admin' }, 'another-secret-that-is-32-characters-long');
    await expect(identityFromAuthorization(`Bearer ${other}`, secret)).rejects.toThrow(new AuthenticationError('token is invalid'));
    const key = new TextEncoder().encode(secret);
    const expired = await new SignJWT({ role: 'user' })
      .setProtectedHeader({ alg: 'HS256' })
      .setIssuer('recs')
      .setSubject('u1')
      .setExpirationTime(Math.floor(Date.now() / 1000) - 60)
      .sign(key);
    await expect(identityFromAuthorization(expired, secret)).rejects.toThrow('token has expired');
    const roleless = await new SignJWT({ role: 'root' })
      .setProtectedHeader({ alg: 'HS256' })
      .setIssuer('recs')
      .setSubject('u1')
      .setExpirationTime('1h')
      .sign(key);
    await expect(identityFromAuthorization(roleless, secret)).rejects.toThrow('token role must be one of user, service, admin');
  });

  it('stops accepting a token verified earlier once it expires, and never under another key', async () => {
    const now = Date.now();
    const token = await new SignJWT({ role: 'user' })
      .setProtectedHeader({ alg: 'HS256' })
      .setIssuer('recs')
      .setSubject('u2')
      .setExpirationTime(Math.floor(now / 1000) + 30)
      .sign(new TextEncoder().encode(secret));
    const policy = DEFAULT_TOKEN_POLICY;
    expect(await verifyClientToken(token, secret, policy, now)).toEqual({ kind: 'authenticated', subject: 'u2', role: 'user' });
    // verified (and remembered) above; still good a little later, and within the clock skew after exp
    expect(await verifyClientToken(token, secret, policy, now + 5_000)).toEqual({ kind: 'authenticated', subject: 'u2', role: 'user' });
    expect(await verifyClientToken(token, secret, policy, now + 45_000)).toEqual({ kind: 'authenticated', subject: 'u2', role: 'user' });
    await expect(verifyClientToken(token, secret, policy, now + 62_000)).rejects.toThrow('token has expired');
    await expect(verifyClientToken(token, 'another-secret-that-is-32-characters-long', policy, now)).rejects.toThrow('token is invalid');
  });
});

describe('client token claims', () => {
  const key = new TextEncoder().encode(secret);
  const base = (role = 'admin') => new SignJWT({ role }).setProtectedHeader({ alg: 'HS256' }).setSubject('root');
  const nowSeconds = () => Math.floor(Date.now() / 1000);

  it('requires exp', async () => {
    await expect(verifyClientToken(await base().setIssuer('recs').setIssuedAt().sign(key), secret)).rejects.toThrow(
      new AuthenticationError('token has no exp claim'),
    );
  });

  it('requires the configured issuer', async () => {
    await expect(verifyClientToken(await base().setIssuer('evil').setExpirationTime('1h').sign(key), secret)).rejects.toThrow(
      'token issuer (iss) is not accepted',
    );
    await expect(verifyClientToken(await base().setExpirationTime('1h').sign(key), secret)).rejects.toThrow('token has no iss claim');
    const policy = tokenPolicy({ JWT_ISSUER: 'shop' });
    expect(await verifyClientToken(await base().setIssuer('shop').setExpirationTime('1h').sign(key), secret, policy)).toMatchObject({ subject: 'root' });
    await expect(verifyClientToken(await signClientToken({ subject: 'root', role: 'admin' }, secret), secret, policy)).rejects.toThrow('issuer');
  });

  it('requires the audience when one is configured', async () => {
    const policy = tokenPolicy({ JWT_AUDIENCE: 'storefront' });
    await expect(verifyClientToken(await signClientToken({ subject: 'u1', role: 'user' }, secret), secret, policy)).rejects.toThrow('token has no aud claim');
    await expect(verifyClientToken(await signClientToken({ subject: 'u1', role: 'user', audience: 'other' }, secret), secret, policy)).rejects.toThrow(
      'audience',
    );
    expect(await verifyClientToken(await signClientToken({ subject: 'u1', role: 'user', audience: 'storefront' }, secret), secret, policy)).toMatchObject({
      subject: 'u1',
    });
  });

  it('refuses lifetimes over the maximum of the role, counted from iat or, without one, from now', async () => {
    await expect(verifyClientToken(await base().setIssuer('recs').setIssuedAt().setExpirationTime('25h').sign(key), secret)).rejects.toThrow(
      /lifetime exceeds the maximum of 86400 s for role admin/,
    );
    await expect(
      verifyClientToken(
        await base('user')
          .setIssuer('recs')
          .setExpirationTime(nowSeconds() + 25 * 3_600)
          .sign(key),
        secret,
      ),
    ).rejects.toThrow(/lifetime/);
    // an iat in the future does not stretch the lifetime
    await expect(
      verifyClientToken(
        await base()
          .setIssuer('recs')
          .setIssuedAt(nowSeconds() + 10 * 86_400)
          .setExpirationTime(nowSeconds() + 10 * 86_400 + 3_600)
          .sign(key),
        secret,
      ),
    ).rejects.toThrow(/lifetime/);
    // services may hold longer-lived tokens; the simulator's 30-day token is within
    expect(await verifyClientToken(await signClientToken({ subject: 'sim', role: 'service', expiresIn: '30d' }, secret), secret)).toMatchObject({
      role: 'service',
    });
    await expect(verifyClientToken(await signClientToken({ subject: 'sim', role: 'service', expiresIn: '31d' }, secret), secret)).rejects.toThrow(/lifetime/);
    // the development tokens of npm start
    expect(await verifyClientToken(await signClientToken({ subject: 'dev-admin', role: 'admin', expiresIn: '12h' }, secret), secret)).toMatchObject({
      role: 'admin',
    });
    const strict = tokenPolicy(loadConfig(tokenEnv, { JWT_MAX_LIFETIME: '15m' }));
    await expect(verifyClientToken(await signClientToken({ subject: 'u1', role: 'user', expiresIn: '1h' }, secret), secret, strict)).rejects.toThrow(
      /maximum of 900 s/,
    );
  });

  it('allows the configured clock skew, and no more', async () => {
    const now = Date.now();
    const token = await base('user')
      .setIssuer('recs')
      .setIssuedAt(Math.floor(now / 1000) - 600)
      .setExpirationTime(Math.floor(now / 1000) - 20)
      .sign(key);
    expect(await verifyClientToken(token, secret, DEFAULT_TOKEN_POLICY, now)).toMatchObject({ subject: 'root' });
    await expect(verifyClientToken(token, secret, tokenPolicy({ JWT_CLOCK_TOLERANCE: 5 }), now)).rejects.toThrow('token has expired');
    const early = await base('user')
      .setIssuer('recs')
      .setNotBefore(Math.floor(now / 1000) + 120)
      .setExpirationTime('1h')
      .sign(key);
    await expect(verifyClientToken(early, secret, DEFAULT_TOKEN_POLICY, now)).rejects.toThrow(AuthenticationError);
  });

  it('reads durations from the environment', () => {
    expect(loadConfig(tokenEnv, { JWT_MAX_LIFETIME: '2h', JWT_SERVICE_MAX_LIFETIME: '7d', JWT_CLOCK_TOLERANCE: '45' })).toMatchObject({
      JWT_MAX_LIFETIME: 7_200,
      JWT_SERVICE_MAX_LIFETIME: 604_800,
      JWT_CLOCK_TOLERANCE: 45,
    });
    expect(() => loadConfig(tokenEnv, { JWT_MAX_LIFETIME: 'a day' })).toThrow(/JWT_MAX_LIFETIME: must be a duration/);
  });
});

describe('gateway identity header', () => {
  const query = '{ product(id: "p1") { id } }';

  it('carries the identity the gateway verified', async () => {
    const identity = { kind: 'authenticated', subject: 'u9', role: 'service' } as const;
    expect(await verifyInternalIdentity(await signInternalIdentity(identity, secret, query), secret, query)).toEqual(identity);
    expect(await verifyInternalIdentity(await signInternalIdentity(ANONYMOUS, secret, query), secret, query)).toEqual(ANONYMOUS);
  });

  it('cannot be forged with a client token, even one signed with the shared secret', async () => {
    const clientToken = await signClientToken({ subject: 'u1', role: 'admin' }, secret);
    await expect(verifyInternalIdentity(clientToken, secret, query)).rejects.toThrow(AuthenticationError);
  });

  it('is good only for the operation it was signed with', async () => {
    const admin = { kind: 'authenticated', subject: 'root', role: 'admin' } as const;
    const header = await signInternalIdentity(admin, secret, query);
    expect(await verifyInternalIdentity(header, secret, query)).toEqual(admin);
    await expect(verifyInternalIdentity(header, secret, 'mutation { upsertProducts(products: []) { created } }')).rejects.toThrow(
      'signed for another operation',
    );
    await expect(verifyInternalIdentity(header, secret, undefined)).rejects.toThrow('signed for another operation');
  });

  it('expires after a minute, and is reused by the gateway for less than that', async () => {
    const now = Date.now() + 3_600_000; // a time no other test signed at
    const identity = { kind: 'authenticated', subject: 'u-exp', role: 'user' } as const;
    const header = await signInternalIdentity(identity, secret, query, now);
    expect(await signInternalIdentity(identity, secret, query, now + 19_000)).toBe(header);
    const fresh = await signInternalIdentity(identity, secret, query, now + 21_000);
    expect(fresh).not.toBe(header);
    expect(await verifyInternalIdentity(header, secret, query, now + 59_000)).toEqual(identity);
    await expect(verifyInternalIdentity(header, secret, query, now + 70_000)).rejects.toThrow(AuthenticationError);
    expect(await verifyInternalIdentity(fresh, secret, query, now + 70_000)).toEqual(identity);
  });
});

describe('canAccessUser', () => {
  it('lets users reach only their own data, services and admins anyone’s', () => {
    expect(canAccessUser({ kind: 'authenticated', subject: 'u1', role: 'user' }, 'u1')).toBe(true);
    expect(canAccessUser({ kind: 'authenticated', subject: 'u1', role: 'user' }, 'u2')).toBe(false);
    expect(canAccessUser({ kind: 'authenticated', subject: 'svc', role: 'service' }, 'u2')).toBe(true);
    expect(canAccessUser({ kind: 'authenticated', subject: 'root', role: 'admin' }, 'u2')).toBe(true);
    expect(canAccessUser(ANONYMOUS, 'u1')).toBe(false);
  });
});
