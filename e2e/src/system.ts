import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { testServices, TEST_JWT_SECRET, testDatabase, uniqueName, postGraphQL, type TestDatabase } from '@recs/devkit';
import { DEFAULT_ENGINE_CONFIG, type EngineConfig } from '@recs/engine';
import { createEventsServer } from '@recs/events';
import { Ingestor } from '@recs/events/ingest';
import { IngestMetrics } from '@recs/events/metrics';
import { EventStore } from '@recs/events/store';
import { createGatewayServer, gatewayConfig, type GatewayConfig, type GatewayServer } from '@recs/gateway';
import { createProductsServer } from '@recs/products';
import { ProductStore } from '@recs/products/store';
import { createRecommendationsServer } from '@recs/recommendations';
import { followChanges } from '@recs/recommendations/caches';
import { RecommendationStore } from '@recs/recommendations/store';
import {
  closeServer,
  connectRedis,
  createLogger,
  createRegistry,
  eventsQueue,
  instrumentMongo,
  instrumentRedis,
  listen,
  listsQueue,
  maintenanceQueue,
  RedisNames,
  redisErrorListener,
  storesReady,
  signClientToken,
  type ExperimentSetting,
  type Logger,
  type RedisClient,
  type Role,
} from '@recs/shared';
import { AggregatorService, CatalogCache, createWorkersHttpServer, ListService, ListStore, Publisher, WorkersMetrics } from '@recs/workers';
import { createClient, type Client, type ClientOptions } from 'graphql-ws';
import WebSocket from 'ws';

export interface System {
  readonly db: TestDatabase;
  readonly redis: RedisClient;
  readonly names: RedisNames;
  readonly prefix: string;
  /** HTTP URL of the (first) gateway's /graphql. */
  readonly url: string;
  readonly gateways: readonly { url: string; ws: string; server: GatewayServer }[];
  /**
   * The environment of this system's gateways (Redis, prefix, secret, subgraph URLs, test log
   * level): `gatewayConfig({ ...system.gatewayEnv, ... })` gives another gateway of it.
   */
  readonly gatewayEnv: Readonly<Record<string, string>>;
  /** Starts one more gateway on the same subgraphs, with settings of its own; resolves to its index. */
  addGateway(overrides: Partial<GatewayConfig>): Promise<number>;
  readonly catalog: CatalogCache;
  /**
   * GET /metrics of each process of the system, by its `service` label: products, events,
   * recommendations, gateway (more gateways: gateway-1, gateway-2...), and workers when they run
   * in-process.
   */
  readonly metricsUrls: Readonly<Record<string, string>>;
  token(subject: string, role: Role): Promise<string>;
  /** POSTs an operation to a gateway as `token`'s holder. */
  query<T = Record<string, any>>(
    query: string,
    variables?: Record<string, unknown>,
    token?: string,
    gateway?: number,
  ): Promise<{ data?: T | null; errors?: readonly { message: string; extensions?: Record<string, unknown> }[] }>;
  /** A graphql-ws client of a gateway, authenticated with `token` when given (no retries unless `options` say). */
  wsClient(token?: string, gateway?: number, options?: Partial<ClientOptions>): Client;
  /**
   * A subgraph's HTTP server: stop() closes it (its port refuses connections), start() listens
   * again on the same port, as a restarted process would.
   */
  subgraph(name: SubgraphName): { stop(): Promise<void>; start(): Promise<void> };
  /**
   * A gateway as a process restart would treat it: stop() stops it (its websockets close, its port
   * refuses connections), start() starts a new one with the same settings on the same port.
   */
  gateway(index?: number): { stop(): Promise<void>; start(): Promise<void> };
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
  /** Settings of every gateway that differ from the test defaults (e.g. lower limits). */
  readonly gateway?: Partial<GatewayConfig>;
  /** The recommendations subgraph's online experiment (its RECS_EXPERIMENT); default none. */
  readonly experiment?: ExperimentSetting;
}

