import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';

/**
 * The docker-compose stack and the files it mounts agree: every mounted file exists, Prometheus
 * scrapes every service on the port it listens on, Alertmanager routes to receivers it defines,
 * and the dashboard uses the provisioned datasource. (That the dashboard's queries return data
 * is e2e/test/observability.e2e.test.ts, against a real Prometheus.)
 */
const ROOT = join(import.meta.dirname, '..', '..');
const read = (path: string) => readFileSync(join(ROOT, path), 'utf8');
const yaml = <T>(path: string) => parse(read(path), { merge: true }) as T;

interface ComposeService {
  command?: string[];
  environment?: Record<string, string>;
  volumes?: string[];
}
const compose = yaml<{ services: Record<string, ComposeService> }>('docker-compose.yml');

/** The application services and their ports: PORT in compose, else the workers' default metrics port. */
const APP_PORTS: Record<string, number> = {
  gateway: Number(compose.services['gateway']?.environment?.['PORT']),
  products: Number(compose.services['products']?.environment?.['PORT']),
  events: Number(compose.services['events']?.environment?.['PORT']),
  recommendations: Number(compose.services['recommendations']?.environment?.['PORT']),
  workers: Number(compose.services['workers']?.environment?.['WORKERS_PORT'] ?? 4004),
};

describe('docker-compose.yml', () => {
  it('runs Prometheus, Alertmanager and Grafana next to the application', () => {
    expect(Object.keys(compose.services)).toEqual(expect.arrayContaining(['prometheus', 'alertmanager', 'grafana', ...Object.keys(APP_PORTS)]));
  });

  it('mounts only files and folders that exist', () => {
    const mounts = Object.values(compose.services).flatMap((service) => (service.volumes ?? []).filter((volume) => volume.startsWith('./')));
    expect(mounts.length).toBeGreaterThanOrEqual(5);
    for (const mount of mounts) expect(existsSync(join(ROOT, mount.split(':')[0]!)), mount).toBe(true);
  });
});

describe('deploy/prometheus/prometheus.yml', () => {
  interface ScrapeConfig {
    job_name: string;
    static_configs?: { targets: string[] }[];
    dns_sd_configs?: { names: string[]; type: string; port: number }[];
  }
  const config = yaml<{ scrape_configs: ScrapeConfig[]; alerting: { alertmanagers: { static_configs: { targets: string[] }[] }[] } }>(
    'deploy/prometheus/prometheus.yml',
  );

  it('scrapes every application service by its compose name and port, each replica of the replicated ones', () => {
    for (const [service, port] of Object.entries(APP_PORTS)) {
      const job = config.scrape_configs.find((scrape) => scrape.job_name === service);
      expect(job, service).toBeDefined();
      const targets = [
        ...(job!.static_configs ?? []).flatMap((s) => s.targets),
        ...(job!.dns_sd_configs ?? []).flatMap((d) => d.names.map((name) => `${name}:${d.port}`)),
      ];
      expect(targets).toEqual([`${service}:${port}`]);
    }
    for (const replicated of ['gateway', 'workers']) {
      expect(config.scrape_configs.find((scrape) => scrape.job_name === replicated)?.dns_sd_configs?.[0]?.type).toBe('A');
    }
  });

  it('sends alerts to the compose Alertmanager', () => {
    expect(config.alerting.alertmanagers.flatMap((a) => a.static_configs.flatMap((s) => s.targets))).toEqual(['alertmanager:9093']);
  });
});

describe('deploy/alertmanager/alertmanager.yml', () => {
  interface Route {
    receiver?: string;
    routes?: Route[];
  }
  const config = yaml<{ route: Route; receivers: { name: string }[] }>('deploy/alertmanager/alertmanager.yml');
  const receiversOf = (route: Route): string[] => [...(route.receiver === undefined ? [] : [route.receiver]), ...(route.routes ?? []).flatMap(receiversOf)];

  it('routes only to receivers it defines', () => {
    const defined = config.receivers.map((receiver) => receiver.name);
    for (const receiver of receiversOf(config.route)) expect(defined).toContain(receiver);
  });
});

describe('deploy/grafana', () => {
  interface Panel {
    id: number;
    type: string;
    title: string;
    datasource?: { uid: string };
    targets?: { expr: string; datasource?: { uid: string } }[];
  }
  const dashboard = JSON.parse(read('deploy/grafana/dashboards/recs.json')) as { schemaVersion: number; uid: string; panels: Panel[] };
  const datasources = yaml<{ datasources: { uid: string; url: string }[] }>('deploy/grafana/provisioning/datasources/prometheus.yml').datasources;

  it('provisions the compose Prometheus as the datasource', () => {
    expect(datasources).toEqual([expect.objectContaining({ uid: 'prometheus', url: 'http://prometheus:9090' })]);
  });

  it('has the four rows, unique panel ids, and every query on the provisioned datasource', () => {
    expect(dashboard.schemaVersion).toBeGreaterThanOrEqual(39);
    expect(dashboard.panels.filter((panel) => panel.type === 'row').map((panel) => panel.title)).toEqual(['Overview', 'Pipeline', 'Data stores', 'Processes']);
    const ids = dashboard.panels.map((panel) => panel.id);
    expect(new Set(ids).size).toBe(ids.length);
    for (const panel of dashboard.panels.filter((p) => p.type !== 'row')) {
      expect(panel.targets?.length, panel.title).toBeGreaterThan(0);
      for (const target of [panel, ...(panel.targets ?? [])]) expect(target.datasource?.uid, panel.title).toBe('prometheus');
    }
  });
});
