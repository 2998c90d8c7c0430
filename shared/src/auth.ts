import { createHash, createHmac, createSecretKey, type KeyObject } from 'node:crypto';
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

/**
 * Set by the gateway on the subgraph requests of a subscription's hydration: read the store, not a
 * cache. A hydration follows a change message, which the subgraph's cache may not have heard yet;
 * reading through it would return the value from before the change. A hint, not a permission: a
 * client cannot set it (the gateway builds subgraph headers itself), and all it costs is a read.
 */
export const READ_FRESH_HEADER = 'x-recs-read-fresh';

/**
 * Keys as KeyObjects, made once per secret: an HMAC keyed with raw bytes imports them again on
 * every call (six times the cost of the HMAC itself, measured on every token and id signed).
 */
export function keyOf(cache: Map<string, KeyObject>, secret: string, derive?: string): KeyObject {
  let key = cache.get(secret);
  if (key === undefined) {
    key = createSecretKey(derive === undefined ? Buffer.from(secret, 'utf8') : createHmac('sha256', secret).update(derive).digest());
    cache.set(secret, key);
  }
  return key;
}

const clientKeys = new Map<string, KeyObject>();
const internalKeys = new Map<string, KeyObject>();

function clientKey(secret: string): KeyObject {
  return keyOf(clientKeys, secret);
}

function internalKey(secret: string): KeyObject {
  return keyOf(internalKeys, secret, 'recs/internal-identity/v1');
}

/**
 * What a client token must satisfy besides its signature: the issuer (and audience, when one is
 * configured), and a bounded lifetime, so a leaked token is not good forever. Built once per
 * process from its config (see tokenPolicy in config.ts).
 */
export interface TokenPolicy {
  /** Required `iss`. */
  readonly issuer: string;
  /** Required `aud`, when set. */
  readonly audience?: string | undefined;
  /** Longest accepted lifetime per role, in seconds: `exp - iat`, or `exp - now` without iat. */
  readonly maxLifetimeSeconds: Readonly<Record<Role, number>>;
  /** Clocks of token issuers and of this process may differ by this much (exp, nbf, iat). */
  readonly clockToleranceSeconds: number;
}

export const DEFAULT_TOKEN_POLICY: TokenPolicy = {
  issuer: CLIENT_ISSUER,
  // people's tokens for a working day; service accounts (a storefront's backend) rotate monthly
  maxLifetimeSeconds: { user: 86_400, admin: 86_400, service: 30 * 86_400 },
  clockToleranceSeconds: 30,
};

/**
 * Tokens verified already, until they expire (at most ten minutes): every request carries one,
 * and most are the same few (a storefront's service token), so verifying each signature again is
 * wasted work. Keyed by the whole token, the key and the policy it was verified with.
 */
const verified = new ExpiringCache<Identity>(10_000);
const policyKeys = new WeakMap<TokenPolicy, string>();

function policyKey(policy: TokenPolicy): string {
  let key = policyKeys.get(policy);
  if (key === undefined) policyKeys.set(policy, (key = JSON.stringify(policy)));
  return key;
}

