import { createHmac } from 'node:crypto';
import { TEST_JWT_SECRET } from '@recs/devkit';
import { ErrorCode } from '@recs/shared';

/** A GraphQL error as it comes over the wire. */
export interface WireError {
  readonly message: string;
  readonly path?: readonly (string | number)[];
  readonly extensions?: Record<string, unknown>;
}

export interface WireResponse {
  readonly status: number;
  /** The parsed GraphQL response, when the body was one. */
  readonly body?: { data?: Record<string, any> | null; errors?: readonly WireError[] };
  readonly text: string;
}

/**
 * Every code a client may see: the API's own (shared/src/errors.ts) and Apollo's for malformed
 * requests. INTERNAL_SERVER_ERROR is deliberately not here, and neither is SERVICE_UNAVAILABLE:
 * the services are up during the fuzz run, so neither may appear.
 */
export const KNOWN_CODES: ReadonlySet<string> = new Set([
  ...Object.values(ErrorCode).filter((code) => code !== ErrorCode.INTERNAL_SERVER_ERROR && code !== ErrorCode.SERVICE_UNAVAILABLE),
  'GRAPHQL_PARSE_FAILED',
  'GRAPHQL_VALIDATION_FAILED',
  'BAD_REQUEST',
  'PERSISTED_QUERY_NOT_FOUND',
  'PERSISTED_QUERY_NOT_SUPPORTED',
  'OPERATION_RESOLUTION_FAILURE',
]);

/** A number literal JSON.stringify cannot write (1e400, -0.0, 1.0): sent as its text. */
export class RawNumber {
  readonly text: string;
  constructor(text: string) {
    this.text = text;
  }
  toJSON(): string {
    return `\u0000raw:${this.text}\u0000`;
  }
}

/** JSON text with RawNumbers written verbatim. */
export function toJsonText(value: unknown): string {
  return JSON.stringify(value).replace(/"\\u0000raw:([^"\\]*)\\u0000"/g, '$1');
}

const NAME = /^[_A-Za-z][_0-9A-Za-z]*$/;
export const isGraphQLName = (key: string) => NAME.test(key);

/** A value as a GraphQL literal (object keys must be GraphQL names; callers check). */
export function toLiteral(value: unknown, enumKeys: ReadonlySet<string> = new Set(), key?: string): string {
  if (value instanceof RawNumber) return value.text;
  if (value === null || value === undefined) return 'null';
  if (typeof value === 'string') return key !== undefined && enumKeys.has(key) && isGraphQLName(value) ? value : JSON.stringify(value);
  if (typeof value === 'number') return Number.isFinite(value) ? String(value) : 'null';
  if (typeof value === 'boolean') return String(value);
  if (Array.isArray(value)) return `[${value.map((v) => toLiteral(v, enumKeys)).join(', ')}]`;
  return `{${Object.entries(value as Record<string, unknown>)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => `${k}: ${toLiteral(v, enumKeys, k)}`)
    .join(', ')}}`;
}

/** POSTs a raw body; never throws for an HTTP status, only for a transport failure. */
export async function post(url: string, body: string, headers: Record<string, string> = {}): Promise<WireResponse> {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'apollo-require-preflight': 'true', ...headers },
    body,
  });
  return parsed(response);
}

export async function get(url: string, headers: Record<string, string> = {}): Promise<WireResponse> {
  return parsed(await fetch(url, { headers: { 'apollo-require-preflight': 'true', ...headers } }));
}

async function parsed(response: Response): Promise<WireResponse> {
  const text = await response.text();
  let body: WireResponse['body'];
  try {
    const json = JSON.parse(text) as unknown;
    if (json !== null && typeof json === 'object' && !Array.isArray(json) && ('data' in json || 'errors' in json)) body = json as WireResponse['body'];
  } catch {
    body = undefined;
  }
  return { status: response.status, text, ...(body === undefined ? {} : { body }) };
}

export function graphqlBody(query: string, variables?: Record<string, unknown>, operationName?: string): string {
  return toJsonText({ query, ...(variables === undefined ? {} : { variables }), ...(operationName === undefined ? {} : { operationName }) });
}