export type SubgraphName = 'products' | 'events' | 'recommendations';

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

  // a registry per service, as each process has (runService's); they share this process's connections
  const registries = { products: createRegistry('products'), events: createRegistry('events'), recommendations: createRegistry('recommendations') };
  for (const registry of Object.values(registries)) {
    instrumentMongo(db.client, registry);
    instrumentRedis(redis, registry);
  }

  const productStore = new ProductStore(db.db, { publish: { redis, names } });
  const products = await createProductsServer({ ...common, metrics: registries.products, store: productStore });
  const eventStore = new EventStore(db.db);
  const eventsServer = await createEventsServer({
    ...common,
    metrics: registries.events,
    store: eventStore,
    ingestor: new Ingestor({ store: eventStore, queue: events, logger, metrics: new IngestMetrics(registries.events), jwtSecret: TEST_JWT_SECRET }),
  });
  // hot lists and best sellers in memory, as the recommendations process keeps them (dropped on change messages)
  const caches = await followChanges(db.db, redis, names, logger, engine, registries.recommendations);
  const recommendations = await createRecommendationsServer({
    ...common,
    metrics: registries.recommendations,
    store: new RecommendationStore(db.db, engine.bestSellerWindows, undefined, caches),
    engine,
    experiment: options.experiment,
  });
  const subgraphUrls = {
    PRODUCTS_URL: await listenOnFreePort(products.http),
    EVENTS_URL: await listenOnFreePort(eventsServer.http),
    RECOMMENDATIONS_URL: await listenOnFreePort(recommendations.http),
  };

  const catalog = new CatalogCache(db.db, logger);
  await catalog.load();
  await catalog.watch(redis, names);
  const inProcess = (options.workers ?? 'in-process') === 'in-process';
  // the in-process workers' own registry and operations port, as `npm start`'s workers process has
  const workersMetrics = inProcess ? new WorkersMetrics() : undefined;
  const maintenance = maintenanceQueue(redis, prefix);
  maintenance.on('error', redisErrorListener(logger, 'maintenance queue'));
  workersMetrics?.watchQueues({ events, lists, maintenance });
  workersMetrics?.watchInbox(db.db);
  const publisher = new Publisher(redis, names, workersMetrics);
  const aggregation = !inProcess
    ? undefined
    : new AggregatorService({
        db: db.db,
        redis,
        prefix,
        catalog,
        engine,
        lists,
        publisher,
        logger,
        ...(workersMetrics === undefined ? {} : { metrics: workersMetrics }),
        concurrency: 100,
        cacheSize: 100_000,
        // a standby takes over sooner than in production
        leaseMs: 5_000,
      });
  await aggregation?.start();
  const listService = !inProcess
    ? undefined
    : new ListService({
        store: new ListStore(db.db),
        catalog,
        engine,
        publisher,
        logger,
        local: () => aggregation?.aggregator,
        ...(workersMetrics === undefined ? {} : { metrics: workersMetrics }),
      });
  listService?.start(redis, prefix, 8);
  const workersHttp =
    workersMetrics === undefined
      ? undefined
      : createWorkersHttpServer({
          registry: workersMetrics.registry,
          ready: storesReady({ mongo: { client: db.client, db: db.db, close: async () => undefined }, redis }),
        });
  const workersMetricsUrl = workersHttp === undefined ? undefined : `http://127.0.0.1:${await listen(workersHttp, 0)}/metrics`;

  const gateways: { url: string; ws: string; server: GatewayServer }[] = [];
  // every other setting is the gateway's own default, read by the same function as in production;
  // SANDBOX is set so that a gateway a test turns to NODE_ENV=production keeps Sandbox and introspection
  const gatewayEnv = {
    REDIS_URL: redisUrl,
    QUEUE_PREFIX: prefix,
    LOG_LEVEL: 'silent',
    NODE_ENV: 'test',
    JWT_SECRET: TEST_JWT_SECRET,
    SANDBOX: 'true',
    ...subgraphUrls,
  };
  const defaults = gatewayConfig(gatewayEnv);
  const metricsUrls: Record<string, string> = {
    products: subgraphUrls.PRODUCTS_URL.replace(/\/graphql$/, '/metrics'),
    events: subgraphUrls.EVENTS_URL.replace(/\/graphql$/, '/metrics'),
    recommendations: subgraphUrls.RECOMMENDATIONS_URL.replace(/\/graphql$/, '/metrics'),
  };
  const gatewaySettings: Partial<GatewayConfig>[] = [];
  const newGateway = (overrides: Partial<GatewayConfig>) =>
    createGatewayServer({ config: { ...defaults, ...options.gateway, ...overrides }, logger, redis, metrics: createRegistry('gateway') });
  const addGateway = async (overrides: Partial<GatewayConfig>) => {
    const server = await newGateway(overrides);
    const url = await listenOnFreePort(server.http);
    gatewaySettings.push(overrides);
    gateways.push({ url, ws: url.replace(/^http/, 'ws'), server });
    // the first is `gateway`, the next ones `gateway-1`, `gateway-2`...
    metricsUrls[gateways.length === 1 ? 'gateway' : `gateway-${gateways.length - 1}`] = url.replace(/\/graphql$/, '/metrics');
    return gateways.length - 1;
  };
  for (let i = 0; i < (options.gateways ?? 1); i++) await addGateway({});

  const clients: Client[] = [];
  const subgraphServers = { products, events: eventsServer, recommendations };
  const subgraphUrlsByName = { products: subgraphUrls.PRODUCTS_URL, events: subgraphUrls.EVENTS_URL, recommendations: subgraphUrls.RECOMMENDATIONS_URL };
  return {
    db,
    redis,
    names,
    prefix,
    url: gateways[0]!.url,
    gateways,
    gatewayEnv,
    addGateway,
    catalog,
    metricsUrls: Object.assign(metricsUrls, workersMetricsUrl === undefined ? {} : { workers: workersMetricsUrl }),
    token: (subject, role) => signClientToken({ subject, role }, TEST_JWT_SECRET),
    query: (query, variables = {}, token, gateway = 0) =>
      postGraphQL(gateways[gateway]!.url, query, variables, token === undefined ? {} : { authorization: `Bearer ${token}` }),
    wsClient(token, gateway = 0, clientOptions = {}) {
      const client = createClient({
        url: gateways[gateway]!.ws,
        webSocketImpl: WebSocket,
        connectionParams: token === undefined ? {} : { authorization: `Bearer ${token}` },
        retryAttempts: 0,
        lazy: false,
        onNonLazyError: () => undefined,
        ...clientOptions,
      });
      clients.push(client);
      return client;
    },
    subgraph(name) {
      const { http } = subgraphServers[name];
      return {
        stop: () => closeServer(http),
        start: async () => {
          if (http.listening) return;
          const port = Number(new URL(subgraphUrlsByName[name]).port);
          await new Promise<void>((resolve, reject) => {
            http.once('error', reject);
            http.listen(port, '127.0.0.1', () => {
              http.off('error', reject);
              resolve();
            });
          });
        },
      };
    },
    gateway(index = 0) {
      return {
        stop: async () => {
          const { server } = gateways[index]!;
          if (server.http.listening) await server.stop();
        },
        start: async () => {
          const entry = gateways[index]!;
          if (entry.server.http.listening) return;
          const server = await newGateway(gatewaySettings[index]!);
          await listen(server.http, Number(new URL(entry.url).port));
          gateways[index] = { ...entry, server };
        },
      };
    },
    async stop() {
      for (const client of clients) await client.dispose();
      for (const gateway of gateways) if (gateway.server.http.listening) await gateway.server.stop();
      if (workersHttp !== undefined) await closeServer(workersHttp);
      await listService?.stop();
      await aggregation?.stop();
      await catalog.close();
      for (const server of [products, eventsServer, recommendations]) {
        if (server.http.listening) await closeServer(server.http);
        await server.apollo.stop();
      }
      await recommendations.experiments.close();
      await events.obliterate({ force: true }).catch(() => undefined);
      await lists.obliterate({ force: true }).catch(() => undefined);
      await maintenance.obliterate({ force: true }).catch(() => undefined);
      await events.close();
      await lists.close();
      await maintenance.close();
      await caches.close();
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
