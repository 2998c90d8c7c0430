import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { isRoot, run, which, type Log } from './commands.ts';
import { startProcess, waitUntilReady, type ManagedProcess } from './process.ts';

/** Finds prometheus on PATH, installing Debian's package (which brings promtool) when missing and running as root. */
export async function ensurePrometheus(log: Log): Promise<string> {
  const found = which('prometheus');
  if (found !== undefined) return found;
  if (!isRoot() || which('apt-get') === undefined) {
    throw new Error('prometheus is not installed (Debian/Ubuntu: apt-get install -y --no-install-recommends prometheus)');
  }
  log('prometheus not found: installing it with apt-get (one time)');
  await run('apt-get', ['update', '-q'], { maxBuffer: 64 * 1024 * 1024 });
  // without recommends: the node exporter and the other exporters are not needed here
  await run('apt-get', ['install', '-y', '-q', '--no-install-recommends', 'prometheus'], {
    env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
    maxBuffer: 64 * 1024 * 1024,
  });
  const installed = which('prometheus');
  if (installed === undefined) throw new Error('apt-get installed prometheus but it is not on PATH');
  return installed;
}

/** job name (the service) → the URL(s) of its /metrics. */
export type ScrapeTargets = Readonly<Record<string, string | readonly string[]>>;

export interface PrometheusConfigOptions {
  readonly targets: ScrapeTargets;
  /** Prometheus duration, e.g. '1s' in tests, '5s' for npm start. */
  readonly scrapeInterval: string;
  /** Absolute paths of rule files (deploy/prometheus/alerts.yml). */
  readonly ruleFiles?: readonly string[];
}

/**
 * A Prometheus configuration scraping every target every `scrapeInterval`, rules evaluated as
 * often. JSON is YAML, so the object is written as JSON; one job per service, as in
 * deploy/prometheus/prometheus.yml, so the `job` label means the same everywhere.
 */
export function prometheusConfig({ targets, scrapeInterval, ruleFiles = [] }: PrometheusConfigOptions): Record<string, unknown> {
  return {
    global: { scrape_interval: scrapeInterval, evaluation_interval: scrapeInterval, scrape_timeout: scrapeInterval },
    rule_files: ruleFiles,
    scrape_configs: Object.entries(targets).map(([job, urls]) => {
      const parsed = (typeof urls === 'string' ? [urls] : urls).map((url) => new URL(url));
      const paths = new Set(parsed.map((url) => url.pathname));
      if (paths.size !== 1) throw new Error(`${job}: every /metrics URL of one job must have the same path`);
      return {
        job_name: job,
        metrics_path: [...paths][0],
        scheme: parsed[0]!.protocol.replace(':', ''),
        static_configs: [{ targets: parsed.map((url) => url.host) }],
      };
    }),
  };
}

/** One sample of an instant query. */
export interface PrometheusSample {
  readonly metric: Readonly<Record<string, string>>;
  readonly value: readonly [number, string];
}

/** The body of GET /api/v1/query (https://prometheus.io/docs/prometheus/latest/querying/api/). */
export interface PrometheusQueryResponse {
  readonly status: 'success' | 'error';
  readonly data?: { readonly resultType: 'vector' | 'matrix' | 'scalar' | 'string'; readonly result: readonly PrometheusSample[] | readonly unknown[] };
  readonly errorType?: string;
  readonly error?: string;
}

export interface PrometheusServer {
  /** http://127.0.0.1:port */
  readonly url: string;
  readonly port: number;
  readonly configFile: string;
  readonly process: ManagedProcess;
  /** An instant query at the current time; resolves to the API's answer (status 'error' for a bad expression). */
  query(expr: string): Promise<PrometheusQueryResponse>;
  /** GET of another API path (e.g. /api/v1/targets), parsed as JSON. */
  api<T>(path: string): Promise<T>;
  /**
   * Polls `query(expr)` until `accept` holds for its samples (Prometheus scrapes and evaluates on
   * its own clock and announces nothing, so polling is the only signal); throws after timeoutMs.
   * `expr` may be a function, for an expression that depends on the time it is asked.
   */
  waitFor(expr: string | (() => string), accept: (samples: readonly PrometheusSample[]) => boolean, timeoutMs?: number): Promise<readonly PrometheusSample[]>;
}

/**
 * Starts prometheus on 127.0.0.1:port with its config (written to dir/prometheus.yml) and its
 * TSDB under dir/data; resolves once /-/ready answers (the TSDB is open and the config loaded).
 */
export async function startPrometheus({
  binary,
  dir,
  port,
  config,
  retention = '7d',
}: {
  binary: string;
  dir: string;
  port: number;
  config: Record<string, unknown>;
  retention?: string;
}): Promise<PrometheusServer> {
  mkdirSync(dir, { recursive: true });
  const configFile = join(dir, 'prometheus.yml');
  writeFileSync(configFile, `${JSON.stringify(config, null, 2)}\n`);
  const logFile = join(dir, 'prometheus.log');
  const url = `http://127.0.0.1:${port}`;
  const proc = startProcess(
    'prometheus',
    binary,
    [
      `--config.file=${configFile}`,
      `--storage.tsdb.path=${join(dir, 'data')}`,
      `--storage.tsdb.retention.time=${retention}`,
      `--web.listen-address=127.0.0.1:${port}`,
    ],
    { logFile },
  );
  const ready = async () => {
    try {
      return (await fetch(`${url}/-/ready`)).ok;
    } catch {
      return false;
    }
  };
  await waitUntilReady(proc, ready, { timeoutMs: 30_000, logFile });
  const api = async <T>(path: string): Promise<T> => (await (await fetch(`${url}${path}`)).json()) as T;
  const query = (expr: string) => api<PrometheusQueryResponse>(`/api/v1/query?${new URLSearchParams({ query: expr })}`);
  return {
    url,
    port,
    configFile,
    process: proc,
    api,
    query,
    async waitFor(expr, accept, timeoutMs = 30_000) {
      const deadline = Date.now() + timeoutMs;
      let last: PrometheusQueryResponse | undefined;
      let asked = '';
      while (Date.now() < deadline) {
        asked = typeof expr === 'string' ? expr : expr();
        last = await query(asked);
        if (last.status !== 'success') throw new Error(`${asked}: ${last.error ?? 'query failed'}`);
        const samples = last.data?.resultType === 'vector' ? (last.data.result as readonly PrometheusSample[]) : [];
        if (accept(samples)) return samples;
        await delay(250);
      }
      throw new Error(`${asked} did not give the expected samples within ${timeoutMs} ms; last answer: ${JSON.stringify(last?.data)}`);
    },
  };
}
