import type { AddressInfo } from 'node:net';
import { ApolloServer } from '@apollo/server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { closeServer, createGraphQLHttpServer, listen, requestQuery } from '../src/http.ts';

const apollo = new ApolloServer({
  typeDefs: 'type Query { echo(text: String): String }',
  resolvers: { Query: { echo: (_: unknown, { text }: { text?: string }) => text ?? null } },
});
let seen: (string | undefined)[] = [];
const http = createGraphQLHttpServer({
  server: apollo,
  maxBodyBytes: 64 * 1024,
  context: async (req) => {
    seen.push(requestQuery(req));
    return {};
  },
});
let url: string;

beforeAll(async () => {
  await apollo.start();
  const port = await listen(http, 0);
  url = `http://127.0.0.1:${port}/graphql`;
});

afterAll(async () => {
  await closeServer(http);
  await apollo.stop();
});

describe('createGraphQLHttpServer', () => {
  it('listens on loopback unless told otherwise', () => {
    expect((http.address() as AddressInfo).address).toBe('127.0.0.1');
  });

  it('answers a body over the limit with 413 (not a reset), and keeps serving', async () => {
    for (const size of [100_000, 1_048_576, 16 * 1_048_576]) {
      const response = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ query: '{ echo }', variables: { pad: 'x'.repeat(size) } }),
      });
      expect(response.status).toBe(413);
      expect(response.headers.get('connection')).toBe('close');
      expect(await response.text()).toBe(`request body exceeds ${64 * 1024} bytes`);
    }
    const next = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query: '{ echo(text: "ok") }' }) });
    expect(await next.json()).toEqual({ data: { echo: 'ok' } });
  });

  it('tells the context which document a request carries, POST or GET', async () => {
    seen = [];
    await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query: '{ echo(text: "a") }' }) });
    await fetch(`${url}?query=${encodeURIComponent('{ echo(text: "b") }')}`, { headers: { 'apollo-require-preflight': 'true' } });
    expect(seen).toEqual(['{ echo(text: "a") }', '{ echo(text: "b") }']);
  });
});
