import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../src/services/ports.ts';
import { ensurePrometheus, prometheusConfig, startPrometheus, type PrometheusServer } from '../src/services/prometheus.ts';

/**
 * The Prometheus helper npm start and the observability e2e test share, against the real binary:
 * a generated config that promtool accepts, scraping a small /metrics endpoint.
 */
let exporter: Server;
let exporterUrl: string;
let prometheus: PrometheusServer;
let dir: string;
let scrapes = 0;

beforeAll(async () => {
  exporter = createServer((req, res) => {
    if (req.url !== '/custom/metrics') {
      res.writeHead(404).end();
      return;
    }
    scrapes++;
    res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' });
    res.end(`# HELP recs_test_scrapes_total Scrapes served.\n# TYPE recs_test_scrapes_total counter\nrecs_test_scrapes_total{service="probe"} ${scrapes}\n`);
  });
  await new Promise<void>((resolve) => exporter.listen(0, '127.0.0.1', resolve));
  exporterUrl = `http://127.0.0.1:${(exporter.address() as AddressInfo).port}/custom/metrics`;
  dir = mkdtempSync(join(tmpdir(), 'recs-prometheus-'));
  prometheus = await startPrometheus({
    binary: await ensurePrometheus(() => undefined),
    dir,
    port: await freePort(),
    config: prometheusConfig({ targets: { probe: exporterUrl }, scrapeInterval: '1s' }),
  });
});

afterAll(async () => {
  await prometheus?.process.stop();
  await new Promise((resolve) => exporter?.close(resolve));
  rmSync(dir, { recursive: true, force: true });
});

describe('prometheusConfig', () => {
  it('makes one job per service with the metrics path and host:port of each URL', () => {
    expect(
      prometheusConfig({
        targets: { gateway: ['http://127.0.0.1:4000/metrics', 'http://127.0.0.1:4100/metrics'] },
        scrapeInterval: '5s',
        ruleFiles: ['/r.yml'],
      }),
    ).toEqual({
      global: { scrape_interval: '5s', evaluation_interval: '5s', scrape_timeout: '5s' },
      rule_files: ['/r.yml'],
      scrape_configs: [{ job_name: 'gateway', metrics_path: '/metrics', scheme: 'http', static_configs: [{ targets: ['127.0.0.1:4000', '127.0.0.1:4100'] }] }],
    });
  });

  it('writes a file promtool accepts', async () => {
    const { stdout } = await promisify(execFile)('promtool', ['check', 'config', prometheus.configFile]);
    expect(stdout).toContain('is valid prometheus config file syntax');
  });
});

describe('startPrometheus', () => {
  it('scrapes the target every second, with job and service labels', async () => {
    const samples = await prometheus.waitFor('recs_test_scrapes_total', (found) => found.some((s) => Number(s.value[1]) >= 2));
    expect(samples.map((s) => s.metric)).toEqual([
      { __name__: 'recs_test_scrapes_total', job: 'probe', service: 'probe', instance: new URL(exporterUrl).host },
    ]);
    const up = await prometheus.query('up{job="probe"}');
    expect(up).toMatchObject({ status: 'success', data: { resultType: 'vector', result: [{ value: [expect.any(Number), '1'] }] } });
  });

  it('answers a bad expression with status error', async () => {
    expect(await prometheus.query('sum(rate(recs_test_scrapes_total[1m])')).toMatchObject({ status: 'error', errorType: 'bad_data' });
  });
});
