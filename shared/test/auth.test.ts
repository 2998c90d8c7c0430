import { describe, expect, it } from 'vitest';
import { SignJWT } from 'jose';
import {
  ANONYMOUS,
  AuthenticationError,
  canAccessUser,
  identityFromAuthorization,
  signClientToken,
  signInternalIdentity,
  verifyClientToken,
  verifyInternalIdentity,
} from '../src/auth.ts';
import { decodeKey, encodeKey } from '../src/mongo.ts';

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
    const expired = await new SignJWT({ role: 'user' }).setProtectedHeader({ alg: 'HS256' }).setSubject('u1').setExpirationTime(Math.floor(Date.now() / 1000) - 60).sign(key);
    await expect(identityFromAuthorization(expired, secret)).rejects.toThrow('token has expired');
    const roleless = await new SignJWT({ role: 'root' }).setProtectedHeader({ alg: 'HS256' }).setSubject('u1').sign(key);
    await expect(identityFromAuthorization(roleless, secret)).rejects.toThrow('token role must be one of user, service, admin');
  });

  it('stops accepting a token verified earlier once it expires, and never under another key', async () => {
    const now = Date.now();
    const token = await new SignJWT({ role: 'user' })
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject('u2')
      .setExpirationTime(Math.floor(now / 1000) + 30)
      .sign(new TextEncoder().encode(secret));
    expect(await verifyClientToken(token, secret, now)).toEqual({ kind: 'authenticated', subject: 'u2', role: 'user' });
    // verified (and remembered) above; still good a little later
    expect(await verifyClientToken(token, secret, now + 5_000)).toEqual({ kind: 'authenticated', subject: 'u2', role: 'user' });
    await expect(verifyClientToken(token, secret, now + 31_000)).rejects.toThrow('token has expired');
    await expect(verifyClientToken(token, 'another-secret-that-is-32-characters-long', now)).rejects.toThrow('token is invalid');
  });
});

describe('gateway identity header', () => {
  it('carries the identity the gateway verified', async () => {
    const identity = { kind: 'authenticated', subject: 'u9', role: 'service' } as const;
    expect(await verifyInternalIdentity(await signInternalIdentity(identity, secret), secret)).toEqual(identity);
    expect(await verifyInternalIdentity(await signInternalIdentity(ANONYMOUS, secret), secret)).toEqual(ANONYMOUS);
  });

  it('cannot be forged with a client token, even one signed with the shared secret', async () => {
    const clientToken = await signClientToken({ subject: 'u1', role: 'admin' }, secret);
    await expect(verifyInternalIdentity(clientToken, secret)).rejects.toThrow(AuthenticationError);
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

describe('field-name keys', () => {
  it('round-trips ids with dots, dollars and percent signs', () => {
    for (const id of ['plain', 'a.b.c', '$start', 'x%2Ey', '%', '%25.', '$%24']) {
      const key = encodeKey(id);
      expect(key).not.toMatch(/\.|^\$/);
      expect(decodeKey(key)).toBe(id);
    }
  });
});
