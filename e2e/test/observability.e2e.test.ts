import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensurePrometheus, freePort, prometheusConfig, startPrometheus, type PrometheusSample, type PrometheusServer } from '@recs/devkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { nextResult, startSystem, type System } from '../src/system.ts';

/**
 * The operator's view, against a real Prometheus: the whole system under a short load, scraped
 * every second, then every query of the Grafana dashboard (deploy/grafana/dashboards/recs.json)
 * and every rule of deploy/prometheus/alerts.yml is run through Prometheus' API. A panel whose
 * query does not parse or returns nothing would show an error or "No data" in Grafana.
 */
const DEPLOY = join(import.meta.dirname, '..', '..', 'deploy');
const ALERT_RULES = join(DEPLOY, 'prometheus', 'alerts.yml');
const CONTRACT_ALERTS = [
  'FreshnessP99High',
  'BacklogGrowing',
  'NoAggregationLeader',
  'FailedJobs',
  'HighErrorRate',
  'MongoDBDown',
  'RedisDown',
  'MemoryNearLimit',
];

/**
 * Series that exist only once something failed (a counter's labels are known only when it is
 * incremented, and the label values are not a fixed set): their panels must parse, and their
 * metric must be exported (its HELP/TYPE is in Prometheus' metadata), but a healthy run has no data.
 */
const ONLY_AFTER_FAILURES = new Set(['recs_mongodb_command_errors_total']);

/** Grafana's variables, as Grafana would fill them for a short range at a 1 s scrape interval. */
const GRAFANA_VARIABLES: Record<string, string> = { $__rate_interval: '1m', $__interval: '1s', $__range: '5m' };

const CATALOG = [
  { id: 'mug', name: 'Enamel mug', categoryId: 'kitchen', categoryName: 'Kitchen & Dining', price: 4.95 },
  { id: 'teapot', name: 'Blue teapot', categoryId: 'kitchen', categoryName: 'Kitchen & Dining', price: 12.5 },
  { id: 'candle', name: 'Beeswax candle', categoryId: 'lights', categoryName: 'Candles & Lights', price: 3.2 },
];
const TRACK = `mutation Track($e: [TrackEventInput!]!) { trackEvents(inputs: $e) { accepted duplicates rejected { index code } } }`;
const LIVE_LIST = `subscription Live($user: ID!) { recommendationsChanged(userId: $user) { version items { product { id name } } } }`;

interface Panel {
  type: string;
  title: string;
  targets?: { expr?: string }[];
  panels?: Panel[];
}
interface Rule {
  name: string;
  type: 'alerting' | 'recording';
  query: string;
  health: string;
  lastError?: string;
}

let system: System;
let prometheus: PrometheusServer;
let dir: string;

function dashboardExprs(): { title: string; expr: string }[] {
  const dashboard = JSON.parse(readFileSync(join(DEPLOY, 'grafana', 'dashboards', 'recs.json'), 'utf8')) as {
    panels: Panel[];
    annotations?: { list: { expr?: string; name: string }[] };
  };
  const walk = (panels: readonly Panel[]): { title: string; expr: string }[] =>
    panels.flatMap((panel) => [
      ...(panel.targets ?? []).flatMap((target) => (target.expr === undefined ? [] : [{ title: panel.title, expr: target.expr }])),
      ...walk(panel.panels ?? []),
    ]);
  return walk(dashboard.panels).map(({ title, expr }) => ({ title, expr: withGrafanaVariables(expr) }));
}

function withGrafanaVariables(expr: string): string {
  return expr.replace(/\$__\w+/g, (name) => {
    const value = GRAFANA_VARIABLES[name];
    if (value === undefined) throw new Error(`unknown Grafana variable ${name} in ${expr}`);
    return value;
  });
}

/** The samples of an instant query that must succeed with a vector. */
async function vector(expr: string): Promise<readonly PrometheusSample[]> {
  const answer = await prometheus.query(expr);
  if (answer.status !== 'success' || answer.data?.resultType !== 'vector') throw new Error(`${expr}: ${answer.error ?? answer.data?.resultType}`);
  return answer.data.result as readonly PrometheusSample[];
}

