import { EVENT_TYPE_NAMES, type TrackedEventType } from '@recs/engine';
import { counterOn, histogramOn, LATENCY_BUCKETS, METRIC_PREFIX, type Registry } from '@recs/shared';
import type { AttributedEvent, Rejected } from './ingest.ts';

/** Batch sizes, in events: single events up to the 1,000 a call may carry (MAX_BATCH). */
const BATCH_BUCKETS = [1, 2, 5, 10, 25, 50, 100, 250, 500, 1_000];

/**
 * The events subgraph's ingestion metrics, in one place; the Ingestor records into them.
 * - recs_events_accepted_total{type}: events stored for the first time (control events too,
 *   under their own types);
 * - recs_events_duplicate_total: events already recorded for their user;
 * - recs_events_rejected_total{reason}: the RejectedEvent code (FORBIDDEN, NOT_STORED, ...);
 * - recs_ingest_batch_size_events: events per trackEvent(s) call, as sent;
 * - recs_ingest_durable_seconds: from the call's start to its events being durable in MongoDB;
 * - recs_recommendation_attributed_events_total{type,strategy,variant,model}: events newly stored
 *   with a recommendationId, by type and what their list was (strategy, serving variant, model
 *   version; the recommendations subgraph's recs_recommendation_impressions_total has the same labels).
 */
export class IngestMetrics {
  private readonly acceptedTotal;
  private readonly duplicateTotal;
  private readonly rejectedTotal;
  private readonly batchSize;
  private readonly durable;
  private readonly attributedTotal;

  constructor(registry: Registry) {
    this.acceptedTotal = counterOn<'type'>(registry, {
      name: `${METRIC_PREFIX}events_accepted_total`,
      help: 'Events accepted (stored for the first time), by event type.',
      labelNames: ['type'],
    });
    // every client event type's series from the start, so events/s has data before a first event
    for (const type of EVENT_TYPE_NAMES) this.acceptedTotal.inc({ type }, 0);
    this.duplicateTotal = counterOn(registry, {
      name: `${METRIC_PREFIX}events_duplicate_total`,
      help: 'Events not stored again: their eventId was already recorded for their user.',
    });
    this.rejectedTotal = counterOn<'reason'>(registry, {
      name: `${METRIC_PREFIX}events_rejected_total`,
      help: 'Events refused, by reason (the RejectedEvent code: validation codes, FORBIDDEN, NOT_STORED).',
      labelNames: ['reason'],
    });
    this.batchSize = histogramOn(registry, {
      name: `${METRIC_PREFIX}ingest_batch_size_events`,
      help: 'Events per tracking call, as sent (valid or not).',
      buckets: BATCH_BUCKETS,
    });
    this.durable = histogramOn(registry, {
      name: `${METRIC_PREFIX}ingest_durable_seconds`,
      help: "Time from a tracking call's start to its events being durable in MongoDB, in seconds.",
      buckets: [...LATENCY_BUCKETS],
    });
    this.attributedTotal = counterOn<'type' | 'strategy' | 'variant' | 'model'>(registry, {
      name: `${METRIC_PREFIX}recommendation_attributed_events_total`,
      help: "Events newly stored with a recommendationId, by event type and their list's strategy, serving variant and model version.",
      labelNames: ['type', 'strategy', 'variant', 'model'],
    });
  }

  batch(size: number): void {
    this.batchSize.observe(size);
  }

  accepted(events: readonly { readonly type: TrackedEventType }[]): void {
    const byType = new Map<string, number>();
    for (const { type } of events) byType.set(type, (byType.get(type) ?? 0) + 1);
    for (const [type, count] of byType) this.acceptedTotal.inc({ type }, count);
  }

  duplicates(count: number): void {
    if (count > 0) this.duplicateTotal.inc(count);
  }

  rejected(rejected: readonly Rejected[]): void {
    for (const { code } of rejected) this.rejectedTotal.inc({ reason: code });
  }

  /** Label values come from signed ids only (variants and models the recommendations subgraph serves): a small set. */
  attributed(events: readonly AttributedEvent[]): void {
    for (const { event, served } of events) {
      this.attributedTotal.inc({ type: event.type, strategy: served.strategy, variant: served.variant, model: served.model });
    }
  }

  durableAfter(seconds: number): void {
    this.durable.observe(seconds);
  }
}
