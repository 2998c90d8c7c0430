import type { IncomingMessage, ServerResponse } from 'node:http';
import { totalmem } from 'node:os';
import {
  collectDefaultMetrics,
  Counter,
  Gauge,
  Histogram,
  Registry,
  type CounterConfiguration,
  type GaugeConfiguration,
  type HistogramConfiguration,
  type Metric,
} from 'prom-client';
import type { HttpRoute } from './http.ts';

// services type their registry through this package, which owns the prom-client dependency
export type { Registry } from 'prom-client';

/**
 * Every metric a process exports starts with this; prom-client's process and Node.js metrics get
 * it too (recs_process_resident_memory_bytes, recs_nodejs_eventloop_lag_seconds...).
 */
export const METRIC_PREFIX = 'recs_';

/**
 * The memory RSS is measured against: the cgroup's limit when one is set (a container's
 * memory.max, which libuv reads for process.constrainedMemory()), else the machine's memory. Not
 * V8's heap limit: the kernel kills a process for its RSS, heap and buffers together.
 */
export function memoryLimitBytes(): number {
  const total = totalmem();
  const constrained = process.constrainedMemory();
  // unconstrained is 0 or UINT64_MAX depending on the platform
  return constrained > 0 && constrained < total ? constrained : total;
}

/**
 * A process's own registry (never prom-client's global one, so tests running several services in
 * one process keep them apart), with the `service` label on every series and the default process
 * metrics. Each process builds one in its metrics module and registers its metrics on it.
 */
export function createRegistry(service: string, options: { defaultMetrics?: boolean } = {}): Registry {
  const registry = new Registry();
  registry.setDefaultLabels({ service });
  if (options.defaultMetrics ?? true) {
    collectDefaultMetrics({ register: registry, prefix: METRIC_PREFIX });
    new Gauge({
      name: `${METRIC_PREFIX}memory_limit_bytes`,
      help: 'The memory limit RSS is measured against: the cgroup memory.max when set, else the machine total.',
      registers: [registry],
      collect() {
        this.set(memoryLimitBytes());
      },
    });
  }
  return registry;
}

/**
 * The registry's metric of that name, created on first use: a metric that several instances feed
 * (every connection of a process, every HTTP server of a test) is registered once.
 */
function metricOn<M extends Metric>(registry: Registry, name: string, create: () => M): M {
  return (registry.getSingleMetric(name) as M | undefined) ?? create();
}

export function counterOn<T extends string>(registry: Registry, config: Omit<CounterConfiguration<T>, 'registers'>): Counter<T> {
  return metricOn(registry, config.name, () => new Counter<T>({ ...config, registers: [registry] }));
}

export function gaugeOn<T extends string>(registry: Registry, config: Omit<GaugeConfiguration<T>, 'registers'>): Gauge<T> {
  return metricOn(registry, config.name, () => new Gauge<T>({ ...config, registers: [registry] }));
}

export function histogramOn<T extends string>(registry: Registry, config: Omit<HistogramConfiguration<T>, 'registers'>): Histogram<T> {
  return metricOn(registry, config.name, () => new Histogram<T>({ ...config, registers: [registry] }));
}

/** Seconds since a `performance.now()` reading, for histograms. */
export function secondsSince(start: number): number {
  return (performance.now() - start) / 1_000;
}

/**
 * Request latencies, in seconds: 5 ms to 10 s (prom-client's defaults), plus 25 and 60 s for
 * requests that wait on a subgraph's timeout.
 */
export const LATENCY_BUCKETS: readonly number[] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 25, 60];

/** GET /metrics in Prometheus' text format, for createGraphQLHttpServer's routes. */
export function metricsRoute(registry: Registry): HttpRoute {
  return {
    prefix: '/metrics',
    handle: async (_req: IncomingMessage, res: ServerResponse) => {
      const text = await registry.metrics();
      res.writeHead(200, { 'content-type': registry.contentType });
      res.end(text);
    },
  };
}

/**
 * Freshness, in seconds, 5 ms to 30 s: fine where the promise lives (tens to hundreds of ms, 1 s),
 * so histogram_quantile's interpolation stays close to the measured p50 and p99. The gateway's
 * recs_freshness_delivered_seconds and the workers' recs_freshness_published_seconds share them.
 */
export const FRESHNESS_BUCKETS: readonly number[] = [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.5, 0.75, 1, 1.5, 2, 3, 5, 10, 30];
