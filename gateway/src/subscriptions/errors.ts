import { formatError } from '@recs/shared';
import { GraphQLError, type FormattedExecutionResult, type GraphQLFormattedError } from 'graphql';

/**
 * graphql-ws sends `error.toJSON()` of every error it is given, so it needs GraphQLError
 * instances; results from Apollo Server (queries over the socket, hydrated changes) carry errors
 * Apollo has already formatted, as plain objects. Both kinds go out through these functions.
 */
export type AnyError = GraphQLError | GraphQLFormattedError;

/** An execution result whose errors are of either kind. */
export interface AnyResult {
  readonly errors?: readonly AnyError[] | undefined;
  readonly data?: unknown;
  readonly extensions?: unknown;
}

export interface SocketErrorFormat {
  error(error: AnyError): GraphQLFormattedError;
  result(result: AnyResult): FormattedExecutionResult;
}

/**
 * Errors as HTTP answers them: Apollo's formatError, which the errors of documents the socket
 * checks itself (parse, validation, authorization) never pass through. Coded errors go out as
 * they are, an uncoded one as INTERNAL_SERVER_ERROR (masked in production), and in production
 * without "Did you mean ..." suggestions. Errors Apollo formatted already come out the same.
 */
export function socketErrorFormat(production: boolean): SocketErrorFormat {
  const format = formatError(production);
  const error = (e: AnyError) => format(e instanceof GraphQLError ? e.toJSON() : e);
  return {
    error,
    result: (result) =>
      result.errors === undefined ? (result as FormattedExecutionResult) : ({ ...result, errors: result.errors.map(error) } as FormattedExecutionResult),
  };
}

/**
 * An error with the code Apollo Server gives it over HTTP (graphql-armor's rules, for one, say
 * BAD_USER_INPUT on their own), keeping its locations.
 */
export function withCode(error: GraphQLError, code: string): GraphQLError {
  return new GraphQLError(error.message, {
    ...(error.nodes === undefined ? {} : { nodes: error.nodes }),
    ...(error.source === undefined ? {} : { source: error.source }),
    ...(error.positions === undefined ? {} : { positions: error.positions }),
    ...(error.path === undefined ? {} : { path: error.path }),
    originalError: error,
    extensions: { ...error.extensions, code },
  });
}
