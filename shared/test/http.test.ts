import { once } from 'node:events';
import { connect, type AddressInfo, type Socket } from 'node:net';
import { ApolloServer } from '@apollo/server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { closeServer, createGraphQLHttpServer, createHttpServer, listen, requestQuery } from '../src/http.ts';

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

describe('closeServer', () => {
  /** A socket that connects and sends nothing, as a browser's connection opened ahead of need. */
  async function silentSocket(port: number): Promise<{ socket: Socket; ended: Promise<void> }> {
    const socket = connect(port, '127.0.0.1');
    await once(socket, 'connect');
    const ended = new Promise<void>((resolve) => socket.once('close', () => resolve()));
    socket.on('error', () => undefined);
    return { socket, ended };
  }

  it('ends a socket that has sent no request at once, and lets an answer in progress finish first', async () => {
    let release: () => void = () => undefined;
    const answering = new Promise<void>((resolve) => (release = resolve));
    const started = Promise.withResolvers<void>();
    const server = createHttpServer((_req, res) => {
      started.resolve();
      void answering.then(() => res.end('done'));
    });
    const port = await listen(server, 0);
    const silent = await silentSocket(port);
    const slow = fetch(`http://127.0.0.1:${port}/`).then((response) => response.text());
    await started.promise;

    let closed = false;
    const closing = closeServer(server).then(() => (closed = true));
    // the silent socket is not waited for (server.close() alone would wait headersTimeout, 60 s)
    await silent.ended;
    expect(closed).toBe(false);
    release();
    expect(await slow).toBe('done');
    await closing;
    expect(server.listening).toBe(false);
  });

  it('cuts what is still open after the grace period', async () => {
    const started = Promise.withResolvers<void>();
    // never answers
    const server = createHttpServer(() => started.resolve());
    const port = await listen(server, 0);
    const stuck = fetch(`http://127.0.0.1:${port}/`).then(
      () => 'answered',
      () => 'cut',
    );
    await started.promise;
    await closeServer(server, 50);
    expect(await stuck).toBe('cut');
  });
});
