import { once } from 'node:events';
import { connect, createServer, type AddressInfo, type Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import { isUnavailable } from '../src/errors.ts';

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

  it('leaves other failures alone', () => {
    expect(isUnavailable(new Error('E11000 duplicate key error'))).toBe(false);
    expect(isUnavailable(Object.assign(new Error('file missing'), { code: 'ENOENT' }))).toBe(false);
    expect(isUnavailable('ECONNREFUSED')).toBe(false);
  });
});
