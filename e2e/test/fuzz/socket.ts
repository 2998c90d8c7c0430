import type { Client } from 'graphql-ws';
import { deferred } from '@recs/devkit';
import { errorProblems, type WireError } from './http.ts';

export interface SocketOutcome {
  readonly results: readonly { data?: unknown; errors?: readonly WireError[] }[];
  /** The operation was refused with these errors (graphql-ws Error message). */
  readonly refused?: readonly WireError[];
  /** The socket failed under the operation (a close event or a transport error). */
  readonly broken?: string;
  /** A subscription still open when we stopped waiting. */
  readonly live: boolean;
}

/**
 * Runs one operation over an open graphql-ws client. A query or mutation runs to completion; a
 * subscription is given until two ping round trips on the same socket have completed after it
 * (the server has handled its Subscribe message by then) and is then disposed.
 */
export async function runOverSocket(
  client: Client,
  payload: { query: string; variables?: Record<string, unknown>; operationName?: string },
  isSubscription: boolean,
): Promise<SocketOutcome> {
  const results: { data?: unknown; errors?: readonly WireError[] }[] = [];
  const done = deferred<Omit<SocketOutcome, 'results' | 'live'>>();
  const dispose = client.subscribe(payload as never, {
    next: (value) => {
      results.push(value as never);
    },
    error: (error: unknown) => {
      if (Array.isArray(error)) done.resolve({ refused: error as WireError[] });
      else
        done.resolve({
          broken: error instanceof Error ? error.message : `close ${(error as { code?: number }).code} ${(error as { reason?: string }).reason ?? ''}`,
        });
    },
    complete: () => done.resolve({}),
  });
  if (!isSubscription) return { results, ...(await done.promise), live: false };
  const pinged = (async () => {
    await ping(client);
    await ping(client);
    return 'pinged' as const;
  })();
  const first = await Promise.race([done.promise, pinged]);
  dispose();
  if (first === 'pinged') return { results, live: true };
  return { results, ...first, live: false };
}

/** `{ __typename }` over the socket; rejects if the socket is not usable. */
export async function ping(client: Client): Promise<void> {
  const answer = deferred<void>();
  client.subscribe(
    { query: '{ __typename }' },
    {
      next: (value) => (value.data?.['__typename'] === 'Query' ? answer.resolve() : answer.reject(new Error(`ping answered ${JSON.stringify(value)}`))),
      error: (error) => answer.reject(error instanceof Error ? error : new Error(`ping failed: ${JSON.stringify(error)}`)),
      complete: () => undefined,
    },
  );
  return answer.promise;
}

export function socketProblems(outcome: SocketOutcome): string[] {
  const problems: string[] = [];
  if (outcome.broken !== undefined) problems.push(`socket broken by an operation: ${outcome.broken}`);
  problems.push(...errorProblems(outcome.refused ?? []));
  for (const result of outcome.results) problems.push(...errorProblems(result.errors ?? []));
  return problems;
}
