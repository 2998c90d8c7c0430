import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { testServices, TEST_JWT_SECRET, testDatabase, uniqueName, postGraphQL, type TestDatabase } from '@recs/devkit';
import { DEFAULT_ENGINE_CONFIG, type EngineConfig } from '@recs/engine';
import { createEventsServer } from '@recs/events';
import { Ingestor } from '@recs/events/ingest';
import { EventStore } from '@recs/events/store';
import { createGatewayServer, type GatewayServer } from '@recs/gateway';
import { createProductsServer } from '@recs/products';
import { ProductStore } from '@recs/products/store';
import { createRecommendationsServer } from '@recs/recommendations';
import { RecommendationStore } from '@recs/recommendations/store';
import {
  closeServer,
  connectRedis,
  createLogger,
  eventsQueue,
  listsQueue,
  RedisNames,
  signClientToken,
  type Logger,
  type RedisClient,
  type Role,
} from '@recs/shared';
import { AggregatorService, CatalogCache, ListService, ListStore, Publisher } from '@recs/workers';
import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';

export interface System {
  readonly db: TestDatabase;
  readonly redis: RedisClient;
  readonly names: RedisNames;
  readonly prefix: string;
  /** HTTP URL of the (first) gateway's /graphql. */
  readonly url: string;
  readonly gateways: readonly { url: string; ws: string; server: GatewayServer }[];
  readonly catalog: CatalogCache;
  token(subject: string, role: Role): Promise<string>;
  /** POSTs an operation to a gateway as `token`'s holder. */
  query<T = Record<string, any>>(query: string, variables?: Record<string, unknown>, token?: string, gateway?: number): Promise<{ data?: T | null; errors?: readonly { message: string; extensions?: Record<string, unknown> }[] }>;
  /** A graphql-ws client of a gateway, authenticated with `token` when given. */
  wsClient(token?: string, gateway?: number): Client;
  stop(): Promise<void>;
}

export interface SystemOptions {
  readonly label: string;
  readonly gateways?: number;
  readonly engine?: EngineConfig;
  readonly logLevel?: string;
  /** Servers of the test's own (fault tests restart them); default: the ones `npm test` started. */
  readonly mongoUrl?: string;
  readonly redisUrl?: string;
  /** 'none' when the test runs the workers as processes of their own. */
  readonly workers?: 'in-process' | 'none';
}

