import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { ExpressAdapter } from '@bull-board/express';
import { eventsQueue, listsQueue, maintenanceQueue, redisErrorListener, type HttpRoute, type Logger, type RedisClient } from '@recs/shared';
import express, { type ErrorRequestHandler, type RequestHandler } from 'express';
import { loginRoutes, requireAdmin, type Authenticate } from './adminAuth.ts';

/** Where the board is served on the gateway's HTTP server. */
export const QUEUE_BOARD_PATH = '/admin/queues';

export interface QueueBoardOptions {
  readonly redis: RedisClient;
  /** QUEUE_PREFIX: the board shows this deployment's queues. */
  readonly prefix: string;
  readonly authenticate: Authenticate;
  /** Allow retry, clean, promote, pause and the other changes (BULL_BOARD_WRITE); otherwise read-only. */
  readonly write: boolean;
  /** Cookies only over HTTPS (production sits behind TLS). */
  readonly secureCookies: boolean;
  readonly logger: Logger;
}

export interface QueueBoard {
  readonly route: HttpRoute;
  close(): Promise<void>;
}

/**
 * Bull Board (the @bull-board/express adapter) for operators: every queue of the deployment
 * (events, lists, maintenance), admins only (see adminAuth.ts), read-only unless `write`.
 * Bull Board refuses a change to a read-only queue with 405, whatever the UI shows.
 */
export function queueBoard({ redis, prefix, authenticate, write, secureCookies, logger }: QueueBoardOptions): QueueBoard {
  // Built on the first admin request, on a connection of its own: a gateway whose board nobody
  // opens pays nothing, and the board's listings (many jobs at once) never queue ahead of the
  // rate-limit checks and pub/sub reads on the gateway's client.
  let connection: RedisClient | undefined;
  let queues: ReturnType<typeof maintenanceQueue>[] | undefined;
  let board: RequestHandler | undefined;
  const boardRouter: RequestHandler = (req, res, next) => {
    if (board === undefined) {
      connection = redis.duplicate();
      connection.on('error', (error: Error) => logger.debug({ err: error.message }, 'queue board: Redis connection error'));
      connection.connect().catch((error: unknown) => logger.warn({ err: (error as Error).message }, 'queue board: Redis unreachable'));
      queues = [eventsQueue(connection, prefix), listsQueue(connection, prefix), maintenanceQueue(connection, prefix)];
      // without a listener a queue prints every failed reconnection with its stack
      for (const queue of queues) queue.on('error', redisErrorListener(logger, 'queue board'));
      const serverAdapter = new ExpressAdapter().setBasePath(QUEUE_BOARD_PATH);
      createBullBoard({
        queues: queues.map((queue) => new BullMQAdapter(queue, { readOnlyMode: !write, displayName: queue.name.replace(/[{}]/g, '') })),
        // @bull-board/express 9.10.1 pins its own copy of @bull-board/api (9.10.1, ours is 9.10.2):
        // the same adapter interface, typed twice
        serverAdapter: serverAdapter as unknown as Parameters<typeof createBullBoard>[0]['serverAdapter'],
        options: { uiConfig: { boardTitle: 'recs queues' } },
      });
      board = serverAdapter.getRouter() as RequestHandler;
    }
    board(req, res, next);
  };

  const app = express();
  app.disable('x-powered-by');
  // express's default error page shows a stack trace outside production
  const onError: ErrorRequestHandler = (error: unknown, _req, res, _next) => {
    logger.error({ err: (error as Error).message }, 'queue board request failed');
    if (res.headersSent) {
      res.destroy();
      return;
    }
    res.status(500).type('text/plain').send('internal server error');
  };
  app.use(QUEUE_BOARD_PATH, loginRoutes(QUEUE_BOARD_PATH, authenticate, secureCookies));
  app.use(QUEUE_BOARD_PATH, requireAdmin(authenticate, `${QUEUE_BOARD_PATH}/login`), boardRouter);
  app.use(onError);

  return {
    route: { prefix: QUEUE_BOARD_PATH, handle: (req, res) => void app(req, res) },
    async close() {
      // the queues borrow the connection; closing them leaves it open
      await Promise.all((queues ?? []).map((queue) => queue.close()));
      await connection?.close().catch(() => undefined);
    },
  };
}
