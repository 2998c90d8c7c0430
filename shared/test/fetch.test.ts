import { createServer, type Server } from 'node:http';
import { Worker } from 'node:worker_threads';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { closeServer, listen } from '../src/http.ts';
import { pooledFetch } from '../src/fetch.ts';

/** Node's servers close an idle connection this long after it went idle (its keepAliveTimeout plus a 1 s buffer); they announce `timeout=2`. */
const KEEP_ALIVE_MS = 2_000;
const SERVER_CLOSES_AFTER_MS = KEEP_ALIVE_MS + 1_000;

/**
 * A Node HTTP server in a worker thread, so it has an event loop of its own that a test can
 * block (as a busy gateway's or subgraph's is): `block(ms)` resolves once the loop is blocked.
 */
async function serverInWorker(): Promise<{ url: string; block(ms: number): Promise<void>; close(): Promise<void> }> {
  const worker = new Worker(
    `
    const { createServer } = require('node:http');
    const { parentPort } = require('node:worker_threads');
    const server = createServer((req, res) => { req.resume(); req.on('end', () => res.end('ok')); });
    server.keepAliveTimeout = ${KEEP_ALIVE_MS};
    server.listen(0, '127.0.0.1', () => parentPort.postMessage(server.address().port));
    parentPort.on('message', (ms) => {
      parentPort.postMessage('blocked');
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
    });`,
    { eval: true },
  );
  const port = await new Promise<number>((resolve) => worker.once('message', resolve));
  return {
    url: `http://127.0.0.1:${port}/`,
    block: (ms) =>
      new Promise((resolve) => {
        worker.once('message', () => resolve());
        worker.postMessage(ms);
      }),
    close: async () => void (await worker.terminate()),
  };
}

describe('pooledFetch', () => {
  let server: Server;
  let url: string;
  let connections = 0;

  beforeAll(async () => {
    server = createServer((req, res) => {
      req.resume();
      req.on('end', () => res.end('ok'));
    });
    server.keepAliveTimeout = KEEP_ALIVE_MS;
    server.on('connection', () => connections++);
    url = `http://127.0.0.1:${await listen(server, 0)}/`;
  });

  afterAll(async () => {
    await closeServer(server);
  });

  it('reuses a connection for the next request within the keep-alive window', async () => {
    connections = 0;
    const fetch = pooledFetch({ maxSockets: 4, timeoutMs: 5_000 });
    for (const body of ['a', 'b', 'c']) expect(await (await fetch(url, { method: 'POST', body })).text()).toBe('ok');
    expect(connections).toBe(1);
  });

  it("does not send on a connection idle past the server's keep-alive timeout when the server, busy, has not closed it yet", async () => {
    const busy = await serverInWorker();
    try {
      const fetch = pooledFetch({ maxSockets: 4, timeoutMs: 10_000 });
      expect((await fetch(busy.url, { method: 'POST', body: 'first' })).status).toBe(200);
      // the server's loop is blocked past its keep-alive deadline: it closes that connection only
      // when it resumes, in its timers phase, before reading what arrived meanwhile; a request sent
      // on it now is reset (ECONNRESET), one on a new connection waits in the accept queue
      await busy.block(SERVER_CLOSES_AFTER_MS + 1_500);
      // the scenario is this idle gap itself (no event on the wire to wait for)
      await new Promise((resolve) => setTimeout(resolve, SERVER_CLOSES_AFTER_MS + 500));
      const second = await fetch(busy.url, { method: 'POST', body: 'second' });
      expect(second.status).toBe(200);
      expect(await second.text()).toBe('ok');
    } finally {
      await busy.close();
    }
  });
});
