import { createHmac } from 'node:crypto';
import { errors as joseErrors, jwtVerify, SignJWT } from 'jose';
import { forbidden, unauthenticated } from './errors.ts';
import { ExpiringCache } from './cache.ts';

export const ROLES = ['user', 'service', 'admin'] as const;
export type Role = (typeof ROLES)[number];

/** Who is calling: nobody in particular, or the subject of a verified token with its role. */
export type Identity = { readonly kind: 'anonymous' } | { readonly kind: 'authenticated'; readonly subject: string; readonly role: Role };

export const ANONYMOUS: Identity = { kind: 'anonymous' };

const ALGORITHM = 'HS256';
const CLIENT_ISSUER = 'recs';
/** Gateway-to-subgraph identity tokens use a different key and audience from client tokens. */
const INTERNAL_AUDIENCE = 'recs-subgraph';
export const IDENTITY_HEADER = 'x-recs-identity';

const encoder = new TextEncoder();

function clientKey(secret: string): Uint8Array {
  return encoder.encode(secret);
}

const internalKeys = new Map<string, Uint8Array>();

function internalKey(secret: string): Uint8Array {
  let key = internalKeys.get(secret);
  if (key === undefined) internalKeys.set(secret, (key = createHmac('sha256', secret).update('recs/internal-identity/v1').digest()));
  return key;
}

/**
 * Tokens verified already, until they expire (at most ten minutes): every request carries one,
 * and most are the same few (a storefront's service token, the gateway's identity headers), so
 * verifying each signature again is wasted work. Keyed by the whole token and the key it was
 * verified with.
 */
const verified = new ExpiringCache<Identity>(10_000);

function remember(cacheKey: string, identity: Identity, expiresAtSeconds: number | undefined, now: number): void {
  if (expiresAtSeconds !== undefined) verified.set(cacheKey, identity, Math.min(expiresAtSeconds * 1000, now + 10 * 60_000));
}

/** An UNAUTHENTICATED error whose message says what was wrong with the token. */
export class AuthenticationError extends Error {
  override readonly name = 'AuthenticationError';
}

function identityFrom(payload: Record<string, unknown>): Identity {
  const { sub, role } = payload;
  if (typeof sub !== 'string' || sub === '') throw new AuthenticationError('token has no subject (sub)');
  if (typeof role !== 'string' || !(ROLES as readonly string[]).includes(role)) {
    throw new AuthenticationError(`token role must be one of ${ROLES.join(', ')}`);
  }
  return { kind: 'authenticated', subject: sub, role: role as Role };
}

/** Verifies a client's HS256 token (claims sub, role, exp). Throws AuthenticationError. */
export async function verifyClientToken(token: string, secret: string, now = Date.now()): Promise<Identity> {
  const cacheKey = `c\u0000${secret}\u0000${token}`;
  const known = verified.get(cacheKey, now);
  if (known !== undefined) return known;
  try {
    const { payload } = await jwtVerify(token, clientKey(secret), { algorithms: [ALGORITHM], currentDate: new Date(now) });
    const identity = identityFrom(payload);
    remember(cacheKey, identity, payload.exp, now);
    return identity;
  } catch (error) {
    if (error instanceof AuthenticationError) throw error;
    if (error instanceof joseErrors.JWTExpired) throw new AuthenticationError('token has expired');
    throw new AuthenticationError('token is invalid');
  }
}

/** `Authorization: Bearer <token>` (or the bare token) to an identity; no header is anonymous. */
export async function identityFromAuthorization(header: string | undefined | null, secret: string): Promise<Identity> {
  if (header === undefined || header === null || header.trim() === '') return ANONYMOUS;
  const token = header.replace(/^Bearer\s+/i, '').trim();
  return verifyClientToken(token, secret);
}

export interface TokenOptions {
  readonly subject: string;
  readonly role: Role;
  /** jose duration, e.g. '1h', '30d' */
  readonly expiresIn?: string;
}

/** Signs a client token (development tokens, tests, service accounts). */
export function signClientToken({ subject, role, expiresIn = '1h' }: TokenOptions, secret: string): Promise<string> {
  return new SignJWT({ role })
    .setProtectedHeader({ alg: ALGORITHM })
    .setSubject(subject)
    .setIssuer(CLIENT_ISSUER)
    .setIssuedAt()
    .setExpirationTime(expiresIn)
    .sign(clientKey(secret));
}

const internalTokens = new ExpiringCache<string>(10_000);

/** The identity header the gateway sends subgraphs; cached for a minute per identity. */
export async function signInternalIdentity(identity: Identity, secret: string, now = Date.now()): Promise<string> {
  const cacheKey = identity.kind === 'anonymous' ? '' : `${identity.role}\u0000${identity.subject}`;
  const cached = internalTokens.get(cacheKey, now);
  if (cached !== undefined) return cached;
  const payload = identity.kind === 'anonymous' ? { role: 'anonymous' } : { role: identity.role };
  const jwt = new SignJWT(payload).setProtectedHeader({ alg: ALGORITHM }).setAudience(INTERNAL_AUDIENCE).setIssuedAt().setExpirationTime('5m');
  const token = await (identity.kind === 'anonymous' ? jwt : jwt.setSubject(identity.subject)).sign(internalKey(secret));
  internalTokens.set(cacheKey, token, now + 60_000);
  return token;
}

/**
 * The identity a subgraph acts for: only what the gateway vouched for in IDENTITY_HEADER.
 * A missing header is anonymous; a forged or stale one is refused.
 */
export async function verifyInternalIdentity(header: string | undefined, secret: string, now = Date.now()): Promise<Identity> {
  if (header === undefined || header === '') return ANONYMOUS;
  const cacheKey = `i\u0000${secret}\u0000${header}`;
  const known = verified.get(cacheKey, now);
  if (known !== undefined) return known;
  try {
    const { payload } = await jwtVerify(header, internalKey(secret), { algorithms: [ALGORITHM], audience: INTERNAL_AUDIENCE, currentDate: new Date(now) });
    const identity = payload['role'] === 'anonymous' ? ANONYMOUS : identityFrom(payload);
    remember(cacheKey, identity, payload.exp, now);
    return identity;
  } catch {
    throw new AuthenticationError('identity header from the gateway is invalid');
  }
}

export function isAdmin(identity: Identity): boolean {
  return identity.kind === 'authenticated' && identity.role === 'admin';
}

/** Users read and change only their own data; services and admins anyone's. */
export function canAccessUser(identity: Identity, userId: string): boolean {
  if (identity.kind === 'anonymous') return false;
  return identity.role !== 'user' || identity.subject === userId;
}

/** Throws UNAUTHENTICATED (no identity) or FORBIDDEN (someone else's data). */
export function requireUserAccess(identity: Identity, userId: string): void {
  if (identity.kind === 'anonymous') throw unauthenticated();
  if (!canAccessUser(identity, userId)) throw forbidden(`Not allowed to access user ${userId}`);
}

export function requireAdmin(identity: Identity): void {
  if (identity.kind === 'anonymous') throw unauthenticated();
  if (!isAdmin(identity)) throw forbidden('Admin role required');
}
