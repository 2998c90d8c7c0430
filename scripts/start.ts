/**
 * npm start: the whole system on this machine, with demo data flowing.
 * 1. MongoDB-wire and Redis servers: MONGO_URL / REDIS_URL when set, else local ones (data kept
 *    in .data/dev between runs);
 * 2. type check (the build: Node runs the TypeScript sources) and supergraph check;
 * 3. the three subgraphs, the workers and the gateway, each its own process;
 * 4. the demo catalog (idempotent), a year of the catalog's real purchases (Online Retail, shifted
 *    to end now; once: skipped when already imported), the demo storefront (its page calls the
 *    gateway from the browser, so the gateway allows its origin: CORS_ORIGINS) and the clickstream
 *    simulator, whose shoppers include some of the dataset's real customers;
 * 5. URLs and development tokens.
 * Ctrl-C stops everything this started, clients before the servers they use: the simulator, the
 * storefront, the gateway, the workers, the subgraphs, then the data servers. Every child runs in a process group
 * of its own so the terminal's SIGINT reaches only this script, which decides that order (when
 * the data servers went down with the services, the services logged lost connections while
 * draining). A second Ctrl-C (a second later; npm forwards the first one too) kills what is left.
 * Ports: GATEWAY_PORT (4000), PRODUCTS_PORT (4001), EVENTS_PORT (4002), RECOMMENDATIONS_PORT (4003),
 * WORKERS_PORT (4004: the workers' /metrics), PROMETHEUS_PORT (9090: a local Prometheus scraping them all),
 * STOREFRONT_PORT (3000: the demo shop).
 * SIMULATOR_RATE (events/s, default 10; 0 turns it off).
 * RECS_IMPORT_HISTORY=0 skips importing the purchase history (tests of this script).
 * RECS_DATA_DIR: the folder of the data servers, the dev key and services.env (.data/dev).
 * RECS_SKIP_CHECKS=1 skips the type check and the supergraph check (tests of this script).
 */
import { spawnSync } from 'node:child_process';
import { join, relative } from 'node:path';
import { portAnswers, provisionServices, startChild, waitReady, type Child, type ChildOptions, type Services } from '@recs/devkit';
import { COLLECTIONS, signClientToken } from '@recs/shared';
import { REAL_CUSTOMERS } from '@recs/storefront';
import { MongoClient } from 'mongodb';
import { clearDevEnv, DEV_DIR, devJwtSecret, ROOT, writeDevEnv } from './lib/devProfile.ts';
import { startLocalPrometheus, type LocalPrometheus } from './lib/localPrometheus.ts';

const say = (message: string) => console.log(`\x1b[1m[recs]\x1b[0m ${message}`);
const port = (name: string, fallback: number) => Number(process.env[name] ?? fallback);
const ports = {
  gateway: port('GATEWAY_PORT', 4000),
  products: port('PRODUCTS_PORT', 4001),
  events: port('EVENTS_PORT', 4002),
  recommendations: port('RECOMMENDATIONS_PORT', 4003),
  workers: port('WORKERS_PORT', 4004),
  storefront: port('STOREFRONT_PORT', 3000),
};
const rate = Number(process.env['SIMULATOR_RATE'] ?? 10);
const skipChecks = process.env['RECS_SKIP_CHECKS'] === '1';
const importHistory = process.env['RECS_IMPORT_HISTORY'] !== '0';
const HISTORY_FILE = join(ROOT, 'data/online-retail/online-retail-2010-12-to-2011-10.csv.gz');
/** The raw event of the dataset's first purchase line: eventKey('17850', 'or-536365-85123A-1'), as import-events names it. */
const HISTORY_MARKER = '17850\tor-536365-85123A-1';
/** Children do not see the terminal's Ctrl-C: stopAll stops them in order. */
const OWN_GROUP: ChildOptions = { ownProcessGroup: true };

/** In start order; stopped in reverse (each client before what it uses). */
const children: Child[] = [];
let provisioning: Promise<Services> | undefined;
let services: Services | undefined;
let prometheus: LocalPrometheus | undefined;
let stopping = false;
let exitCode = 0;
let firstSignalAt = 0;

async function stopAll(code: number): Promise<void> {
  if (stopping) return;
  stopping = true;
  exitCode = code;
  say('stopping: the simulator, the storefront and the gateway, the workers, the subgraphs, then the data servers');
  // Prometheus first: it scrapes the services
  await prometheus?.process.stop();
  for (const child of [...children].reverse()) await child.stop();
  // servers still starting when the signal came are stopped too
  const started = services ?? (await provisioning?.catch(() => undefined));
  await started?.stop();
  services = undefined;
  clearDevEnv();
  say('stopped');
  process.exit(exitCode);
}

