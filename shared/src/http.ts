import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { HeaderMap, type ApolloServer, type BaseContext, type ContextFunction } from '@apollo/server';

export interface HttpOptions<TContext extends BaseContext> {
  readonly server: ApolloServer<TContext>;
  readonly context: ContextFunction<[IncomingMessage], TContext>;
  readonly path?: string;
  /** Requests with a larger body are refused with 413. */
  readonly maxBodyBytes?: number;
  /** GET /ready answers 200 only while this resolves true. */
  readonly ready?: () => Promise<boolean>;
}

class HttpError extends Error {
  readonly status: number;
  constructor(status: number, message: string) {
    super(message);
    this.status = status;
  }
}

function readBody(req: IncomingMessage, limit: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        reject(new HttpError(413, `request body exceeds ${limit} bytes`));
        req.destroy();
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function sendText(res: ServerResponse, status: number, text: string): void {
  res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8' });
  res.end(text);
}

/**
 * A node:http server for an Apollo Server: GraphQL on `path` (GET and POST, and Sandbox as the
 * landing page), GET /health (alive) and GET /ready (dependencies reachable). Built on Apollo's
 * executeHTTPGraphQLRequest, the integration API its own standalone server uses; the raw server
 * is returned so the gateway can attach its WebSocket server to it.
 */
export function createGraphQLHttpServer<TContext extends BaseContext>(options: HttpOptions<TContext>): Server {
  const path = options.path ?? '/graphql';
  const limit = options.maxBodyBytes ?? 1_048_576;
  return createServer((req, res) => {
    void (async () => {
      const url = new URL(req.url ?? '/', 'http://localhost');
      if (url.pathname === '/health') return sendText(res, 200, 'ok');
      if (url.pathname === '/ready') {
        const ready = options.ready === undefined ? true : await options.ready().catch(() => false);
        return sendText(res, ready ? 200 : 503, ready ? 'ready' : 'not ready');
      }
      if (url.pathname === '/') {
        res.writeHead(302, { location: path });
        return res.end();
      }
      if (url.pathname !== path) return sendText(res, 404, 'not found');

      const headers = new HeaderMap();
      for (const [key, value] of Object.entries(req.headers)) {
        if (value !== undefined) headers.set(key, Array.isArray(value) ? value.join(', ') : value);
      }
      let body: unknown;
      if (req.method === 'POST') {
        const text = await readBody(req, limit);
        const type = headers.get('content-type') ?? '';
        if (type.includes('application/json')) {
          try {
            body = text === '' ? undefined : JSON.parse(text);
          } catch {
            throw new HttpError(400, 'request body is not valid JSON');
          }
        } else {
          body = text;
        }
      }
      const response = await options.server.executeHTTPGraphQLRequest({
        httpGraphQLRequest: { method: req.method?.toUpperCase() ?? 'GET', headers, search: url.search, body },
        context: () => options.context(req),
      });
      for (const [key, value] of response.headers) res.setHeader(key, value);
      res.statusCode = response.status ?? 200;
      if (response.body.kind === 'complete') {
        res.end(response.body.string);
        return;
      }
      for await (const chunk of response.body.asyncIterator) res.write(chunk);
      res.end();
    })().catch((error: unknown) => {
      if (res.headersSent) return res.destroy();
      if (error instanceof HttpError) return sendText(res, error.status, error.message);
      sendText(res, 500, 'internal server error');
    });
  });
}

export async function listen(server: Server, port: number, host = '0.0.0.0'): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return (server.address() as AddressInfo).port;
}

/** Stops accepting connections and waits for open requests to finish (keep-alive sockets are closed). */
export function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeIdleConnections();
  });
}
