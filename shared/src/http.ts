import { createServer, type IncomingMessage, type RequestListener, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { HeaderMap, type ApolloServer, type BaseContext, type ContextFunction } from '@apollo/server';
import type { Registry } from 'prom-client';
import { counterOn, METRIC_PREFIX } from './metrics.ts';

export interface HttpOptions<TContext extends BaseContext> {
  readonly server: ApolloServer<TContext>;
  readonly context: ContextFunction<[IncomingMessage], TContext>;
  readonly path?: string;
  /** Requests with a larger body are refused with 413. */
  readonly maxBodyBytes?: number;
  /** GET /ready answers 200 only while this resolves true. */
  readonly ready?: () => Promise<boolean>;
  /**
   * Other handlers by path prefix (e.g. `/metrics`, `/admin/queues`), tried before GraphQL; a
   * handler answers the request itself.
   */
  readonly routes?: readonly HttpRoute[];
  /** The process's registry: every response is counted in recs_http_responses_total{status}. */
  readonly metrics?: Registry;
  /**
   * Runs before GraphQL on its path (the gateway's CORS); resolves true when it answered the
   * request itself (a preflight), false to go on.
   */
  readonly beforeGraphQL?: (req: IncomingMessage, res: ServerResponse) => Promise<boolean>;
}

export interface HttpRoute {
  /** Requests whose path is this or starts with it followed by '/'. */
  readonly prefix: string;
  readonly handle: (req: IncomingMessage, res: ServerResponse) => void | Promise<void>;
}

function routeFor(routes: readonly HttpRoute[] | undefined, pathname: string): HttpRoute | undefined {
  return routes?.find((route) => pathname === route.prefix || pathname.startsWith(`${route.prefix}/`));
}

/** An HTTP refusal with its status (a body over the limit: 413), for the server that read it to answer. */
export class HttpError extends Error {
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  constructor(status: number, message: string, headers: Record<string, string> = {}) {
    super(message);
    this.status = status;
    this.headers = headers;
  }
}

/**
 * A body over the limit is refused with 413 as soon as it is known, and the connection closed
 * after the answer (`connection: close`), not reset before it: a client still sending would get
 * ECONNRESET instead of the status. The rest of the body is read and dropped meanwhile.
 */
export function readBody(req: IncomingMessage, limit: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size <= limit) {
        chunks.push(chunk);
      } else if (size - chunk.length <= limit) {
        chunks.length = 0;
        reject(new HttpError(413, `request body exceeds ${limit} bytes`, { connection: 'close' }));
      }
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

/** The GraphQL document each request carries, for checks that need it before Apollo parses it (see requestQuery). */
const queries = new WeakMap<IncomingMessage, string>();

/** The `query` string of a GraphQL request this server is handling (POST JSON body or GET parameter). */
export function requestQuery(req: IncomingMessage): string | undefined {
  return queries.get(req);
}

/**
 * GET /health (the process is alive) and GET /ready (its dependencies answer: 200 only while
 * `ready` resolves true), for every HTTP service; true when `pathname` was one of them.
 */
export async function answerHealth(pathname: string, res: ServerResponse, ready?: () => Promise<boolean>): Promise<boolean> {
  if (pathname === '/health') {
    sendText(res, 200, 'ok');
    return true;
  }
  if (pathname !== '/ready') return false;
  const isReady = ready === undefined ? true : await ready().catch(() => false);
  sendText(res, isReady ? 200 : 503, isReady ? 'ready' : 'not ready');
  return true;
}

export function sendText(res: ServerResponse, status: number, text: string, headers: Readonly<Record<string, string>> = {}): void {
  res.writeHead(status, { ...headers, 'content-type': 'text/plain; charset=utf-8' });
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
  const responses =
    options.metrics === undefined
      ? undefined
      : counterOn<'status'>(options.metrics, {
          name: `${METRIC_PREFIX}http_responses_total`,
          help: 'HTTP responses of this process by status code (GraphQL, /health, /ready, /metrics, refusals).',
          labelNames: ['status'],
        });
  return createHttpServer((req, res) => {
    // every answer, whichever branch below sends it (a destroyed response sent none)
    if (responses !== undefined) res.once('finish', () => responses.inc({ status: String(res.statusCode) }));
    void (async () => {
      const url = new URL(req.url ?? '/', 'http://localhost');
      if (await answerHealth(url.pathname, res, options.ready)) return;
      const route = routeFor(options.routes, url.pathname);
      if (route !== undefined) return await route.handle(req, res);
      if (url.pathname === '/') {
        res.writeHead(302, { location: path });
        return res.end();
      }
      if (url.pathname !== path) return sendText(res, 404, 'not found');
      if (options.beforeGraphQL !== undefined && (await options.beforeGraphQL(req, res))) return;

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
      const query = req.method === 'POST' ? (body as { query?: unknown } | undefined)?.query : url.searchParams.get('query');
      if (typeof query === 'string') queries.set(req, query);
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
      if (error instanceof HttpError) return sendText(res, error.status, error.message, error.headers);
      sendText(res, 500, 'internal server error');
    });
  });
}

/** Listens on `host` (loopback by default: the HOST setting opens a server to the network). */
export async function listen(server: Server, port: number, host = '127.0.0.1'): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return (server.address() as AddressInfo).port;
}