function onSignal(signal: NodeJS.Signals): void {
  if (!stopping) {
    firstSignalAt = Date.now();
    void stopAll(0);
  } else if (Date.now() - firstSignalAt > 1_000) {
    // a second Ctrl-C: do not wait for the services to drain (the data servers still stop cleanly)
    say(`${signal} again: killing the services`);
    exitCode = 130;
    for (const child of children) child.process.kill('SIGKILL');
  }
}
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(signal, onSignal);
// The children are in their own process groups, so nothing else would stop them if this script
// ended another way (an uncaught error): kill whatever is still running on the way out.
process.on('exit', () => {
  for (const child of children) if (child.process.exitCode === null && child.process.signalCode === null) child.process.kill('SIGKILL');
  for (const pid of Object.values(services?.pids ?? {})) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
});

class Interrupted extends Error {}

/**
 * The Online Retail purchases, once: the import is idempotent, but a re-run still reads the file,
 * so a marker (the dataset's first purchase, as the import names it) says it is done.
 */
async function importPurchaseHistory(env: NodeJS.ProcessEnv): Promise<void> {
  const client = await MongoClient.connect(env['MONGO_URL']!);
  try {
    const done = await client
      .db(env['MONGO_DB'])
      .collection(COLLECTIONS.events)
      .findOne({ _id: HISTORY_MARKER as never }, { projection: { _id: 1 } });
    if (done !== null) {
      say('the Online Retail purchase history is imported already');
      return;
    }
  } finally {
    await client.close();
  }
  say('importing a year of real purchases (Online Retail, shifted to end now; once)');
  const started = Date.now();
  const result = spawnSync(
    process.execPath,
    [join(ROOT, 'workers/src/importEvents.ts'), '--file', HISTORY_FILE, '--format', 'online-retail', '--shift-to-now'],
    {
      cwd: ROOT,
      stdio: 'inherit',
      env,
    },
  );
  if (result.signal !== null) throw new Interrupted('importing the purchase history');
  if (result.status !== 0) throw new Error('importing the purchase history failed');
  say(`purchase history imported in ${((Date.now() - started) / 1000).toFixed(1)} s`);
}

function run(title: string, command: string, args: string[]): void {
  say(title);
  const result = spawnSync(command, args, { cwd: ROOT, stdio: 'inherit', env: process.env });
  // the step shares the terminal's process group: a Ctrl-C stops it, and then this script
  if (result.signal !== null) throw new Interrupted(title);
  if (result.status !== 0) throw new Error(`${title} failed`);
}

function watch(child: Child): Child {
  children.push(child);
  void child.exited.then((code) => {
    if (!stopping) {
      say(`${child.name} exited unexpectedly (code ${code}); stopping everything`);
      void stopAll(1);
    }
  });
  return child;
}