/** The recs_ metric names an expression reads (recording rules' level:name:op names excluded). */
function metricNames(expr: string): string[] {
  return [...new Set(expr.match(/(?<![\w:])recs_[a-z0-9_]+(?![\w:])/g) ?? [])];
}

/** A short load touching every part: tracking (with a duplicate and a rejected event), lists, a live subscription, queries, errors. */
async function runLoad(): Promise<void> {
  const admin = await system.token('ops', 'admin');
  const storefront = await system.token('storefront', 'service');
  const upsert = await system.query(`mutation Catalog($p: [ProductInput!]!) { upsertProducts(products: $p) { created } }`, { p: CATALOG }, admin);
  expect(upsert.errors).toBeUndefined();
  await system.catalog.load();

  const purchase = (user: string, productId: string) => ({ eventId: `${user}-${productId}`, userId: user, productId, type: 'PURCHASE' });
  const others = await system.query(
    TRACK,
    { e: [...['a', 'b', 'c'].flatMap((u) => [purchase(u, 'mug'), purchase(u, 'teapot')]), { ...purchase('d', 'candle'), metadata: { 'a.b': 1 } }] },
    storefront,
  );
  expect(others.data).toEqual({ trackEvents: { accepted: 6, duplicates: 0, rejected: [{ index: 6, code: 'INVALID_METADATA' }] } });
  const again = await system.query(TRACK, { e: [purchase('a', 'mug')] }, storefront);
  expect(again.data).toEqual({ trackEvents: { accepted: 0, duplicates: 1, rejected: [] } });

  // a subscriber receives the list its own purchase changed: freshness is measured end to end
  const shopper = await system.token('shopper', 'user');
  const client = system.wsClient(shopper);
  const subscribed = once(system.gateways[0]!.server.hub, 'subscribed');
  const pushed = nextResult<{ recommendationsChanged: { items: { product: { id: string } }[] } }>(client, LIVE_LIST, { user: 'shopper' }, (data) =>
    data.recommendationsChanged.items.some((item) => item.product.id === 'teapot'),
  );
  await subscribed;
  const own = await system.query(TRACK, { e: [purchase('shopper', 'mug'), { userId: 'shopper', productId: 'candle', type: 'VIEW' }] }, shopper);
  expect(own.data).toMatchObject({ trackEvents: { accepted: 2 } });
  expect((await pushed.result).errors).toBeUndefined();

  // a subscription that stays open, and a connection that closes
  const stays = nextResult(client, LIVE_LIST, { user: 'shopper' }, () => false);
  void stays.result.catch(() => undefined);
  const brief = system.wsClient(await system.token('brief', 'user'));
  await new Promise<void>((resolve) => brief.on('connected', () => resolve()));
  await brief.dispose();

  // queries, one refused by a subgraph (FORBIDDEN) and one invalid (GRAPHQL_VALIDATION_FAILED, HTTP 400)
  const read = await system.query(`query Read { recommendations(userId: "shopper") { version } bestSellers(limit: 3) { product { id } } }`, {}, shopper);
  expect(read.errors).toBeUndefined();
  const refused = await system.query(`query Other { recommendations(userId: "a") { version } }`, {}, shopper);
  expect(refused.errors?.[0]?.extensions?.['code']).toBe('FORBIDDEN');
  const invalid = await system.query(`query Broken { noSuchField }`, {}, shopper);
  expect(invalid.errors?.[0]?.extensions?.['code']).toBe('GRAPHQL_VALIDATION_FAILED');
}

beforeAll(async () => {
  system = await startSystem({ label: 'observability' });
  dir = mkdtempSync(join(tmpdir(), 'recs-observability-'));
  prometheus = await startPrometheus({
    binary: await ensurePrometheus((message) => console.log(message)),
    dir,
    port: await freePort(),
    config: prometheusConfig({ targets: system.metricsUrls, scrapeInterval: '1s', ruleFiles: [ALERT_RULES] }),
  });
  const jobs = Object.keys(system.metricsUrls).length;
  // Prometheus starts scraping a few seconds after it is ready (its scrape manager batches target updates)
  await prometheus.waitFor('up', (samples) => samples.length === jobs);
  await runLoad();
  // every target scraped twice after the load: each series the load made has the two samples rate() needs
  const loaded = Date.now();
  await prometheus.waitFor(
    () => `count_over_time(up[${Math.max(1, Date.now() - loaded)}ms])`,
    (samples) => samples.length === jobs && samples.every((s) => Number(s.value[1]) >= 2),
  );
});

