import { GraphQLError, type GraphQLFormattedError } from 'graphql';

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
export const forbidden = (message = 'Not allowed') => coded(ErrorCode.FORBIDDEN, message);
export const notFound = (message: string) => coded(ErrorCode.NOT_FOUND, message);
export const rateLimited = (message: string, retryAfterSeconds: number) =>
  coded(ErrorCode.RATE_LIMITED, message, { retryAfter: retryAfterSeconds });
export const serviceUnavailable = (message = 'A storage service is unavailable; retry shortly') =>
  coded(ErrorCode.SERVICE_UNAVAILABLE, message, { retryable: true });

const PUBLIC_CODES = new Set<string>(Object.values(ErrorCode).filter((code) => code !== ErrorCode.INTERNAL_SERVER_ERROR));
/** Apollo's own codes for malformed requests, which are safe to show. */
const APOLLO_CODES = new Set(['GRAPHQL_PARSE_FAILED', 'GRAPHQL_VALIDATION_FAILED', 'BAD_REQUEST', 'PERSISTED_QUERY_NOT_FOUND', 'OPERATION_RESOLUTION_FAILURE']);

/**
 * Apollo Server's formatError: coded errors pass through without stack traces; anything else
 * becomes a bare INTERNAL_SERVER_ERROR in production (the original is logged by the caller).
 */
export function formatError(production: boolean) {
  return (formatted: GraphQLFormattedError): GraphQLFormattedError => {
    const code = typeof formatted.extensions?.['code'] === 'string' ? formatted.extensions['code'] : undefined;
    const { stacktrace: _stack, ...extensions } = formatted.extensions ?? {};
    if (code !== undefined && (PUBLIC_CODES.has(code) || APOLLO_CODES.has(code))) return { ...formatted, extensions };
    if (!production) return { ...formatted, extensions: { ...extensions, code: code ?? ErrorCode.INTERNAL_SERVER_ERROR } };
    return {
      message: 'Internal server error',
      ...(formatted.path === undefined ? {} : { path: formatted.path }),
      extensions: { code: ErrorCode.INTERNAL_SERVER_ERROR },
    };
  };
}

/** True for driver errors that mean MongoDB or Redis cannot be reached right now. */
const UNAVAILABLE_NAMES = new Set(['MongoServerSelectionError', 'MongoNetworkError', 'MongoNetworkTimeoutError', 'MongoNotConnectedError', 'MongoTopologyClosedError', 'MongoPoolClearedError']);
/** Socket errors of a peer that went away or never answered. */
const UNAVAILABLE_SYSTEM_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ECONNABORTED', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH']);

export function isUnavailable(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  if (UNAVAILABLE_NAMES.has(error.name)) return true;
  // a socket the peer closed a moment ago can surface unwrapped: Error('This socket has been ended by the other party'), code EPIPE
  const code = (error as NodeJS.ErrnoException).code;
  if (typeof code === 'string' && UNAVAILABLE_SYSTEM_CODES.has(code)) return true;
  return /ECONNREFUSED|ECONNRESET|ETIMEDOUT|EPIPE|socket hang up|The client is closed|Connection is closed/i.test(error.message);
}