try {
  for (const [name, value] of Object.entries(ports)) {
    if (await portAnswers(value)) throw new Error(`port ${value} (${name}) is in use: stop what uses it, or set ${name.toUpperCase()}_PORT`);
  }
  provisioning = provisionServices({ dataDir: join(DEV_DIR, 'services'), log: (m) => say(m), ownProcessGroup: true });
  services = await provisioning;
  say(`MongoDB-wire server: ${services.mongoUrl} (${services.mongoKind}); Redis: ${services.redisUrl} (${services.redisKind})`);
  const jwtSecret = devJwtSecret();
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    MONGO_URL: services.mongoUrl,
    REDIS_URL: services.redisUrl,
    MONGO_DB: process.env['MONGO_DB'] ?? 'recs',
    JWT_SECRET: jwtSecret,
    NODE_ENV: process.env['NODE_ENV'] ?? 'development',
    LOG_LEVEL: process.env['LOG_LEVEL'] ?? 'info',
  };
  writeDevEnv({ MONGO_URL: services.mongoUrl, REDIS_URL: services.redisUrl, MONGO_DB: env['MONGO_DB']!, JWT_SECRET: jwtSecret });

  if (skipChecks) say('RECS_SKIP_CHECKS=1: not checking types and the supergraph');
  else {
    run('checking types and the supergraph (cached after the first run)', 'npx', ['turbo', 'run', 'typecheck', '--output-logs=errors-only']);
    run('checking the supergraph is composed from schema/*.graphql', process.execPath, ['schema/compose.ts', '--check']);
  }

  const subgraphs = [
    ['products', 'subgraphs/products/index.ts', ports.products],
    ['events', 'subgraphs/events/index.ts', ports.events],
    ['recommendations', 'subgraphs/recommendations/index.ts', ports.recommendations],
  ] as const;
  // the demo runs an experiment: storefront shoppers split between two serving policies (README: Experiments and attribution)
  const experiment = process.env['RECS_EXPERIMENT'] ?? 'storefront:blend=50,ranker=50';
  for (const [name, script, listenPort] of subgraphs) {
    watch(
      startChild(
        name,
        join(ROOT, script),
        [],
        { ...env, PORT: String(listenPort), ...(name === 'recommendations' ? { RECS_EXPERIMENT: experiment } : {}) },
        OWN_GROUP,
      ),
    );
  }
  watch(startChild('workers', join(ROOT, 'workers/src/index.ts'), [], env, OWN_GROUP));
  const gateway = watch(
    startChild(
      'gateway',
      join(ROOT, 'gateway/src/index.ts'),
      [],
      {
        ...env,
        PORT: String(ports.gateway),
        PRODUCTS_URL: `http://127.0.0.1:${ports.products}/graphql`,
        EVENTS_URL: `http://127.0.0.1:${ports.events}/graphql`,
        RECOMMENDATIONS_URL: `http://127.0.0.1:${ports.recommendations}/graphql`,
        CORS_ORIGINS: [process.env['CORS_ORIGINS'], `http://localhost:${ports.storefront}`, `http://127.0.0.1:${ports.storefront}`].filter(Boolean).join(','),
      },
      OWN_GROUP,
    ),
  );
  for (const [index, [, , listenPort]] of subgraphs.entries()) await waitReady(`http://127.0.0.1:${listenPort}/ready`, children[index]!);
  await waitReady(`http://127.0.0.1:${ports.gateway}/ready`, gateway);
  prometheus = await startLocalPrometheus({ root: ROOT, dir: join(DEV_DIR, 'prometheus'), ports, say });

  say('importing the demo catalog (Online Retail, CC BY 4.0)');
  const imported = spawnSync(process.execPath, [join(ROOT, 'subgraphs/products/import.ts')], { cwd: ROOT, stdio: 'inherit', env });
  if (imported.signal !== null) throw new Interrupted('importing the demo catalog');
  if (imported.status !== 0) throw new Error('importing the demo catalog failed');
  if (importHistory) await importPurchaseHistory(env);
  else say('RECS_IMPORT_HISTORY=0: not importing the purchase history');

  const url = `http://localhost:${ports.gateway}/graphql`;
  const shop = `http://localhost:${ports.storefront}/`;
  const storefront = watch(
    startChild(
      'storefront',
      join(ROOT, 'storefront/src/index.ts'),
      [],
      { ...env, STOREFRONT_PORT: String(ports.storefront), GATEWAY_PUBLIC_URL: url },
      OWN_GROUP,
    ),
  );
  await waitReady(`http://127.0.0.1:${ports.storefront}/health`, storefront);
  const admin = await signClientToken({ subject: 'dev-admin', role: 'admin', expiresIn: '12h' }, jwtSecret);
  const shopper = await signClientToken({ subject: 'shopper-1', role: 'user', expiresIn: '12h' }, jwtSecret);
  if (rate > 0) {
    watch(
      startChild(
        'simulator',
        join(ROOT, 'scripts/simulate.ts'),
        ['--url', `http://127.0.0.1:${ports.gateway}/graphql`, '--rate', String(rate), ...(importHistory ? ['--user-ids', REAL_CUSTOMERS.join(',')] : [])],
        env,
        OWN_GROUP,
      ),
    );
  }

  console.log(`
\x1b[1mThe system is running.\x1b[0m
  Storefront (live widgets; pick a customer at the top):  \x1b[1m${shop}\x1b[0m
  GraphQL (HTTP and WebSocket), with Apollo Sandbox:  ${url}
  Subgraphs: products :${ports.products}, events :${ports.events}, recommendations :${ports.recommendations}
${prometheus?.banner ?? '  Prometheus: not running (see "Prometheus skipped" above)'}

Development tokens (signed with the dev-only key in ${relative(ROOT, DEV_DIR) || DEV_DIR}; valid 12 hours):
  admin:      ${admin}
  shopper-1:  ${shopper}

In Sandbox, set the header   Authorization: Bearer <shopper-1 token>   (for the subscription, also
under connection settings: connectionParams { "authorization": "Bearer <token>" }), then run:

  subscription { recommendationsChanged(userId: "shopper-1") { version strategy items { reasons product { name price category { name } } } } }

Experiment ${experiment}: shoppers are split between its serving policies; clicks, basket adds and purchases in the
storefront's "Recommended for you" are attributed. As admin, in Sandbox:  query { experimentReport(name: "${experiment.split(':')[0]}") { variants { variant users clickThroughRate { value low high } conversionRate { value low high } } } }
The ranking model: \`npm run train\` (in another shell, about 3 minutes) trains it on the history, judges it on the last
28 days and promotes it when it beats the blend; the \`ranker\` variant is then served its order (the blend until then).

${rate > 0 ? `The simulator sends about ${rate} events/s and makes shopper-1 browse every few seconds, so the list changes live.` : 'The simulator is off (SIMULATOR_RATE=0).'}
Ctrl-C stops everything.
`);
} catch (error) {
  if (error instanceof Interrupted) await stopAll(0);
  else {
    say(`failed: ${(error as Error).message}`);
    await stopAll(1);
  }
}
