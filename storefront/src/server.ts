import { createHash, randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { join } from 'node:path';
import { answerHealth, createHttpServer, HttpError, readBody, sendText, signClientToken, type Logger } from '@recs/shared';
import { build } from 'esbuild';
import { PICKER_CUSTOMERS, VISITOR_ID, type DemoCustomer } from './customers.ts';

export { PICKER_CUSTOMERS, REAL_CUSTOMERS, type DemoCustomer } from './customers.ts';

const WEB = join(import.meta.dirname, '..', 'web');

export interface StorefrontOptions {
  /** The gateway's /graphql as the browser reaches it (the page calls it directly, over HTTP and WebSocket). */
  readonly gatewayUrl: string;
  /** The key the gateway checks client tokens with (JWT_SECRET). */
  readonly jwtSecret: string;
  /** The gateway's JWT_ISSUER / JWT_AUDIENCE, when not the defaults. */
  readonly issuer?: string;
  readonly audience?: string;
  /** Lifetime of a shopper's token (jose duration); the page asks for a new one before it ends. Default 1h. */
  readonly tokenLifetime?: string;
  /** The customers the picker offers (default: six of the shipped history's). */
  readonly customers?: readonly DemoCustomer[];
  readonly logger: Logger;
}

export interface Storefront {
  readonly http: Server;
  /** Bytes of the page's script, minified. */
  readonly scriptBytes: number;
}

/** What the page reads from its HTML: where the gateway is and whom the picker offers. */
export interface PageConfig {
  readonly gatewayUrl: string;
  readonly customers: readonly DemoCustomer[];
}

interface Asset {
  readonly body: Buffer;
  readonly type: string;
  readonly etag: string;
}

const asset = (body: Buffer | string, type: string): Asset => {
  const bytes = typeof body === 'string' ? Buffer.from(body) : body;
  return { body: bytes, type, etag: `"${createHash('sha256').update(bytes).digest('base64url').slice(0, 22)}"` };
};

/** The page's script: web/main.ts and what it imports (graphql-ws's client), bundled and minified once at start. */
async function bundle(): Promise<{ script: Asset; map: Asset }> {
  const result = await build({
    entryPoints: [join(WEB, 'main.ts')],
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    minify: true,
    sourcemap: 'external',
    outfile: 'app.js',
    write: false,
    logLevel: 'silent',
  });
  const file = (suffix: string) => result.outputFiles.find((output) => output.path.endsWith(suffix))!;
  return {
    script: asset(Buffer.from(file('app.js').contents), 'text/javascript; charset=utf-8'),
    map: asset(Buffer.from(file('app.js.map').contents), 'application/json'),
  };
}

const escapeJsonForHtml = (value: unknown) => JSON.stringify(value).replace(/</g, '\\u003c');

/**
 * The demo shop's backend: serves the page and its script, and plays the shop's login, minting
 * the shopper's token (POST /session). Everything else the page does goes to the gateway itself,
 * as a real storefront's frontend does.
 */
export async function createStorefrontServer(options: StorefrontOptions): Promise<Storefront> {
  const customers = options.customers ?? PICKER_CUSTOMERS;
  const known = new Set(customers.map((customer) => customer.id));
  const gateway = new URL(options.gatewayUrl);
  const wsOrigin = `${gateway.protocol === 'https:' ? 'wss:' : 'ws:'}//${gateway.host}`;
  const config: PageConfig = { gatewayUrl: gateway.href, customers };
  const [{ script, map }, template, styles] = await Promise.all([bundle(), readFile(join(WEB, 'index.html'), 'utf8'), readFile(join(WEB, 'styles.css'))]);
  const page = asset(template.replace('{{CONFIG}}', escapeJsonForHtml(config)), 'text/html; charset=utf-8');
  const assets = new Map<string, Asset>([
    ['/', page],
    ['/app.js', script],
    ['/app.js.map', map],
    ['/styles.css', asset(styles, 'text/css; charset=utf-8')],
  ]);
  // the page may talk to itself and to the gateway only; the config is data (JSON), not script
  const securityHeaders = {
    'content-security-policy': `default-src 'self'; connect-src 'self' ${gateway.origin} ${wsOrigin}; img-src 'self' data: https:; style-src 'self'; script-src 'self'; base-uri 'none'; frame-ancestors 'none'`,
    'x-content-type-options': 'nosniff',
    'referrer-policy': 'same-origin',
  };

  const session = async (req: IncomingMessage, res: ServerResponse) => {
    const body = await readBody(req, 1_024);
    let customerId: unknown;
    try {
      customerId = body === '' ? undefined : (JSON.parse(body) as { customerId?: unknown }).customerId;
    } catch {
      return sendJson(res, 400, { code: 'BAD_REQUEST', message: 'the body is not JSON' });
    }
    // a real shop checks a password here; the picker's customers and new visitors are all this demo knows
    let userId: string;
    if (customerId === undefined || customerId === null) userId = `visitor-${randomBytes(8).toString('hex')}`;
    else if (typeof customerId === 'string' && (known.has(customerId) || VISITOR_ID.test(customerId))) userId = customerId;
    else return sendJson(res, 400, { code: 'UNKNOWN_CUSTOMER', message: 'customerId is not a customer of this shop (or a visitor id it gave out)' });
    const lifetime = options.tokenLifetime ?? '1h';
    const token = await signClientToken(
      {
        subject: userId,
        role: 'user',
        expiresIn: lifetime,
        ...(options.issuer === undefined ? {} : { issuer: options.issuer }),
        ...(options.audience === undefined ? {} : { audience: options.audience }),
      },
      options.jwtSecret,
    );
    const payload = JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString('utf8')) as { exp: number };
    sendJson(res, 200, { userId, token, expiresAt: new Date(payload.exp * 1000).toISOString() });
  };

  const http = createHttpServer((req, res) => {
    void (async () => {
      const { pathname } = new URL(req.url ?? '/', 'http://localhost');
      if (await answerHealth(pathname, res)) return;
      if (pathname === '/session') {
        if (req.method !== 'POST') return sendText(res, 405, 'POST only', { allow: 'POST' });
        return await session(req, res);
      }
      const found = assets.get(pathname === '/index.html' ? '/' : pathname);
      if (found === undefined) return sendText(res, 404, 'not found');
      if (req.method !== 'GET' && req.method !== 'HEAD') return sendText(res, 405, 'GET only', { allow: 'GET, HEAD' });
      const headers = { ...securityHeaders, 'content-type': found.type, etag: found.etag, 'cache-control': 'no-cache' };
      if (req.headers['if-none-match'] === found.etag) {
        res.writeHead(304, headers);
        return res.end();
      }
      res.writeHead(200, { ...headers, 'content-length': found.body.length });
      res.end(req.method === 'HEAD' ? undefined : found.body);
    })().catch((error: unknown) => {
      if (error instanceof HttpError && error.status === 413) return sendJson(res, 413, { code: 'TOO_LARGE', message: error.message }, error.headers);
      options.logger.error({ err: error }, 'storefront request failed');
      if (!res.headersSent) sendText(res, 500, 'internal server error');
      else res.destroy();
    });
  });
  return { http, scriptBytes: script.body.length };
}

function sendJson(res: ServerResponse, status: number, body: unknown, headers: Readonly<Record<string, string>> = {}): void {
  res.writeHead(status, { ...headers, 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' });
  res.end(JSON.stringify(body));
}
