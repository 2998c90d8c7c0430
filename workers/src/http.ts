import type { Server } from 'node:http';
import { answerHealth, createHttpServer, metricsRoute, sendText } from '@recs/shared';
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
  return createHttpServer((req, res) => {
    void (async () => {
      const { pathname } = new URL(req.url ?? '/', 'http://localhost');
      if (req.method !== 'GET' && req.method !== 'HEAD') return sendText(res, 405, 'method not allowed');
      if (await answerHealth(pathname, res, ready)) return;
      if (pathname === '/metrics') return await metrics.handle(req, res);
      sendText(res, 404, 'not found');
    })().catch(() => {
      if (res.headersSent) res.destroy();
      else sendText(res, 500, 'internal server error');
    });
  });
}
