import {
  counterOn,
  createRegistry,
  FRESHNESS_BUCKETS,
  gaugeOn,
  histogramOn,
  LATENCY_BUCKETS,
  LIVE_FIELDS,
  METRIC_PREFIX,
  outcomeCode,
  type Registry,
} from '@recs/shared';
import { CloseCode } from 'graphql-ws';
import type { ChangeTimes } from './subscriptions/latest.ts';
import { LimitCloseCode } from './subscriptions/limits.ts';

/** How a hydration ended (recs_hydrations_total's outcome). */
export const HYDRATION_OUTCOMES = ['delivered', 'unchanged', 'behind', 'transient_error', 'permanent_error'] as const;
export type HydrationOutcome = (typeof HYDRATION_OUTCOMES)[number];

/**
 * WebSocket close codes reported as they are: the protocol's, graphql-ws's and ours
 * (LimitCloseCode); a client may close with any code of 3000-4999, which would be a series each.
 */
const KNOWN_CLOSE_CODES = new Set<number>([
  1000,
  1001,
  1005,
  1006,
  1008,
  1009,
  1011,
  1012,
  ...Object.values(LimitCloseCode),
  ...Object.values(CloseCode).filter((code) => typeof code === 'number'),
]);

export function closeCodeLabel(code: number): string {
  return KNOWN_CLOSE_CODES.has(code) ? String(code) : 'other';
}

/**
 * The gateway's metrics, in one place (the GraphQL and HTTP ones come from @recs/shared's plugin
 * and HTTP server). Subgraph names and live fields are fixed sets (the supergraph, LIVE_FIELDS).
 */
export class GatewayMetrics {
  readonly registry: Registry;
  private readonly fetchDuration;
  private readonly fetchErrors;
  private readonly subscriptionsActive;
  private readonly hydrations;
  private readonly hydrationDuration;
  private readonly coalescedPayloads;
  private readonly droppedPayloads;
  private readonly wsOpened;
  private readonly wsClosed;
  private readonly freshness;
  private readonly changeDelivery;

  /** Without a registry, one of its own without process metrics (tests, a hub on its own). */
  constructor(registry: Registry = createRegistry('gateway', { defaultMetrics: false })) {
    this.registry = registry;
    this.fetchDuration = histogramOn<'subgraph'>(registry, {
      name: `${METRIC_PREFIX}subgraph_fetch_duration_seconds`,
      help: 'Duration of each fetch from the gateway to a subgraph, in seconds.',
      labelNames: ['subgraph'],
      buckets: [...LATENCY_BUCKETS],
    });
    this.fetchErrors = counterOn<'subgraph' | 'code'>(registry, {
      name: `${METRIC_PREFIX}subgraph_fetch_errors_total`,
      help: "Subgraph fetches that failed or answered with errors, by subgraph and the first error's code.",
      labelNames: ['subgraph', 'code'],
    });
    this.subscriptionsActive = gaugeOn<'field'>(registry, {
      name: `${METRIC_PREFIX}subscriptions_active`,
      help: 'Live subscriptions open on this replica, by subscription field.',
      labelNames: ['field'],
    });
    this.hydrations = counterOn<'field' | 'outcome'>(registry, {
      name: `${METRIC_PREFIX}hydrations_total`,
      help: 'Hydrations of a change (one per selection and variables), by field and outcome: delivered, unchanged, behind (read older than the change announced; read again), transient_error, permanent_error.',
      labelNames: ['field', 'outcome'],
    });
    this.hydrationDuration = histogramOn<'field'>(registry, {
      name: `${METRIC_PREFIX}hydration_duration_seconds`,
      help: "Duration of a hydration (the subscriber's selection run on the query twin), in seconds.",
      labelNames: ['field'],
      buckets: [...LATENCY_BUCKETS],
    });
    this.coalescedPayloads = counterOn<'field'>(registry, {
      name: `${METRIC_PREFIX}subscription_payloads_coalesced_total`,
      help: 'Changes covered by a hydration already queued or running (no hydration of their own).',
      labelNames: ['field'],
    });
    this.droppedPayloads = counterOn<'field'>(registry, {
      name: `${METRIC_PREFIX}subscription_payloads_dropped_total`,
      help: "Results replaced in a slow subscriber's one-slot outbox before they were sent.",
      labelNames: ['field'],
    });
    this.wsOpened = counterOn(registry, {
      name: `${METRIC_PREFIX}websocket_connections_opened_total`,
      help: 'WebSocket connections accepted on /graphql.',
    });
    this.wsClosed = counterOn<'code'>(registry, {
      name: `${METRIC_PREFIX}websocket_connections_closed_total`,
      help: 'WebSocket connections closed, by close code (unknown application codes as "other").',
      labelNames: ['code'],
    });
    this.freshness = histogramOn<'field'>(registry, {
      name: `${METRIC_PREFIX}freshness_delivered_seconds`,
      help: "From the oldest event behind a change being accepted (acceptedAt) to the result being handed to the subscriber's socket, in seconds.",
      labelNames: ['field'],
      buckets: [...FRESHNESS_BUCKETS],
    });
    this.changeDelivery = histogramOn<'field'>(registry, {
      name: `${METRIC_PREFIX}change_delivery_seconds`,
      help: "From a change being published on Redis (the message's at) to the result being handed to the subscriber's socket, in seconds.",
      labelNames: ['field'],
      buckets: [...FRESHNESS_BUCKETS],
    });
    // every live field's series from the start, so rates and panels have data before a first event
    for (const field of Object.keys(LIVE_FIELDS)) {
      this.subscriptionsActive.set({ field }, 0);
      for (const outcome of HYDRATION_OUTCOMES) this.hydrations.inc({ field, outcome }, 0);
      this.coalescedPayloads.inc({ field }, 0);
      this.droppedPayloads.inc({ field }, 0);
      for (const histogram of [this.hydrationDuration, this.freshness, this.changeDelivery]) histogram.zero({ field });
    }
  }

  subgraphFetch(subgraph: string, seconds: number, errors?: readonly { readonly extensions?: Readonly<Record<string, unknown>> }[]): void {
    this.fetchDuration.observe({ subgraph }, seconds);
    if (errors !== undefined && errors.length > 0) this.fetchErrors.inc({ subgraph, code: outcomeCode(errors) });
  }

  subscribed(field: string): void {
    this.subscriptionsActive.inc({ field });
  }

  unsubscribed(field: string): void {
    this.subscriptionsActive.dec({ field });
  }

  hydrated(field: string, outcome: HydrationOutcome, seconds: number): void {
    this.hydrations.inc({ field, outcome });
    this.hydrationDuration.observe({ field }, seconds);
  }

  coalesced(field: string): void {
    this.coalescedPayloads.inc({ field });
  }

  dropped(field: string): void {
    this.droppedPayloads.inc({ field });
  }

  /** A result handed to a subscriber's socket, for the changes of `times`. */
  delivered(field: string, times: ChangeTimes | undefined, now = Date.now()): void {
    if (times?.acceptedAt !== undefined) this.freshness.observe({ field }, Math.max(0, now - times.acceptedAt) / 1_000);
    if (times?.publishedAt !== undefined) this.changeDelivery.observe({ field }, Math.max(0, now - times.publishedAt) / 1_000);
  }

  connectionOpened(): void {
    this.wsOpened.inc();
  }

  connectionClosed(code: number): void {
    this.wsClosed.inc({ code: closeCodeLabel(code) });
  }
}
