import { join } from 'node:path';
import { ensurePrometheus, freePort, portAnswers, prometheusConfig, startPrometheus, type ManagedProcess } from '@recs/devkit';

/** The two graphs a newcomer wants first: throughput and the freshness promise. */
const GRAPHS = {
  'events/s accepted': 'sum by (type) (rate(recs_events_accepted_total[1m]))',
  'freshness p99 (event accepted → subscriber)': 'histogram_quantile(0.99, sum by (le, field) (rate(recs_freshness_delivered_seconds_bucket[1m])))',
};

export interface LocalPrometheus {
  readonly process: ManagedProcess;
  /** Lines for the "system is running" banner: the URL and the ready-made graph links. */
  readonly banner: string;
}

/**
 * The alerts page of this Prometheus: `/alerts`, or `/classic/alerts` on a build without the
 * React UI (Debian's package), where `/alerts` is not found (`/graph` redirects by itself).
 */
async function alertsPage(url: string): Promise<string> {
  const response = await fetch(`${url}/alerts`).catch(() => undefined);
  await response?.body?.cancel();
  return response?.ok === false && response.status === 404 ? `${url}/classic/alerts` : `${url}/alerts`;
}

/**
 * npm start's Prometheus: scrapes every process on 127.0.0.1 every 5 s with the alert rules of
 * deploy/prometheus/alerts.yml, its data in `dir` (kept between runs, 7 days). The binary comes
 * from PATH (installed with apt-get as root when missing); without it, or when it fails, npm start
 * goes on without metrics and says so in one line.
 */
export async function startLocalPrometheus({
  root,
  dir,
  ports,
  say,
}: {
  root: string;
  dir: string;
  /** service → the port of its /metrics (the gateway's and subgraphs' HTTP port, the workers' WORKERS_PORT). */
  ports: Readonly<Record<string, number>>;
  say: (message: string) => void;
}): Promise<LocalPrometheus | undefined> {
  try {
    const binary = await ensurePrometheus(say);
    const wanted = Number(process.env['PROMETHEUS_PORT'] ?? 9090);
    // e.g. Debian's prometheus service already on 9090: ours takes another port rather than fail
    const port = (await portAnswers(wanted)) ? await freePort() : wanted;
    if (port !== wanted) say(`port ${wanted} is in use: Prometheus listens on ${port} instead (PROMETHEUS_PORT sets it)`);
    const targets = Object.fromEntries(Object.entries(ports).map(([service, p]) => [service, `http://127.0.0.1:${p}/metrics`]));
    const prometheus = await startPrometheus({
      binary,
      dir,
      port,
      config: prometheusConfig({ targets, scrapeInterval: '5s', ruleFiles: [join(root, 'deploy', 'prometheus', 'alerts.yml')] }),
    });
    const url = `http://127.0.0.1:${port}`;
    const alerts = await alertsPage(url);
    const graph = (expr: string) => `${url}/graph?${new URLSearchParams({ 'g0.expr': expr, 'g0.tab': '0', 'g0.range_input': '15m' })}`;
    const links = Object.entries(GRAPHS).map(([title, expr]) => `    ${title}:\n      ${graph(expr)}`);
    return {
      process: prometheus.process,
      banner: [`  Prometheus (scrapes every process every 5 s; alerts at ${alerts}):  ${url}/graph`, ...links].join('\n'),
    };
  } catch (error) {
    say(`Prometheus skipped: ${(error as Error).message}`);
    return undefined;
  }
}
