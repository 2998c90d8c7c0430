import type { ApolloServerPlugin, BaseContext, GraphQLRequestContextWillSendResponse } from '@apollo/server';
import { ApolloServerErrorCode, ApolloServerValidationErrorCode } from '@apollo/server/errors';
import type { Registry } from 'prom-client';
import { ErrorCode } from './errors.ts';
import { counterOn, histogramOn, LATENCY_BUCKETS, METRIC_PREFIX, secondsSince } from './metrics.ts';

/** Operation names one process reports at most; later new names are reported as `other`. */
export const MAX_OPERATION_NAMES = 50;

/**
 * Operation names as a bounded label: the first `max` distinct names a process sees are kept,
 * every later new one is `other`, anonymous operations are `unnamed`. Clients choose names, so
 * without a cap one client could create a series per request.
 */
export class OperationNames {
  private readonly seen = new Set<string>();
  private readonly max: number;

  constructor(max = MAX_OPERATION_NAMES) {
    this.max = max;
  }

  label(name: string | null | undefined): string {
    if (name === null || name === undefined || name === '') return 'unnamed';
    if (this.seen.has(name)) return name;
    if (this.seen.size >= this.max) return 'other';
    this.seen.add(name);
    return name;
  }
}

/** The codes reported as they are: ours and Apollo's; any other is INTERNAL_SERVER_ERROR (a bounded label). */
const KNOWN_CODES = new Set<string>([...Object.values(ErrorCode), ...Object.values(ApolloServerErrorCode), ...Object.values(ApolloServerValidationErrorCode)]);

/** `OK`, or the first error's code, folded into the known ones. */
export function outcomeCode(errors: readonly { readonly extensions?: Readonly<Record<string, unknown>> }[] | undefined): string {
  const first = errors?.[0];
  if (first === undefined) return 'OK';
  const code = first.extensions?.['code'];
  return typeof code === 'string' && KNOWN_CODES.has(code) ? code : ErrorCode.INTERNAL_SERVER_ERROR;
}

export interface GraphQLMetricsOptions<TContext extends BaseContext> {
  /** Requests not to count, e.g. the gateway's own subscription hydrations (they have metrics of their own). */
  readonly ignore?: (context: TContext) => boolean;
  readonly operationNames?: OperationNames;
}

/**
 * recs_graphql_requests_total{operation_type, operation_name, code} and
 * recs_graphql_request_duration_seconds{operation_type, operation_name}, from request start to
 * the response. A request whose operation was never resolved (a parse or validation failure)
 * is operation_type `unknown`, operation_name `unknown`.
 *
 * The code is read from the response as sent, after formatError and the other plugins'
 * willSendResponse: Apollo runs those hooks in the plugins' order, so this plugin goes last.
 */
export function graphqlMetricsPlugin<TContext extends BaseContext>(
  registry: Registry,
  options: GraphQLMetricsOptions<TContext> = {},
): ApolloServerPlugin<TContext> {
  const names = options.operationNames ?? new OperationNames();
  const requests = counterOn<'operation_type' | 'operation_name' | 'code'>(registry, {
    name: `${METRIC_PREFIX}graphql_requests_total`,
    help: 'GraphQL requests by operation type, operation name (bounded) and outcome code (OK or the first error code).',
    labelNames: ['operation_type', 'operation_name', 'code'],
  });
  const duration = histogramOn<'operation_type' | 'operation_name'>(registry, {
    name: `${METRIC_PREFIX}graphql_request_duration_seconds`,
    help: 'GraphQL request duration, from the request reaching Apollo Server to its response, in seconds.',
    labelNames: ['operation_type', 'operation_name'],
    buckets: [...LATENCY_BUCKETS],
  });
  const record = ({ operation, response }: GraphQLRequestContextWillSendResponse<TContext>, start: number) => {
    const labels = {
      operation_type: operation?.operation ?? 'unknown',
      operation_name: operation === undefined ? 'unknown' : names.label(operation.name?.value),
    };
    const errors = response.body.kind === 'single' ? response.body.singleResult.errors : response.body.initialResult.errors;
    requests.inc({ ...labels, code: outcomeCode(errors) });
    duration.observe(labels, secondsSince(start));
  };
  return {
    async requestDidStart({ contextValue }) {
      if (options.ignore?.(contextValue)) return;
      const start = performance.now();
      return {
        async willSendResponse(requestContext) {
          record(requestContext, start);
        },
      };
    },
  };
}
