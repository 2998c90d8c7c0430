import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';

export interface PooledFetchOptions {
  /** Connections per host at most; requests beyond wait for a free one. */
  readonly maxSockets: number;
  /** A request with no progress (no bytes either way) for this long fails. */
  readonly timeoutMs: number;
}

export interface FetchInit {
  readonly method?: string;
  readonly headers?: Record<string, string>;
  readonly body?: string;
}

export type PooledFetch = (url: string, init: FetchInit) => Promise<Response>;

/**
 * An idle pooled connection is closed after this long, or 1 s before the Keep-Alive timeout the
 * server announced (Node's servers announce theirs, 5 s by default), whichever is sooner.
 */
const IDLE_MS = 4_000;

/**
 * A fetch for service-to-service calls (the gateway to its subgraphs): node:http over a bounded
 * pool of keep-alive connections per host. Fetch's own pool opens a new connection whenever
 * every open one is busy, so a burst opened hundreds, which then idled out: connection churn,
 * and new connections waiting in the accept queue of a busy server. Here a burst queues on the
 * open connections instead.
 *
 * The client closes its idle connections before the server would (IDLE_MS). Without an idle
 * timeout of its own, Node's agent ignores the server's Keep-Alive hint and keeps a connection
 * until the server closes it; a server whose event loop was busy past that deadline closes it
 * when it resumes (timers run before I/O), with the request sent meanwhile unread, and that
 * request fails with ECONNRESET: the bench's fan-out phase crashed so, on a connection idle since
 * its query phase, when the gateway came out of seconds busy with 10,000 subscribes. A server
 * busy for longer than the margin (its timeout less IDLE_MS) can still reset a request on a
 * connection idle for less: the caller gets that error, as any other. It is not retried here:
 * a POST may be a mutation.
 */
export function pooledFetch(options: PooledFetchOptions): PooledFetch {
  const agentOptions = {
    keepAlive: true,
    maxSockets: options.maxSockets,
    maxFreeSockets: options.maxSockets,
    scheduling: 'lifo' as const,
    // an idle socket's timeout (the agent lowers it to the server's hint less 1 s); a request's own
    // timeout below replaces it while the request is in flight
    timeout: IDLE_MS,
  };
  const http = new HttpAgent(agentOptions);
  const https = new HttpsAgent(agentOptions);
  return (url, init) =>
    new Promise<Response>((resolve, reject) => {
      const target = new URL(url);
      const secure = target.protocol === 'https:';
      const body = init.body === undefined ? undefined : Buffer.from(init.body);
      const headers: Record<string, string> = { ...init.headers };
      if (body !== undefined) headers['content-length'] = String(body.length);
      const req = (secure ? httpsRequest : httpRequest)(
        target,
        { method: init.method ?? 'GET', headers, agent: secure ? https : http, timeout: options.timeoutMs },
        (res: IncomingMessage) => {
          const chunks: Buffer[] = [];
          res.on('data', (chunk: Buffer) => chunks.push(chunk));
          res.on('error', reject);
          res.on('end', () => {
            const responseHeaders = new Headers();
            for (const [name, value] of Object.entries(res.headers)) {
              if (value === undefined) continue;
              for (const item of Array.isArray(value) ? value : [value]) responseHeaders.append(name, item);
            }
            const status = res.statusCode ?? 502;
            resolve(
              new Response(status === 204 || status === 304 ? null : Buffer.concat(chunks), {
                status,
                statusText: res.statusMessage ?? '',
                headers: responseHeaders,
              }),
            );
          });
        },
      );
      req.on('timeout', () => req.destroy(new Error(`request to ${target.host} timed out after ${options.timeoutMs} ms`)));
      req.on('error', reject);
      req.end(body);
    });
}
