import { once } from 'node:events';
import { connect, createServer, type AddressInfo, type Socket } from 'node:net';
import { createRequire } from 'node:module';
import { testServices } from '@recs/devkit';
import { MongoClient, MongoClientClosedError, MongoNetworkTimeoutError, MongoServerError, MongoServerSelectionError, MongoTopologyClosedError } from 'mongodb';
import { ClientClosedError, ConnectionTimeoutError, createClient, SocketClosedUnexpectedlyError } from 'redis';
import { describe, expect, it } from 'vitest';
import { formatError, isUnavailable, withoutSuggestions } from '../src/errors.ts';

// the driver's pool errors are not exported from its entry point
const { PoolClearedOnNetworkError, PoolClearedError } = createRequire(import.meta.url)('mongodb/lib/cmap/errors.js') as {
  PoolClearedOnNetworkError: new (pool: { address: string }) => Error;
  PoolClearedError: new (pool: { address: string; serverError?: Error }) => Error;
};

/** The error Node gives a write to a socket whose peer has just closed it (what a database crash looks like to a driver). */
async function writeAfterPeerClosed(): Promise<Error> {
  const server = createServer((socket) => socket.end());
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  try {
    const socket: Socket = connect({ port: (server.address() as AddressInfo).port, host: '127.0.0.1' });
    socket.resume();
    const failed = new Promise<Error>((resolve) => socket.once('error', resolve));
    // the peer's FIN has arrived and the socket is closing: a write from here on fails
    socket.once('end', () => queueMicrotask(() => socket.write('hello')));
    const error = await failed;
    socket.destroy();
    return error;
  } finally {
    server.close();
  }
}

async function connectRefused(): Promise<Error> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  server.close();
  await once(server, 'close');
  const socket = connect({ port, host: '127.0.0.1' });
  const [error] = (await once(socket, 'error')) as [Error];
  return error;
}

describe('isUnavailable', () => {
  it('recognizes a write to a socket the peer closed, whose message names no error code', async () => {
    const error = await writeAfterPeerClosed();
    expect((error as NodeJS.ErrnoException).code).toBe('EPIPE');
    expect(error.message).not.toMatch(/EPIPE/);
    expect(isUnavailable(error)).toBe(true);
  });

  it('recognizes a refused connection and the driver errors of an unreachable MongoDB', async () => {
    expect(isUnavailable(await connectRefused())).toBe(true);
    expect(isUnavailable(Object.assign(new Error('Server selection timed out after 5000 ms'), { name: 'MongoServerSelectionError' }))).toBe(true);
  });

  it("recognizes the MongoDB driver's transient errors by class and label", () => {
    const pool = { address: '127.0.0.1:27017' };
    expect(isUnavailable(new PoolClearedOnNetworkError(pool))).toBe(true);
    expect(isUnavailable(new PoolClearedError({ ...pool, serverError: new Error('monitor timed out') }))).toBe(true);
    expect(isUnavailable(new MongoClientClosedError())).toBe(true);
    expect(isUnavailable(new MongoTopologyClosedError())).toBe(true);
    expect(isUnavailable(new MongoNetworkTimeoutError('connection timed out'))).toBe(true);
    expect(isUnavailable(new MongoServerSelectionError('Server selection timed out after 30000 ms', { type: 'Unknown', servers: new Map() } as never))).toBe(
      true,
    );
    for (const label of ['RetryableWriteError', 'TransientTransactionError', 'ResetPool']) {
      expect(isUnavailable(new MongoServerError({ errmsg: 'not primary', code: 10107, errorLabels: [label] }))).toBe(true);
    }
    // wrapped by the code that called the driver
    expect(isUnavailable(new Error('storing events failed', { cause: new PoolClearedOnNetworkError(pool) }))).toBe(true);
  });

  it('recognizes an operation on a closed MongoDB client', async () => {
    const client = new MongoClient(testServices().mongoUrl);
    await client.connect();
    await client.close();
    const error = await client
      .db('t_errors_closed')
      .collection('x')
      .findOne({})
      .catch((e: unknown) => e);
    expect(isUnavailable(error)).toBe(true);
  });

  it('recognizes node-redis connection errors', async () => {
    const client = createClient({ url: testServices().redisUrl });
    client.on('error', () => undefined);
    await client.connect();
    client.destroy();
    const error = await client.get('x').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ClientClosedError);
    expect(isUnavailable(error)).toBe(true);
    expect(isUnavailable(new ConnectionTimeoutError())).toBe(true);
    expect(isUnavailable(new SocketClosedUnexpectedlyError())).toBe(true);
  });

  it('leaves other failures alone', () => {
    expect(isUnavailable(new MongoServerError({ errmsg: 'E11000 duplicate key error', code: 11000 }))).toBe(false);
    expect(isUnavailable(new Error('E11000 duplicate key error'))).toBe(false);
    expect(isUnavailable(Object.assign(new Error('file missing'), { code: 'ENOENT' }))).toBe(false);
    expect(isUnavailable('ECONNREFUSED')).toBe(false);
  });
});

describe('formatError in production', () => {
  it('strips every kind of name suggestion', () => {
    const messages = [
      'Value "VIEWW" does not exist in "EventType" enum. Did you mean the enum value "VIEW"?',
      'Cannot query field "bestSeller" on type "Query". Did you mean "bestSellers" or "bestSellersSnapshot"?',
      'Unknown argument "limt" on field "Query.bestSellers". Did you mean "limit"?',
      'Unknown type "SimilarityKnd". Did you mean "SimilarityKind"?',
    ];
    for (const message of messages) {
      const formatted = formatError(true)({ message, extensions: { code: 'GRAPHQL_VALIDATION_FAILED' } });
      expect(formatted.message).not.toMatch(/did you mean/i);
      expect(formatted.message).toBe(withoutSuggestions(message));
      expect(formatted.message.length).toBeGreaterThan(10);
      // development keeps them
      expect(formatError(false)({ message, extensions: { code: 'GRAPHQL_VALIDATION_FAILED' } }).message).toBe(message);
    }
  });
});
