import { rmSync } from 'node:fs';
import { ensurePrometheus, freePort, prometheusConfig, startPrometheus, type PrometheusQueryResponse, type PrometheusServer } from '@recs/devkit';

/** Scrape interval, seconds: short, so a phase of tens of seconds has tens of samples. */
const SCRAPE_SECONDS = 1;

/** Server-side freshness of one phase window, from the gateway's histogram (milliseconds). */
export interface PrometheusFreshness {
  /** The window queried: [endMs - windowSeconds, endMs], epoch milliseconds, evaluated at endMs. */
  readonly startMs: number;
  readonly endMs: number;
  readonly windowSeconds: number;
  /** Deliveries the histogram counted in the window (increase of _count, extrapolated by Prometheus). */
  readonly deliveries: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  /** The PromQL of each figure, to paste into the Prometheus UI. */
  readonly queries: Readonly<Record<'p50' | 'p99' | 'deliveries', string>>;
}

export interface BenchPrometheus {
  readonly url: string;
  /**
   * p50 / p99 of recs_freshness_delivered_seconds{field} over exactly [startMs, endMs], once a
   * scrape after endMs is stored (Prometheus announces nothing, so this polls).
   */
  freshness(field: string, startMs: number, endMs: number): Promise<PrometheusFreshness>;
  /** job → the health of its scrape target now ('up', 'down', 'unknown'), to show every process is scraped. */
  targets(): Promise<Readonly<Record<string, string>>>;
  /** Stops Prometheus and removes its data. */
  stop(): Promise<void>;
}

/**
 * A real Prometheus (devkit's helpers) scraping every bench process's /metrics every second, its
 * config and TSDB in `dir` (removed by stop()). Resolves to undefined, after saying why in one
 * line, when the binary is missing and cannot be installed, or Prometheus does not start: the
 * bench runs without the server-side figures then.
 */
export async function startBenchPrometheus({
  dir,
  ports,
  log,
}: {
  dir: string;
  /** service (job) → the port of its /metrics on 127.0.0.1. */
  ports: Readonly<Record<string, number>>;
  log: (message: string) => void;
}): Promise<BenchPrometheus | undefined> {
  let server: PrometheusServer;
  try {
    const binary = await ensurePrometheus(log);
    const targets = Object.fromEntries(Object.entries(ports).map(([service, port]) => [service, `http://127.0.0.1:${port}/metrics`]));
    server = await startPrometheus({ binary, dir, port: await freePort(), config: prometheusConfig({ targets, scrapeInterval: `${SCRAPE_SECONDS}s` }) });
  } catch (error) {
    log(`Prometheus skipped (no server-side freshness figures): ${(error as Error).message}`);
    rmSync(dir, { recursive: true, force: true });
    return undefined;
  }
  log(`Prometheus ${server.url} scrapes ${Object.keys(ports).join(', ')} every ${SCRAPE_SECONDS} s`);

  const at = async (expr: string, timeMs: number): Promise<number> => {
    const answer = await server.api<PrometheusQueryResponse>(`/api/v1/query?${new URLSearchParams({ query: expr, time: String(timeMs / 1_000) })}`);
    if (answer.status !== 'success') throw new Error(`${expr}: ${answer.error ?? 'query failed'}`);
    const sample = answer.data?.resultType === 'vector' ? (answer.data.result as readonly { value: readonly [number, string] }[])[0] : undefined;
    // no sample (no series) and NaN (no observation in the window) both mean "no figure"
    return sample === undefined ? Number.NaN : Number(sample.value[1]);
  };

  return {
    url: server.url,
    async freshness(field, startMs, endMs) {
      const selector = `{field="${field}",service="gateway"}`;
      // the scrape that sees the last deliveries of the phase must be stored before asking
      await server.waitFor(
        `timestamp(recs_freshness_delivered_seconds_count${selector})`,
        (samples) => samples.some((s) => Number(s.value[1]) * 1_000 >= endMs),
        10 * SCRAPE_SECONDS * 1_000 + 10_000,
      );
      const windowSeconds = Math.max(SCRAPE_SECONDS * 2, Math.round((endMs - startMs) / 1_000));
      const bucketsIncrease = `sum by (le) (increase(recs_freshness_delivered_seconds_bucket${selector}[${windowSeconds}s]))`;
      const queries = {
        p50: `histogram_quantile(0.5, ${bucketsIncrease})`,
        p99: `histogram_quantile(0.99, ${bucketsIncrease})`,
        deliveries: `sum(increase(recs_freshness_delivered_seconds_count${selector}[${windowSeconds}s]))`,
      };
      const ms = (seconds: number) => Math.round(seconds * 10_000) / 10;
      return {
        startMs: endMs - windowSeconds * 1_000,
        endMs,
        windowSeconds,
        deliveries: Math.round(await at(queries.deliveries, endMs)),
        p50Ms: ms(await at(queries.p50, endMs)),
        p99Ms: ms(await at(queries.p99, endMs)),
        queries,
      };
    },
    async targets() {
      const answer = await server.api<{ data: { activeTargets: { labels: { job: string }; health: string }[] } }>('/api/v1/targets');
      return Object.fromEntries(answer.data.activeTargets.map((t) => [t.labels.job, t.health]));
    },
    async stop() {
      await server.process.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
