import { ApolloServer } from '@apollo/server';
import { scrapeMetrics } from '@recs/devkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { badUserInput } from '../src/errors.ts';
import { graphqlMetricsPlugin, MAX_OPERATION_NAMES, OperationNames, outcomeCode } from '../src/graphqlMetrics.ts';
import { closeServer, createGraphQLHttpServer, listen } from '../src/http.ts';
import { createRegistry, memoryLimitBytes, metricsRoute } from '../src/metrics.ts';

describe('OperationNames', () => {
  it('keeps the first 50 distinct names, reports later new ones as "other", anonymous ones as "unnamed"', () => {
    const names = new OperationNames();
    for (let i = 0; i < MAX_OPERATION_NAMES; i++) expect(names.label(`Op${i}`)).toBe(`Op${i}`);
    expect(names.label('Op50')).toBe('other');
    expect(names.label('Op0')).toBe('Op0');
    expect(names.label('Op49')).toBe('Op49');
    expect(names.label(undefined)).toBe('unnamed');
    expect(names.label(null)).toBe('unnamed');
  });
});

describe('outcomeCode', () => {
  it('is OK without errors, the first known code, else INTERNAL_SERVER_ERROR', () => {
    expect(outcomeCode(undefined)).toBe('OK');
    expect(outcomeCode([])).toBe('OK');
    expect(outcomeCode([{ extensions: { code: 'FORBIDDEN' } }, { extensions: { code: 'BAD_USER_INPUT' } }])).toBe('FORBIDDEN');
    expect(outcomeCode([{ extensions: { code: 'GRAPHQL_PARSE_FAILED' } }])).toBe('GRAPHQL_PARSE_FAILED');
    expect(outcomeCode([{ extensions: { code: 'SOMETHING_A_CLIENT_MADE_UP' } }])).toBe('INTERNAL_SERVER_ERROR');
    expect(outcomeCode([{}])).toBe('INTERNAL_SERVER_ERROR');
  });
});

describe('GraphQL and HTTP metrics of a server, scraped over HTTP', () => {
  const registry = createRegistry('test');
  const apollo = new ApolloServer({
    typeDefs: 'type Query { echo(text: String): String, refuse: String }',
    resolvers: {
      Query: {
        echo: (_: unknown, { text }: { text?: string }) => text ?? null,
        refuse: () => {
          throw badUserInput('no');
        },
      },
    },
    plugins: [graphqlMetricsPlugin(registry)],
  });
  const http = createGraphQLHttpServer({ server: apollo, maxBodyBytes: 1_024, context: async () => ({}), metrics: registry, routes: [metricsRoute(registry)] });
  let base: string;
  const post = (body: unknown) => fetch(`${base}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

  beforeAll(async () => {
    await apollo.start();
    base = `http://127.0.0.1:${await listen(http, 0)}`;
  });

  afterAll(async () => {
    await closeServer(http);
    await apollo.stop();
  });

  it('counts requests by operation type, name and code, times them, and counts every HTTP response by status', async () => {
    expect((await post({ query: 'query Echo { echo(text: "a") }' })).status).toBe(200);
    expect((await post({ query: 'query Echo { echo(text: "b") }' })).status).toBe(200);
    expect((await post({ query: '{ refuse }' })).status).toBe(200);
    expect((await post({ query: '{ echo(' })).status).toBe(400);
    expect((await post({ query: `{ echo(text: "${'x'.repeat(2_000)}") }` })).status).toBe(413);
    expect((await fetch(`${base}/nowhere`)).status).toBe(404);
    expect((await fetch(`${base}/health`)).status).toBe(200);

    const scrape = await scrapeMetrics(`${base}/metrics`);
    expect(scrape.status).toBe(200);
    expect(scrape.contentType).toContain('text/plain');
    const requests = 'recs_graphql_requests_total';
    expect(scrape.value(requests, { service: 'test', operation_type: 'query', operation_name: 'Echo', code: 'OK' })).toBe(2);
    expect(scrape.value(requests, { operation_type: 'query', operation_name: 'unnamed', code: 'BAD_USER_INPUT' })).toBe(1);
    expect(scrape.value(requests, { operation_type: 'unknown', operation_name: 'unknown', code: 'GRAPHQL_PARSE_FAILED' })).toBe(1);
    expect(scrape.value('recs_graphql_request_duration_seconds_count', { operation_type: 'query', operation_name: 'Echo' })).toBe(2);
    expect(scrape.value('recs_graphql_request_duration_seconds_bucket', { operation_name: 'Echo', le: '+Inf' })).toBe(2);
    // the scrape's own response is counted once it is sent, so it is not in this one
    expect(scrape.value('recs_http_responses_total', { status: '200' })).toBe(3 + 1);
    expect(scrape.value('recs_http_responses_total', { status: '400' })).toBe(1);
    expect(scrape.value('recs_http_responses_total', { status: '413' })).toBe(1);
    expect(scrape.value('recs_http_responses_total', { status: '404' })).toBe(1);

    const next = await scrapeMetrics(`${base}/metrics`);
    expect(next.value('recs_http_responses_total', { status: '200' })).toBe(3 + 1 + 1);
  });

  it('exports the process metrics with the recs_ prefix and the memory limit RSS is measured against', async () => {
    const scrape = await scrapeMetrics(`${base}/metrics`);
    expect(scrape.value('recs_process_resident_memory_bytes', { service: 'test' })).toBeGreaterThan(0);
    expect(scrape.value('recs_memory_limit_bytes', { service: 'test' })).toBe(memoryLimitBytes());
    expect(memoryLimitBytes()).toBeGreaterThan(scrape.value('recs_process_resident_memory_bytes')!);
  });
});
