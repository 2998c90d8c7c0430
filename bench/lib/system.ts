import { randomBytes } from 'node:crypto';
import { appendFileSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort, provisionServices, startChild, waitReady, type Child, type Services } from '@recs/devkit';
import { pooledFetch, signClientToken } from '@recs/shared';
import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';
import { parseMetrics, type Sample } from './scrape.ts';

const ROOT = join(import.meta.dirname, '..', '..');

export interface BenchSystem {
  readonly services: Services;
  readonly env: NodeJS.ProcessEnv;
  readonly gatewayUrl: string;
  readonly recommendationsUrl: string;
  readonly secret: string;
  readonly children: Map<string, Child>;
  /** The HTTP port of each process (its /metrics too): gateway, the subgraphs, workers (WORKERS_PORT). */
  readonly ports: Readonly<Record<'products' | 'events' | 'recommendations' | 'gateway' | 'workers', number>>;
  /** This run's folder under .data/, removed by stop(). */
  readonly dataDir: string;
  serviceToken: string;
  startWorkers(onLine: (line: string) => void): Promise<Child>;
  /** Calls `listener` with every log line of the workers (debug level) until the returned function is called. */
  onWorkerLine(listener: (line: string) => void): () => void;
  /**
   * A GraphQL request over the bench's pooled connections, with the service token. Never rejects:
   * a request that failed (a connection reset, a timeout) or an answer that is not JSON resolves
   * with one error saying so, so that its phase counts one failed call instead of the run ending.
   */
  post<T = any>(
    url: string,
    query: string,
    variables?: Record<string, unknown>,
    headers?: Record<string, string>,
  ): Promise<{ data?: T; errors?: { message: string }[] }>;
  ws(token?: string): Client;
  /** Resident memory of a child process, in MiB (from /proc). */
  rssMiB(name: string): number;
  /** Peak resident memory of a child process since it started, in MiB (VmHWM, from /proc). */
  peakRssMiB(name: string): number;
  /** The soft limit on open files of a child process, or of this one (`bench`). */
  openFilesLimit(name: string): number;
  /** Every process to measure: the running children, the services and this one (`bench`), name -> pid. */
  pids(): Record<string, number>;
  /** The samples of a process's /metrics now. */
  scrape(service: keyof BenchSystem['ports']): Promise<Sample[]>;
  /**
   * Runs `npm run import-events`'s script (workers/src/importEvents.ts) with `args` against the
   * bench's services and database, as a child process, echoing its progress; resolves with its
   * output lines once it exited with 0, rejects with the last of them otherwise.
   */
  importEvents(args: readonly string[]): Promise<string[]>;
  stop(): Promise<void>;
}

/** A `Vm…: N kB` line of /proc/<pid>/status, in KiB (0 when the process is gone). */
function statusKiB(pid: number | undefined, field: 'VmRSS' | 'VmHWM'): number {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    return Number(new RegExp(`${field}:\\s+(\\d+)`).exec(status)?.[1] ?? 0);
  } catch {
    return 0;
  }
}

