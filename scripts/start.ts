/**
 * npm start: the whole system on this machine, with demo data flowing.
 * 1. MongoDB-wire and Redis servers: MONGO_URL / REDIS_URL when set, else local ones (data kept
 *    in .data/dev between runs);
 * 2. type check (the build: Node runs the TypeScript sources) and supergraph check;
 * 3. the three subgraphs, the workers and the gateway, each its own process;
 * 4. the demo catalog (idempotent) and the clickstream simulator;
 * 5. URLs and development tokens. Ctrl-C stops everything this started.
 * Ports: GATEWAY_PORT (4000), PRODUCTS_PORT (4001), EVENTS_PORT (4002), RECOMMENDATIONS_PORT (4003).
 * SIMULATOR_RATE (events/s, default 10; 0 turns it off).
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { portAnswers, provisionServices, startChild, waitReady, type Child, type Services } from '@recs/devkit';
import { signClientToken } from '@recs/shared';
import { clearDevEnv, DEV_DIR, devJwtSecret, ROOT, writeDevEnv } from './lib/devProfile.ts';

const say = (message: string) => console.log(`\x1b[1m[recs]\x1b[0m ${message}`);
const port = (name: string, fallback: number) => Number(process.env[name] ?? fallback);
const ports = {
  gateway: port('GATEWAY_PORT', 4000),
  products: port('PRODUCTS_PORT', 4001),
  events: port('EVENTS_PORT', 4002),
  recommendations: port('RECOMMENDATIONS_PORT', 4003),
};
const rate = Number(process.env['SIMULATOR_RATE'] ?? 10);

const children: Child[] = [];
let services: Services | undefined;
let stopping = false;

async function stopAll(code: number): Promise<never> {
  if (stopping) process.exit(code);
  stopping = true;
  say('stopping...');
  for (const child of [...children].reverse()) await child.stop();
  await services?.stop();
  clearDevEnv();
  say('stopped');
  process.exit(code);
}

process.on('SIGINT', () => void stopAll(0));
process.on('SIGTERM', () => void stopAll(0));

function run(title: string, command: string, args: string[]): void {
  say(title);
  const result = spawnSync(command, args, { cwd: ROOT, stdio: 'inherit', env: process.env });
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
  services = await provisionServices({ dataDir: join(DEV_DIR, 'services'), log: (m) => say(m) });
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

  run('checking types and the supergraph (cached after the first run)', 'npx', ['turbo', 'run', 'typecheck', '--output-logs=errors-only']);
  run('checking the supergraph is composed from schema/*.graphql', process.execPath, ['schema/compose.ts', '--check']);

  const subgraphs = [
    ['products', 'subgraphs/products/index.ts', ports.products],
    ['events', 'subgraphs/events/index.ts', ports.events],
    ['recommendations', 'subgraphs/recommendations/index.ts', ports.recommendations],
  ] as const;
  for (const [name, script, listenPort] of subgraphs) watch(startChild(name, join(ROOT, script), [], { ...env, PORT: String(listenPort) }));
  watch(startChild('workers', join(ROOT, 'workers/src/index.ts'), [], env));
  const gateway = watch(
    startChild('gateway', join(ROOT, 'gateway/src/index.ts'), [], {
      ...env,
      PORT: String(ports.gateway),
      PRODUCTS_URL: `http://127.0.0.1:${ports.products}/graphql`,
      EVENTS_URL: `http://127.0.0.1:${ports.events}/graphql`,
      RECOMMENDATIONS_URL: `http://127.0.0.1:${ports.recommendations}/graphql`,
    }),
  );
  for (const [index, [, , listenPort]] of subgraphs.entries()) await waitReady(`http://127.0.0.1:${listenPort}/ready`, children[index]!);
  await waitReady(`http://127.0.0.1:${ports.gateway}/ready`, gateway);

  say('importing the demo catalog (Online Retail, CC BY 4.0)');
  const imported = spawnSync(process.execPath, [join(ROOT, 'subgraphs/products/import.ts')], { cwd: ROOT, stdio: 'inherit', env });
  if (imported.status !== 0) throw new Error('importing the demo catalog failed');

  const url = `http://localhost:${ports.gateway}/graphql`;
  const admin = await signClientToken({ subject: 'dev-admin', role: 'admin', expiresIn: '12h' }, jwtSecret);
  const shopper = await signClientToken({ subject: 'shopper-1', role: 'user', expiresIn: '12h' }, jwtSecret);
  if (rate > 0) {
    watch(startChild('simulator', join(ROOT, 'scripts/simulate.ts'), ['--url', `http://127.0.0.1:${ports.gateway}/graphql`, '--rate', String(rate)], env));
  }

  console.log(`
\x1b[1mThe system is running.\x1b[0m
  GraphQL (HTTP and WebSocket), with Apollo Sandbox:  ${url}
  Subgraphs: products :${ports.products}, events :${ports.events}, recommendations :${ports.recommendations}

Development tokens (signed with the dev-only key in .data/dev; valid 12 hours):
  admin:      ${admin}
  shopper-1:  ${shopper}

In Sandbox, set the header   Authorization: Bearer <shopper-1 token>   (for the subscription, also
under connection settings: connectionParams { "authorization": "Bearer <token>" }), then run:

  subscription { recommendationsChanged(userId: "shopper-1") { version strategy items { reasons product { name price category { name } } } } }

${rate > 0 ? `The simulator sends about ${rate} events/s and makes shopper-1 browse every few seconds, so the list changes live.` : 'The simulator is off (SIMULATOR_RATE=0).'}
Ctrl-C stops everything.
`);
} catch (error) {
  say(`failed: ${(error as Error).message}`);
  await stopAll(1);
}