function remember(cacheKey: string, identity: Identity, expiresAtSeconds: number, now: number): void {
  verified.set(cacheKey, identity, Math.min(expiresAtSeconds * 1000, now + 10 * 60_000));
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

/** A claim jose refused, in words. */
function claimProblem(error: InstanceType<typeof joseErrors.JWTClaimValidationFailed>): string {
  if (error.reason === 'missing') return `token has no ${error.claim} claim`;
  if (error.claim === 'iss') return 'token issuer (iss) is not accepted';
  if (error.claim === 'aud') return 'token audience (aud) is not accepted';
  return `token ${error.claim} claim is not valid`;
}

/**
 * Verifies a client's HS256 token: signature, claims sub, role, exp (required) and iss (and aud
 * when the policy names one), a lifetime within the role's maximum. Throws AuthenticationError.
 */
export async function verifyClientToken(token: string, secret: string, policy: TokenPolicy = DEFAULT_TOKEN_POLICY, now = Date.now()): Promise<Identity> {
  const cacheKey = `c\u0000${secret}\u0000${policyKey(policy)}\u0000${token}`;
  const known = verified.get(cacheKey, now);
  if (known !== undefined) return known;
  try {
    const { payload } = await jwtVerify(token, clientKey(secret), {
      algorithms: [ALGORITHM],
      currentDate: new Date(now),
      issuer: policy.issuer,
      ...(policy.audience === undefined ? {} : { audience: policy.audience }),
      requiredClaims: ['exp', 'sub'],
      clockTolerance: policy.clockToleranceSeconds,
    });
    const identity = identityFrom(payload);
    const exp = payload.exp!;
    // from the earlier of iat and now: an iat in the future does not stretch the lifetime
    const nowSeconds = Math.floor(now / 1000);
    const lifetime = exp - Math.min(payload.iat ?? nowSeconds, nowSeconds);
    if (identity.kind === 'authenticated' && lifetime > policy.maxLifetimeSeconds[identity.role]) {
      throw new AuthenticationError(`token lifetime exceeds the maximum of ${policy.maxLifetimeSeconds[identity.role]} s for role ${identity.role}`);
    }
    remember(cacheKey, identity, exp, now);
    return identity;
  } catch (error) {
    if (error instanceof AuthenticationError) throw error;
    if (error instanceof joseErrors.JWTExpired) throw new AuthenticationError('token has expired');
    if (error instanceof joseErrors.JWTClaimValidationFailed) throw new AuthenticationError(claimProblem(error));
    throw new AuthenticationError('token is invalid');
  }
}

/** `Authorization: Bearer <token>` (or the bare token) to an identity; no header is anonymous. */
export async function identityFromAuthorization(
  header: string | undefined | null,
  secret: string,
  policy: TokenPolicy = DEFAULT_TOKEN_POLICY,
): Promise<Identity> {
  if (header === undefined || header === null || header.trim() === '') return ANONYMOUS;
  const token = header.replace(/^Bearer\s+/i, '').trim();
  return verifyClientToken(token, secret, policy);
}

export interface TokenOptions {
  readonly subject: string;
  readonly role: Role;
  /** jose duration, e.g. '1h', '30d' */
  readonly expiresIn?: string;
  /** Default `recs`, the default TokenPolicy's. */
  readonly issuer?: string;
  readonly audience?: string;
}

/** Signs a client token (development tokens, tests, service accounts). */
export function signClientToken({ subject, role, expiresIn = '1h', issuer = CLIENT_ISSUER, audience }: TokenOptions, secret: string): Promise<string> {
  const jwt = new SignJWT({ role }).setProtectedHeader({ alg: ALGORITHM }).setSubject(subject).setIssuer(issuer).setIssuedAt().setExpirationTime(expiresIn);
  return (audience === undefined ? jwt : jwt.setAudience(audience)).sign(clientKey(secret));
}

/**
 * Identity headers are tied to one operation (the hash of the document the gateway sends) and
 * live a minute, so a captured header cannot be replayed for another operation, nor for long.
 * The gateway reuses a header for 20 s, so each is good for at least 40 s after it is sent;
 * gateway and subgraphs run on synchronized hosts, hence the small tolerance.
 */
const INTERNAL_LIFETIME_SECONDS = 60;
const INTERNAL_REUSE_MS = 20_000;
const INTERNAL_CLOCK_TOLERANCE_SECONDS = 5;

/** The operation hash an identity header carries: SHA-256 of the document, base64url. */
export function operationHash(query: string): string {
  return createHash('sha256').update(query).digest('base64url');
}

/** Bounded: one entry per identity and operation shape in use. */
const internalTokens = new ExpiringCache<string>(10_000);

/** The identity header the gateway sends a subgraph along with `query`. */
export async function signInternalIdentity(identity: Identity, secret: string, query: string, now = Date.now()): Promise<string> {
  const op = operationHash(query);
  const cacheKey = `${identity.kind === 'anonymous' ? '' : `${identity.role}\u0000${identity.subject}`}\u0000${op}\u0000${secret}`;
  const cached = internalTokens.get(cacheKey, now);
  if (cached !== undefined) return cached;
  const issuedAt = Math.floor(now / 1000);
  const payload = { role: identity.kind === 'anonymous' ? 'anonymous' : identity.role, op };
  const jwt = new SignJWT(payload)
    .setProtectedHeader({ alg: ALGORITHM })
    .setAudience(INTERNAL_AUDIENCE)
    .setIssuedAt(issuedAt)
    .setExpirationTime(issuedAt + INTERNAL_LIFETIME_SECONDS);
  const token = await (identity.kind === 'anonymous' ? jwt : jwt.setSubject(identity.subject)).sign(internalKey(secret));
  internalTokens.set(cacheKey, token, now + INTERNAL_REUSE_MS);
  return token;
}

/** Identity headers verified already, with the operation each was signed for. */
const verifiedInternal = new ExpiringCache<{ identity: Identity; op: string }>(10_000);

/**
 * The identity a subgraph acts for: only what the gateway vouched for in IDENTITY_HEADER, for
 * the operation `query` it received. A missing header is anonymous; a forged or stale one, or
 * one signed for another operation, is refused.
 */
export async function verifyInternalIdentity(header: string | undefined, secret: string, query: string | undefined, now = Date.now()): Promise<Identity> {
  if (header === undefined || header === '') return ANONYMOUS;
  const cacheKey = `i\u0000${secret}\u0000${header}`;
  let known = verifiedInternal.get(cacheKey, now);
  if (known === undefined) {
    try {
      const { payload } = await jwtVerify(header, internalKey(secret), {
        algorithms: [ALGORITHM],
        audience: INTERNAL_AUDIENCE,
        requiredClaims: ['exp', 'iat', 'op'],
        maxTokenAge: INTERNAL_LIFETIME_SECONDS,
        clockTolerance: INTERNAL_CLOCK_TOLERANCE_SECONDS,
        currentDate: new Date(now),
      });
      if (typeof payload['op'] !== 'string' || payload.exp! - payload.iat! > INTERNAL_LIFETIME_SECONDS) throw new AuthenticationError('malformed');
      known = { identity: payload['role'] === 'anonymous' ? ANONYMOUS : identityFrom(payload), op: payload['op'] };
      verifiedInternal.set(cacheKey, known, payload.exp! * 1000);
    } catch {
      throw new AuthenticationError('identity header from the gateway is invalid');
    }
  }
  if (query === undefined || known.op !== operationHash(query))
    throw new AuthenticationError('identity header from the gateway was signed for another operation');
  return known.identity;
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
