import type { ExecutionResult, GraphQLFormattedError } from 'graphql';

/**
 * What a live subscriber sees when hydrating a change fails.
 *
 * A hydration runs the subscriber's selection through the gateway, so it fails whenever a subgraph
 * does: the products subgraph restarting, a timeout, a storage outage. Such a failure says nothing
 * about the list, so the subscriber is sent nothing: the last good result stays on screen, the
 * subscription stays open, and the hydration is tried again with backoff (a bounded number of
 * times), and again on the next change. The first good result after the outage is delivered as
 * usual.
 *
 * A result is "transient" when it has errors and every one of them is of that kind (a code other
 * than the ones below, INTERNAL_SERVER_ERROR and SERVICE_UNAVAILABLE among them). Such a result is
 * not delivered, even with partial data: a list whose product fields are null for a while would
 * blank out a widget that had a good list a moment ago.
 *
 * An error with one of the codes below says the selection or its arguments are at fault, and
 * trying again gives the same answer; the result is delivered as it is (data and errors, as a
 * query would answer) and the subscription stays open for the next change.
 */
const PERMANENT_CODES = new Set([
  'BAD_USER_INPUT',
  'FORBIDDEN',
  'UNAUTHENTICATED',
  'NOT_FOUND',
  'GRAPHQL_PARSE_FAILED',
  'GRAPHQL_VALIDATION_FAILED',
  'BAD_REQUEST',
  'OPERATION_RESOLUTION_FAILURE',
  'PERSISTED_QUERY_NOT_FOUND',
]);

type ErrorLike = Pick<GraphQLFormattedError, 'message' | 'extensions'>;

export function errorCode(error: ErrorLike): string | undefined {
  const code = error.extensions?.['code'];
  return typeof code === 'string' ? code : undefined;
}

/** True when the result has errors and all of them may go away if the hydration is tried again. */
export function isTransientFailure(result: Pick<ExecutionResult, 'errors'> | { readonly errors?: readonly ErrorLike[] }): boolean {
  const errors = (result.errors ?? []) as readonly ErrorLike[];
  return errors.length > 0 && errors.every((error) => !PERMANENT_CODES.has(errorCode(error) ?? ''));
}

/** How failed hydrations are tried again: exponential backoff with jitter, a bounded number of times. */
export interface RetryPolicy {
  /** Delay before the first retry. */
  readonly firstDelayMs: number;
  /** Longest delay between two tries. */
  readonly maxDelayMs: number;
  /** Retries after a failure, before waiting for the next change. */
  readonly attempts: number;
}

/** About 35 s of retries in all (250 ms, 0.5, 1, 2, 4, 8, 10, 10 s, less jitter). */
export const DEFAULT_RETRY: RetryPolicy = { firstDelayMs: 250, maxDelayMs: 10_000, attempts: 8 };

/**
 * The delay before retry number `attempt` (1-based): doubling from firstDelayMs up to maxDelayMs,
 * then scaled into [50 %, 100 %] so that the groups that failed together do not retry together.
 */
export function retryDelay(policy: RetryPolicy, attempt: number, random: () => number = Math.random): number {
  const ceiling = Math.min(policy.maxDelayMs, policy.firstDelayMs * 2 ** Math.max(0, attempt - 1));
  return Math.round(ceiling * (0.5 + random() / 2));
}