afterAll(async () => {
  await prometheus?.process.stop();
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  await system?.stop();
});

describe('Prometheus scraping the running system', () => {
  it('scrapes every process, each labelled with its own service', async () => {
    expect(Object.keys(system.metricsUrls).sort()).toEqual(['events', 'gateway', 'products', 'recommendations', 'workers']);
    const up = await prometheus.waitFor('up', (samples) => samples.length === 5);
    expect(up.map((s) => [s.metric['job'], s.value[1]]).sort()).toEqual(
      Object.keys(system.metricsUrls)
        .sort()
        .map((job) => [job, '1']),
    );
    const services = await vector('count by (job, service) (recs_process_resident_memory_bytes)');
    expect(services.map((s) => s.metric['job'] === s.metric['service'])).toEqual([true, true, true, true, true]);
  });

  it('measures the freshness of the change the subscriber received, from acceptance to publication and to delivery', async () => {
    for (const metric of ['recs_freshness_published_seconds_count', 'recs_freshness_delivered_seconds_count']) {
      const samples = await prometheus.waitFor(`sum(${metric}{field="recommendationsChanged"})`, (found) => found.length === 1);
      expect(Number(samples[0]!.value[1]), metric).toBeGreaterThanOrEqual(1);
    }
  });
});

describe('deploy/prometheus/alerts.yml on the real Prometheus', () => {
  it('loads every rule, with every alert of the metrics contract, and evaluates each without error', async () => {
    const loaded = await prometheus.api<{ data: { groups: { rules: Rule[] }[] } }>('/api/v1/rules');
    const rules = loaded.data.groups.flatMap((group) => group.rules);
    expect(rules.filter((rule) => rule.type === 'alerting').map((rule) => rule.name)).toEqual(expect.arrayContaining(CONTRACT_ALERTS));
    expect(rules.filter((rule) => rule.health !== 'ok').map((rule) => [rule.name, rule.health, rule.lastError])).toEqual([]);
    for (const rule of rules) {
      const answer = await prometheus.query(rule.query);
      expect([rule.name, answer.status, answer.error]).toEqual([rule.name, 'success', undefined]);
    }
  });

  it('has no alert firing or pending in the healthy system', async () => {
    expect((await vector('ALERTS')).map((s) => [s.metric['alertname'], s.metric['alertstate']])).toEqual([]);
  });
});

describe('deploy/grafana/dashboards/recs.json on the real Prometheus', () => {
  it('has queries in every panel, and each parses and returns data', async () => {
    const exprs = dashboardExprs();
    expect(exprs.length).toBeGreaterThanOrEqual(40);
    const problems: string[] = [];
    for (const { title, expr } of exprs) {
      const answer = await prometheus.query(expr);
      if (answer.status !== 'success') problems.push(`${title}: ${expr}: ${answer.error}`);
      else if ((answer.data?.result.length ?? 0) === 0 && !metricNames(expr).some((name) => ONLY_AFTER_FAILURES.has(name))) {
        problems.push(`${title}: no data: ${expr}`);
      }
    }
    expect(problems).toEqual([]);
  });

  it('uses only metrics the processes export (by their HELP and TYPE, even before a first sample)', async () => {
    const metadata = await prometheus.api<{ data: Record<string, unknown> }>('/api/v1/metadata');
    const known = new Set(Object.keys(metadata.data));
    const rules = await prometheus.api<{ data: { groups: { rules: Rule[] }[] } }>('/api/v1/rules');
    const exprs = [...dashboardExprs().map((e) => e.expr), ...rules.data.groups.flatMap((group) => group.rules.map((rule) => rule.query))];
    const unknown = [...new Set(exprs.flatMap(metricNames))].filter((name) => !known.has(name) && !known.has(name.replace(/_(bucket|sum|count)$/, '')));
    expect(unknown).toEqual([]);
  });
});