/**
 * What every response must satisfy, whatever was sent: no 5xx, and every error coded with a
 * code clients know (no INTERNAL_SERVER_ERROR, no SERVICE_UNAVAILABLE while everything is up).
 * Returns the problems found (empty when none).
 */
export function responseProblems(response: WireResponse): string[] {
  const problems: string[] = [];
  if (response.status >= 500) problems.push(`HTTP ${response.status}: ${response.text.slice(0, 300)}`);
  problems.push(...errorProblems(response.body?.errors ?? []));
  return problems;
}

export function errorProblems(errors: readonly WireError[]): string[] {
  const problems: string[] = [];
  for (const error of errors) {
    const code = error.extensions?.['code'];
    if (typeof code !== 'string') problems.push(`error without extensions.code: ${error.message.slice(0, 200)}`);
    else if (!KNOWN_CODES.has(code)) problems.push(`error with code ${code}: ${error.message.slice(0, 200)}`);
  }
  return problems;
}

export const codesOf = (response: { body?: { errors?: readonly WireError[] } }) => (response.body?.errors ?? []).map((error) => error.extensions?.['code']);

// ---- forged tokens ---------------------------------------------------------------------------

const b64 = (value: unknown) => Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url');

/** An HS256 JWT with exactly these header and claims, signed with `secret`. */
export function forgeJwt(header: Record<string, unknown>, claims: Record<string, unknown>, secret = TEST_JWT_SECRET): string {
  const unsigned = `${b64(header)}.${b64(claims)}`;
  return `${unsigned}.${createHmac('sha256', secret).update(unsigned).digest('base64url')}`;
}

const now = () => Math.floor(Date.now() / 1000);
const good = () => ({ sub: 'u0', role: 'user', iss: 'recs', iat: now(), exp: now() + 3600 });

/**
 * Authorization headers the gateway must refuse with 401 UNAUTHENTICATED (README Auth: a bad
 * token is refused; DESIGN.md: exp is required, iss is `recs`).
 */
export function forgedAuthorizations(): Record<string, string> {
  const hs = { alg: 'HS256', typ: 'JWT' };
  return {
    garbage: 'Bearer garbage',
    'bare word Bearer': 'Bearer',
    'three dots': 'Bearer ...',
    'wrong secret': `Bearer ${forgeJwt(hs, good(), 'another-secret-another-secret-0123456789')}`,
    'alg none': `Bearer ${b64({ alg: 'none', typ: 'JWT' })}.${b64(good())}.`,
    'alg HS512 header': `Bearer ${forgeJwt({ alg: 'HS512' }, good())}`,
    expired: `Bearer ${forgeJwt(hs, { ...good(), iat: now() - 7200, exp: now() - 3600 })}`,
    'no exp': `Bearer ${forgeJwt(hs, { sub: 'u0', role: 'user', iss: 'recs', iat: now() })}`,
    'wrong iss': `Bearer ${forgeJwt(hs, { ...good(), iss: 'someone-else' })}`,
    'unknown role': `Bearer ${forgeJwt(hs, { ...good(), role: 'superuser' })}`,
    'role array': `Bearer ${forgeJwt(hs, { ...good(), role: ['admin'] })}`,
    'empty sub': `Bearer ${forgeJwt(hs, { ...good(), sub: '' })}`,
    'numeric sub': `Bearer ${forgeJwt(hs, { ...good(), sub: 42 })}`,
    'not before in the future': `Bearer ${forgeJwt(hs, { ...good(), nbf: now() + 3600 })}`,
    'tampered payload': `Bearer ${forgeJwt(hs, good()).replace(/\.[^.]+\./, `.${b64({ ...good(), role: 'admin' })}.`)}`,
    'basic scheme': 'Basic dXNlcjpwYXNz',
    'tab only': 'Bearer \t',
    unicode: 'Bearer t\u00f6ken',
    'very long': `Bearer ${'a'.repeat(6_000)}`,
  };
}
