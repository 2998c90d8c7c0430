import type { IncomingMessage } from 'node:http';
import { isIP } from 'node:net';

/**
 * Close codes of our own, next to graphql-ws's `CloseCode`. Over a connection limit the socket is
 * closed with 1013 "Try Again Later" (RFC 6455's registry: a temporary condition on the server),
 * not with 4429: graphql-ws already uses 4429 for TooManyInitialisationRequests, and its client
 * treats that one as a fatal protocol error, never retried. On 1013 a client retries with its
 * usual backoff, and gets in once one of its other connections has closed.
 */
export const LimitCloseCode = {
  TooManyConnections: 1013,
} as const;

/** Counts open connections per key (an identity, an IP) and refuses the one over the limit. */
export class ConnectionLimiter {
  private readonly open = new Map<string, number>();
  /** At most this many per key; 0 means no limit. */
  readonly limit: number;

  constructor(limit: number) {
    this.limit = limit;
  }

  /** Takes a place for `key`: a function that gives it back (call it once), or undefined when full. */
  acquire(key: string): (() => void) | undefined {
    const count = this.open.get(key) ?? 0;
    if (this.limit > 0 && count >= this.limit) return undefined;
    this.open.set(key, count + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const left = (this.open.get(key) ?? 1) - 1;
      if (left <= 0) this.open.delete(key);
      else this.open.set(key, left);
    };
  }

  count(key: string): number {
    return this.open.get(key) ?? 0;
  }

  /** Keys with at least one connection (the map holds no others). */
  get size(): number {
    return this.open.size;
  }
}

/** `::ffff:10.0.0.1` and `10.0.0.1` are the same client. */
function normalize(address: string): string {
  const trimmed = address.trim();
  return trimmed.startsWith('::ffff:') && isIP(trimmed.slice(7)) === 4 ? trimmed.slice(7) : trimmed;
}

/**
 * The client's address. With `trustedHops` reverse proxies in front (each appending the address it
 * saw to X-Forwarded-For), it is the address the outermost trusted proxy saw: the entry that many
 * places from the right of [...X-Forwarded-For, socket peer]. Entries further left are whatever
 * the client sent, and are not trusted.
 */
export function clientIp(request: Pick<IncomingMessage, 'headers' | 'socket'>, trustedHops: number): string {
  const peer = normalize(request.socket.remoteAddress ?? 'unknown');
  if (trustedHops <= 0) return peer;
  const header = request.headers['x-forwarded-for'];
  const forwarded = (Array.isArray(header) ? header.join(',') : (header ?? ''))
    .split(',')
    .map((entry) => entry.trim())
    .filter((entry) => entry !== '');
  const chain = [...forwarded.map(normalize), peer];
  return chain[Math.max(0, chain.length - 1 - trustedHops)]!;
}