async function listenOnFreePort(server: Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}/graphql`;
}

/**
 * The whole system in this process, wired over real HTTP, WebSocket, MongoDB-wire and Redis
 * connections: three subgraphs, the workers (aggregation, lists) and one or more gateways.
 * Everything lives in a database and queue prefix of its own, removed by stop().
 */
export async function startSystem(options: SystemOptions): Promise<System> {
  const logger: Logger = createLogger(`e2e-${options.label}`, options.logLevel ?? process.env['TEST_LOG_LEVEL'] ?? 'silent');
  const engine = options.engine ?? DEFAULT_ENGINE_CONFIG;
  const db = await testDatabase(options.label, options.mongoUrl === undefined ? {} : { mongoUrl: options.mongoUrl });
  const redisUrl = options.redisUrl ?? testServices().redisUrl;
  const redis = await connectRedis(redisUrl, logger, 'e2e');
  const prefix = uniqueName('q');
  const names = new RedisNames(prefix);
  const events = eventsQueue(redis, prefix);
  const lists = listsQueue(redis, prefix);
  const common = { jwtSecret: TEST_JWT_SECRET, logger, production: false };

  const productStore = new ProductStore(db.db, { publish: { redis, names } });
  const products = await createProductsServer({ ...common, store: productStore });
  const eventStore = new EventStore(db.db);
  const eventsServer = await createEventsServer({ ...common, store: eventStore, ingestor: new Ingestor({ store: eventStore, queue: events, logger }) });
  const recommendations = await createRecommendationsServer({ ...common, store: new RecommendationStore(db.db, engine.bestSellerWindows), engine });
  const subgraphUrls = {
    PRODUCTS_URL: await listenOnFreePort(products.http),
    EVENTS_URL: await listenOnFreePort(eventsServer.http),
    RECOMMENDATIONS_URL: await listenOnFreePort(recommendations.http),
  };

  const catalog = new CatalogCache(db.db, logger);
  await catalog.load();
  await catalog.watch(redis, names);
  const publisher = new Publisher(redis, names);
  const inProcess = (options.workers ?? 'in-process') === 'in-process';
  const aggregation = !inProcess ? undefined : new AggregatorService({
    db: db.db,
    redis,
    prefix,
    catalog,
    engine,
    lists,
    publisher,
    logger,
    concurrency: 100,
    maxBatchEvents: 5_000,
    cacheSize: 100_000,
    maxBacklog: 20_000,
    leaseMs: 5_000,
  });
  await aggregation?.start();
  const listService = !inProcess
    ? undefined
    : new ListService({ store: new ListStore(db.db), catalog, engine, publisher, logger, local: () => aggregation?.aggregator });
  listService?.start(redis, prefix, 8);

  const gateways: { url: string; ws: string; server: GatewayServer }[] = [];
  for (let i = 0; i < (options.gateways ?? 1); i++) {
    const server = await createGatewayServer({
      config: {
        REDIS_URL: redisUrl,
        QUEUE_PREFIX: prefix,
        LOG_LEVEL: 'silent',
        NODE_ENV: 'test',
        JWT_SECRET: TEST_JWT_SECRET,
        PORT: 0,
        ...subgraphUrls,
        SANDBOX: true,
        MAX_QUERY_DEPTH: 12,
        MAX_QUERY_COST: 20_000,
        MAX_ALIASES: 30,
        HYDRATION_CONCURRENCY: 32,
        SUBGRAPH_CONNECTIONS: 64,
        SUBGRAPH_TIMEOUT_MS: 30_000,
      },
      logger,
      redis,
    });
    const url = await listenOnFreePort(server.http);
    gateways.push({ url, ws: url.replace(/^http/, 'ws'), server });
  }

  const clients: Client[] = [];
  return {
    db,
    redis,
    names,
    prefix,
    url: gateways[0]!.url,
    gateways,
    catalog,
    token: (subject, role) => signClientToken({ subject, role }, TEST_JWT_SECRET),
    query: (query, variables = {}, token, gateway = 0) =>
      postGraphQL(gateways[gateway]!.url, query, variables, token === undefined ? {} : { authorization: `Bearer ${token}` }),
    wsClient(token, gateway = 0) {
      const client = createClient({
        url: gateways[gateway]!.ws,
        webSocketImpl: WebSocket,
        connectionParams: token === undefined ? {} : { authorization: `Bearer ${token}` },
        retryAttempts: 0,
        lazy: false,
        onNonLazyError: () => undefined,
      });
      clients.push(client);
      return client;
    },
    async stop() {
      for (const client of clients) await client.dispose();
      for (const gateway of gateways) await gateway.server.stop();
      await listService?.stop();
      await aggregation?.stop();
      await catalog.close();
      for (const server of [products, eventsServer, recommendations]) {
        await closeServer(server.http);
        await server.apollo.stop();
      }
      await events.obliterate({ force: true }).catch(() => undefined);
      await lists.obliterate({ force: true }).catch(() => undefined);
      await events.close();
      await lists.close();
      await redis.close();
      await db.drop();
    },
  };
}

/** The next result of a subscription that satisfies `accept` (earlier ones are skipped). */
export function nextResult<T>(client: Client, query: string, variables: Record<string, unknown>, accept: (data: T) => boolean = () => true) {
  let dispose: () => void = () => undefined;
  const result = new Promise<{ data?: T | null; errors?: readonly { message: string; extensions?: Record<string, unknown> }[] }>((resolve, reject) => {
    dispose = client.subscribe<T>(
      { query, variables },
      {
        next: (value) => {
          if (value.errors !== undefined || (value.data != null && accept(value.data as T))) resolve(value as never);
        },
        error: (error) => (Array.isArray(error) ? resolve({ errors: error }) : reject(error)),
        complete: () => undefined,
      },
    );
  });
  return { result: result.finally(() => dispose()), dispose: () => dispose() };
}