/** The whole system as separate processes, like npm start, on fresh local services. */
export async function startBenchSystem(log: (message: string) => void): Promise<BenchSystem> {
  const dataDir = join(ROOT, '.data', `bench-${process.pid}`);
  const services = await provisionServices({ dataDir, ephemeral: true, log });
  const secret = randomBytes(32).toString('hex');
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    MONGO_URL: services.mongoUrl,
    REDIS_URL: services.redisUrl,
    MONGO_DB: 'bench',
    JWT_SECRET: secret,
    NODE_ENV: 'production',
    LOG_LEVEL: 'warn',
    // no scheduled model training in the middle of a measurement
    TRAIN_SCHEDULE: 'off',
    // every bench client connects from 127.0.0.1: the fan-out phase's 10,000 anonymous sockets
    // (one per subscriber, as browsers hold them) and the freshness phases' thousand
    // subscriptions over a few service sockets; 0 is no limit (the defaults are 200 and 20)
    MAX_CONNECTIONS_PER_IP: '0',
    MAX_CONNECTIONS_PER_IDENTITY: '0',
    MAX_SUBSCRIPTIONS_PER_CONNECTION: '100000',
    // the fan-out phase's anonymous subscribers stand for 10,000 browsers, not one client
    RATE_LIMIT_ANONYMOUS_QUERIES: '0',
  };
  const ports = {
    products: await freePort(),
    events: await freePort(),
    recommendations: await freePort(),
    gateway: await freePort(),
    workers: await freePort(),
  };
  const children = new Map<string, Child>();
  // BENCH_PROFILE=gateway,workers: those processes write V8 CPU profiles when they stop
  const profiled = new Set((process.env['BENCH_PROFILE'] ?? '').split(',').filter((name) => name !== ''));
  const profileDir = join(ROOT, 'bench', 'results', 'profiles');
  // BENCH_LOG_DIR=dir: every process logs at debug level to dir/<name>.log
  const logDir = process.env['BENCH_LOG_DIR'];
  if (logDir !== undefined) mkdirSync(logDir, { recursive: true });
  const start = (name: string, script: string, extra: NodeJS.ProcessEnv = {}, onLine?: (line: string) => void, args: readonly string[] = []) => {
    const profile = profiled.has(name)
      ? { NODE_OPTIONS: `${env['NODE_OPTIONS'] ?? ''} --cpu-prof --cpu-prof-dir=${profileDir} --cpu-prof-name=${name}-${Date.now()}.cpuprofile`.trim() }
      : {};
    const logging = logDir === undefined ? {} : { LOG_LEVEL: 'debug' };
    const lines =
      logDir === undefined
        ? onLine
        : (line: string) => {
            appendFileSync(join(logDir, `${name}.log`), `${line}\n`);
            onLine?.(line);
          };
    const child = startChild(
      name,
      join(ROOT, script),
      args,
      { ...env, ...extra, ...profile, ...logging },
      { quiet: true, ...(lines === undefined ? {} : { onLine: lines }) },
    );
    children.set(name, child);
    return child;
  };
  const echo = (name: string) => (line: string) => {
    if (!line.includes('"level":30') && !line.includes('"level":20')) log(`${name}: ${line.slice(0, 300)}`);
  };
  for (const name of ['products', 'events', 'recommendations'] as const) {
    const child = start(name, `subgraphs/${name}/index.ts`, { PORT: String(ports[name]) }, echo(name));
    await waitReady(`http://127.0.0.1:${ports[name]}/ready`, child);
  }
  const gateway = start(
    'gateway',
    'gateway/src/index.ts',
    {
      PORT: String(ports.gateway),
      PRODUCTS_URL: `http://127.0.0.1:${ports.products}/graphql`,
      EVENTS_URL: `http://127.0.0.1:${ports.events}/graphql`,
      RECOMMENDATIONS_URL: `http://127.0.0.1:${ports.recommendations}/graphql`,
    },
    echo('gateway'),
  );
  await waitReady(`http://127.0.0.1:${ports.gateway}/ready`, gateway);
  const importer = start('import', 'subgraphs/products/import.ts', {}, () => undefined);
  await importer.exited;

  const sockets: Client[] = [];
  const workerListeners = new Set<(line: string) => void>();
  // the load generator keeps a bounded pool of connections, as a fleet of storefront servers would
  const clientFetch = pooledFetch({ maxSockets: 64, timeoutMs: 60_000 });
  const serviceToken = await signClientToken({ subject: 'bench', role: 'service', expiresIn: '2h' }, secret);
  return {
    services,
    env,
    gatewayUrl: `http://127.0.0.1:${ports.gateway}/graphql`,
    recommendationsUrl: `http://127.0.0.1:${ports.recommendations}/graphql`,
    secret,
    children,
    ports,
    dataDir,
    serviceToken,
    async startWorkers(onLine) {
      let leading: () => void = () => undefined;
      const led = new Promise<void>((resolve) => (leading = resolve));
      const child = start('workers', 'workers/src/index.ts', { LOG_LEVEL: 'debug', WORKERS_PORT: String(ports.workers) }, (line) => {
        if (line.includes('leading aggregation')) leading();
        onLine(line);
        for (const listener of workerListeners) listener(line);
      });
      await led;
      return child;
    },
    onWorkerLine(listener) {
      workerListeners.add(listener);
      return () => workerListeners.delete(listener);
    },
    async post(url, query, variables = {}, headers = {}) {
      let response: Response;
      try {
        response = await clientFetch(url, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${serviceToken}`, ...headers },
          body: JSON.stringify({ query, variables }),
        });
      } catch (error) {
        const { code, message } = error as NodeJS.ErrnoException;
        return { errors: [{ message: `request failed: ${message}${code === undefined || message.includes(code) ? '' : ` (${code})`}` }] };
      }
      const text = await response.text();
      try {
        return JSON.parse(text) as never;
      } catch {
        return { errors: [{ message: `HTTP ${response.status}: ${text.slice(0, 100)}` }] };
      }
    },
    ws(token) {
      const client = createClient({
        url: `ws://127.0.0.1:${ports.gateway}/graphql`,
        webSocketImpl: WebSocket,
        connectionParams: token === undefined ? {} : { authorization: `Bearer ${token}` },
        lazy: false,
        retryAttempts: 0,
        onNonLazyError: () => undefined,
      });
      sockets.push(client);
      return client;
    },
    rssMiB(name) {
      return Math.round(statusKiB(children.get(name)?.process.pid, 'VmRSS') / 1024);
    },
    peakRssMiB(name) {
      return Math.round(statusKiB(children.get(name)?.process.pid, 'VmHWM') / 1024);
    },
    openFilesLimit(name) {
      const pid = name === 'bench' ? process.pid : children.get(name)?.process.pid;
      const limits = readFileSync(`/proc/${pid}/limits`, 'utf8');
      const soft = /^Max open files\s+(\S+)/m.exec(limits)?.[1];
      return soft === 'unlimited' ? Number.POSITIVE_INFINITY : Number(soft);
    },
    pids() {
      return {
        // not those that ended (the catalog import): CpuMeter counts the CPU of one that ends within its interval
        ...Object.fromEntries(
          [...children]
            .filter(([, child]) => child.process.exitCode === null && child.process.signalCode === null)
            .map(([name, child]) => [name, child.process.pid!]),
        ),
        ...services.pids,
        bench: process.pid,
      };
    },
    async scrape(service) {
      const response = await fetch(`http://127.0.0.1:${ports[service]}/metrics`);
      if (!response.ok) throw new Error(`${service} /metrics answered ${response.status}`);
      return parseMetrics(await response.text());
    },
    async importEvents(args) {
      const lines: string[] = [];
      const child = start(
        'import-events',
        'workers/src/importEvents.ts',
        {},
        (line) => {
          lines.push(line);
          // its progress and summary (its logs are JSON)
          if (!line.startsWith('{')) log(`  import-events: ${line}`);
        },
        args,
      );
      const code = await child.exited;
      if (code !== 0) throw new Error(`import-events exited with ${code}: ${lines.slice(-5).join(' | ')}`);
      return lines;
    },
    async stop() {
      for (const client of sockets) {
        try {
          await client.dispose();
        } catch {
          // its socket failed while connecting: nothing to close
        }
      }
      for (const child of [...children.values()].reverse()) await child.stop();
      await services.stop();
    },
  };
}
