import {
  ClientClosedError,
  ClientOfflineError,
  ConnectionTimeoutError,
  ReconnectStrategyError,
  SocketClosedUnexpectedlyError,
  SocketTimeoutError,
} from 'redis';
import { GraphQLError, type GraphQLFormattedError } from 'graphql';
import {
  MongoClientClosedError,
  MongoError,
  MongoExpiredSessionError,
  MongoErrorLabel,
  MongoNetworkError,
  MongoNotConnectedError,
  MongoServerSelectionError,
  MongoTopologyClosedError,
} from 'mongodb';

/** Every code the API puts in `extensions.code`. */
export const ErrorCode = {
  BAD_USER_INPUT: 'BAD_USER_INPUT',
  UNAUTHENTICATED: 'UNAUTHENTICATED',
  FORBIDDEN: 'FORBIDDEN',
  NOT_FOUND: 'NOT_FOUND',
  RATE_LIMITED: 'RATE_LIMITED',
  /** A dependency (MongoDB, Redis) is unreachable; the request can be retried. */
  SERVICE_UNAVAILABLE: 'SERVICE_UNAVAILABLE',
  INTERNAL_SERVER_ERROR: 'INTERNAL_SERVER_ERROR',
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

function coded(code: ErrorCode, message: string, extensions: Record<string, unknown> = {}): GraphQLError {
  return new GraphQLError(message, { extensions: { ...extensions, code } });
}

export const badUserInput = (message: string, extensions?: Record<string, unknown>) => coded(ErrorCode.BAD_USER_INPUT, message, extensions);
export const unauthenticated = (message = 'Authentication required') => coded(ErrorCode.UNAUTHENTICATED, message);
/** UNAUTHENTICATED with HTTP status 401, for a refused credential (Apollo takes the status from extensions.http and drops it from the body). */
export const refusedCredential = (message: string) => coded(ErrorCode.UNAUTHENTICATED, message, { http: { status: 401 } });
export const forbidden = (message = 'Not allowed') => coded(ErrorCode.FORBIDDEN, message);
export const notFound = (message: string) => coded(ErrorCode.NOT_FOUND, message);
export const rateLimited = (message: string, retryAfterSeconds: number) => coded(ErrorCode.RATE_LIMITED, message, { retryAfter: retryAfterSeconds });
export const serviceUnavailable = (message = 'A storage service is unavailable; retry shortly') =>
  coded(ErrorCode.SERVICE_UNAVAILABLE, message, { retryable: true });

const PUBLIC_CODES = new Set<string>(Object.values(ErrorCode).filter((code) => code !== ErrorCode.INTERNAL_SERVER_ERROR));
/** Apollo's own codes for malformed requests, which are safe to show. */
const APOLLO_CODES = new Set(['GRAPHQL_PARSE_FAILED', 'GRAPHQL_VALIDATION_FAILED', 'BAD_REQUEST', 'PERSISTED_QUERY_NOT_FOUND', 'OPERATION_RESOLUTION_FAILURE']);

/**
 * graphql-js's "Did you mean ...?" hints (fields, arguments, types, enum values): they let anyone
 * map a schema whose introspection is off. Names never contain "?".
 */
const SUGGESTION = /\s*Did you mean [^?]*\?/g;

export function withoutSuggestions(message: string): string {
  return message.replace(SUGGESTION, '');
}

/**
 * Apollo marks some refusals of a request with an HTTP 4xx status and no code (a persisted query
 * whose hash does not match its text): a client's mistake, so BAD_REQUEST rather than internal.
 */
function clientErrorCode(error: unknown): string | undefined {
  if (!(error instanceof GraphQLError) || error.extensions['code'] !== undefined) return undefined;
  const status = (error.extensions['http'] as { status?: unknown } | undefined)?.status;
  return typeof status === 'number' && status >= 400 && status < 500 ? 'BAD_REQUEST' : undefined;
}

/**
 * Apollo Server's formatError: coded errors pass through without stack traces; anything else
 * becomes a bare INTERNAL_SERVER_ERROR in production (the original is logged by the caller).
 * Production messages suggest no names.
 */
export function formatError(production: boolean) {
  return (formatted: GraphQLFormattedError, error?: unknown): GraphQLFormattedError => {
    // Apollo fills in INTERNAL_SERVER_ERROR where the error had no code of its own
    const code = clientErrorCode(error) ?? (typeof formatted.extensions?.['code'] === 'string' ? formatted.extensions['code'] : undefined);
    const { stacktrace: _stack, ...extensions } = formatted.extensions ?? {};
    if (code !== undefined && (PUBLIC_CODES.has(code) || APOLLO_CODES.has(code))) {
      return { ...formatted, ...(production ? { message: withoutSuggestions(formatted.message) } : {}), extensions: { ...extensions, code } };
    }
    if (!production) return { ...formatted, extensions: { ...extensions, code: code ?? ErrorCode.INTERNAL_SERVER_ERROR } };
    return {
      message: 'Internal server error',
      ...(formatted.path === undefined ? {} : { path: formatted.path }),
      extensions: { code: ErrorCode.INTERNAL_SERVER_ERROR },
    };
  };
}

/**
 * Driver errors that mean MongoDB or Redis cannot be reached right now, by class: every
 * MongoNetworkError (timeouts, PoolClearedError, PoolClearedOnNetworkError), failed server
 * selection, a client or topology closed under the operation (a restart or shutdown in progress),
 * and node-redis's connection errors.
 */
const UNAVAILABLE_CLASSES: readonly (abstract new (...args: never[]) => Error)[] = [
  MongoNetworkError,
  MongoServerSelectionError,
  MongoNotConnectedError,
  MongoTopologyClosedError,
  MongoClientClosedError,
  // an operation still in flight when its client was closed (a restart or shutdown)
  MongoExpiredSessionError,
  ConnectionTimeoutError,
  SocketTimeoutError,
  SocketClosedUnexpectedlyError,
  ClientClosedError,
  ClientOfflineError,
  ReconnectStrategyError,
];
/** Labels the MongoDB driver and server put on errors that a retry may get past. */
const TRANSIENT_LABELS = [
  MongoErrorLabel.RetryableWriteError,
  MongoErrorLabel.TransientTransactionError,
  MongoErrorLabel.ResetPool,
  MongoErrorLabel.PoolRequestedRetry,
  MongoErrorLabel.RetryableError,
  MongoErrorLabel.SystemOverloadedError,
];
/** By name too, for errors of another copy of a driver (BullMQ brings its own) or thrown across a process boundary. */
const UNAVAILABLE_NAMES = new Set([
  'MongoServerSelectionError',
  'MongoNetworkError',
  'MongoNetworkTimeoutError',
  'MongoNotConnectedError',
  'MongoTopologyClosedError',
  'MongoClientClosedError',
  'MongoExpiredSessionError',
  'MongoPoolClearedError',
  'PoolClearedOnNetworkError',
]);
/** Socket errors of a peer that went away or never answered. */
const UNAVAILABLE_SYSTEM_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ECONNABORTED', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH']);

function isUnavailableItself(error: Error): boolean {
  if (UNAVAILABLE_CLASSES.some((type) => error instanceof type)) return true;
  if (error instanceof MongoError && TRANSIENT_LABELS.some((label) => error.hasErrorLabel(label))) return true;
  if (UNAVAILABLE_NAMES.has(error.name)) return true;
  // a socket the peer closed a moment ago can surface unwrapped: Error('This socket has been ended by the other party'), code EPIPE
  const code = (error as NodeJS.ErrnoException).code;
  if (typeof code === 'string' && UNAVAILABLE_SYSTEM_CODES.has(code)) return true;
  // ioredis (BullMQ's client) says so only in words
  return /ECONNREFUSED|ECONNRESET|ETIMEDOUT|EPIPE|socket hang up|The client is closed|Connection is closed/i.test(error.message);
}

/** True for failures a retry may get past: a store or service unreachable, here or as the cause of a wrapping error. */
export function isUnavailable(error: unknown): boolean {
  for (let current = error, depth = 0; current instanceof Error && depth < 5; current = current.cause, depth++) {
    if (isUnavailableItself(current)) return true;
  }
  return false;
}
