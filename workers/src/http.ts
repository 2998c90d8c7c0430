import { createServer, type Server } from 'node:http';
import { metricsRoute } from '@recs/shared';
import type { Registry } from 'prom-client';

export interface WorkersHttpOptions {
  readonly registry: Registry;
  /** GET /ready answers 200 only while this resolves true (MongoDB answers, Redis is connected). */
  readonly ready: () => Promise<boolean>;
}

/**
 * The workers' small operations port: GET /metrics (Prometheus), /health (the process is alive)
 * and /ready (its stores are reachable). The workers serve no GraphQL, so this is a plain
 * node:http handler rather than createGraphQLHttpServer.
 */
export function createWorkersHttpServer({ registry, ready }: WorkersHttpOptions): Server {
  const metrics = metricsRoute(registry);
  return createServer((req, res) => {
    const text = (status: number, body: string) => {
      res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8' });
      res.end(body);
    };
    void (async () => {
      const { pathname } = new URL(req.url ?? '/', 'http://localhost');
      if (req.method !== 'GET' && req.method !== 'HEAD') return text(405, 'method not allowed');
      if (pathname === '/health') return text(200, 'ok');
      if (pathname === '/ready') {
        const isReady = await ready().catch(() => false);
        return text(isReady ? 200 : 503, isReady ? 'ready' : 'not ready');
      }
      if (pathname === '/metrics') return await metrics.handle(req, res);
      text(404, 'not found');
    })().catch(() => {
      if (res.headersSent) res.destroy();
      else text(500, 'internal server error');
    });
  });
}