/**
 * Closes a socket of a closing server: destroyed, not ended (an ended socket still reads, and a
 * request read then would run past the shutdown), unless it still has bytes to write (an answer
 * or a websocket's close frame), which end() flushes first.
 */
function closeSocket(socket: Socket): void {
  if (socket.writableLength > 0) socket.end();
  else socket.destroy();
}

/** A server's open sockets, each with the requests it is answering, and whether it is closing. */
interface Connections {
  readonly sockets: Map<Socket, number>;
  closing: boolean;
}

const connectionsOf = new WeakMap<Server, Connections>();

/**
 * node:http's createServer with its sockets followed, so that closeServer ends at once every
 * socket that is not answering a request. Node's closeIdleConnections leaves one that has not
 * sent a request yet (browsers open one ahead of need), and server.close() then waits for it
 * until headersTimeout (60 s): a restart that should take milliseconds takes a minute.
 */
export function createHttpServer(handler: RequestListener): Server {
  const server = createServer(handler);
  const state: Connections = { sockets: new Map(), closing: false };
  connectionsOf.set(server, state);
  server.on('connection', (socket: Socket) => {
    state.sockets.set(socket, 0);
    socket.once('close', () => state.sockets.delete(socket));
  });
  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    const { socket } = req;
    const open = state.sockets.get(socket);
    if (open === undefined) return;
    state.sockets.set(socket, open + 1);
    res.once('close', () => {
      const answering = state.sockets.get(socket);
      if (answering === undefined) return;
      const left = answering - 1;
      state.sockets.set(socket, left);
      // a keep-alive socket of a closing server: its answer is out, nothing more is read on it
      if (state.closing && left === 0) closeSocket(socket);
    });
  });
  return server;
}

/**
 * Stops accepting connections and waits for open requests to finish: sockets answering nothing
 * are closed at once (keep-alive ones, and, on a server made by createHttpServer, those that
 * have not sent a request yet), the others once their answer is out. After `graceMs` whatever
 * is still open is cut, so a stuck request cannot hold a shutdown.
 */
export function closeServer(server: Server, graceMs = 10_000): Promise<void> {
  return new Promise((resolve) => {
    const state = connectionsOf.get(server);
    const cut = setTimeout(() => {
      server.closeAllConnections();
      for (const socket of state?.sockets.keys() ?? []) socket.destroy();
    }, graceMs).unref();
    server.close(() => {
      clearTimeout(cut);
      resolve();
    });
    server.closeIdleConnections();
    if (state === undefined) return;
    state.closing = true;
    for (const [socket, open] of state.sockets) if (open === 0) closeSocket(socket);
  });
}
