import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';

/** Where picked ports start: above the registered services most machines run. */
const LOWEST_PORT = 10_000;
/** Ports this process handed out: never twice, though each is free again once its check closes. */
const handedOut = new Set<number>();

/**
 * The first port the kernel hands to outgoing connections and `listen(0)` (Linux's
 * ip_local_port_range; 32768 elsewhere, its default). A port below it is taken only by a server
 * that asks for it by number, never by a client socket of a parallel test, so one picked there
 * stays free until it is used.
 */
function ephemeralStart(): number {
  try {
    const [low] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/).map(Number);
    if (low !== undefined && Number.isInteger(low) && low > LOWEST_PORT + 1_000) return low;
  } catch {
    // not Linux: the IANA range starts higher than Linux's, so this one is below both
  }
  return 32_768;
}

function listens(port: number): Promise<number | undefined> {
  return new Promise((resolve) => {
    const server = createServer();
    server.unref();
    server.once('error', () => resolve(undefined));
    server.listen(port, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(address === null || typeof address === 'string' ? undefined : address.port));
    });
  });
}

/**
 * A TCP port that was free on 127.0.0.1 a moment ago, below the ephemeral range (see
 * ephemeralStart) so that no other process's connection takes it before it is listened on, and
 * not one this process picked before. Falls back to one the kernel assigns.
 */
export async function freePort(): Promise<number> {
  const span = ephemeralStart() - LOWEST_PORT;
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = LOWEST_PORT + Math.floor(Math.random() * span);
    if (handedOut.has(port)) continue;
    // claimed before the check, so concurrent calls never pick the same one
    handedOut.add(port);
    if ((await listens(port)) !== undefined) return port;
    handedOut.delete(port);
  }
  const port = await listens(0);
  if (port === undefined) throw new Error('no free TCP port on 127.0.0.1');
  handedOut.add(port);
  return port;
}
