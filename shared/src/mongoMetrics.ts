import type { MongoClient } from 'mongodb';
import type { Registry } from 'prom-client';
import type { Logger } from './logger.ts';
import { counterOn, gaugeOn, histogramOn, METRIC_PREFIX } from './metrics.ts';

/** Per registry, whether each instrumented client reaches a server now (a process may hold several). */
const reachable = new WeakMap<Registry, Set<() => boolean>>();

/** Connection check-out waits, in seconds: a free connection takes well under a millisecond. */
const POOL_WAIT_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

/**
 * The driver's own monitoring events as metrics, on a connected client (created with
 * `monitorCommands: true` for command errors):
 * - recs_mongodb_up: the topology has a data-bearing server (SDAM: the last heartbeat succeeded);
 *   1 only while every instrumented client of the registry has one;
 * - recs_mongodb_command_errors_total{command}: commandFailed events (command names are the
 *   driver's, a small fixed set);
 * - recs_mongodb_pool_wait_seconds: CMAP check-out durations, failed check-outs included;
 * - recs_mongodb_reconnects_total: a server reachable again after a failed heartbeat, a cleared
 *   pool or a topology without a server, counted once per outage.
 * With a logger, the loss and the restoration are each logged once.
 */
export function instrumentMongo(client: MongoClient, registry: Registry, logger?: Logger): void {
  let probes = reachable.get(registry);
  if (probes === undefined) reachable.set(registry, (probes = new Set()));
  const all = probes;
  gaugeOn(registry, {
    name: `${METRIC_PREFIX}mongodb_up`,
    help: 'Whether MongoDB is reachable now (1/0): every client of this process has a data-bearing server in its topology.',
    collect() {
      this.set(all.size > 0 && [...all].every((up) => up()) ? 1 : 0);
    },
  });
  const commandErrors = counterOn<'command'>(registry, {
    name: `${METRIC_PREFIX}mongodb_command_errors_total`,
    help: 'MongoDB commands that failed (driver commandFailed events), by command name.',
    labelNames: ['command'],
  });
  const poolWait = histogramOn(registry, {
    name: `${METRIC_PREFIX}mongodb_pool_wait_seconds`,
    help: 'Time to check a connection out of the MongoDB driver pool (CMAP events), in seconds.',
    buckets: POOL_WAIT_BUCKETS,
  });
  const reconnects = counterOn(registry, {
    name: `${METRIC_PREFIX}mongodb_reconnects_total`,
    help: 'MongoDB reachable again after a failed heartbeat, a cleared pool or a topology without a server.',
  });

  // the client is connected: a server was selectable
  let up = true;
  let lost = false;
  const probe = () => up;
  all.add(probe);
  const losing = (why: string) => {
    if (!lost) logger?.warn({ reason: why }, 'MongoDB connection lost; reconnecting');
    lost = true;
  };
  const restored = () => {
    if (!lost) return;
    lost = false;
    reconnects.inc();
    logger?.info('MongoDB connection restored');
  };
  client.on('commandFailed', (event) => commandErrors.inc({ command: event.commandName }));
  client.on('connectionCheckedOut', (event) => poolWait.observe(event.durationMS / 1_000));
  client.on('connectionCheckOutFailed', (event) => poolWait.observe(event.durationMS / 1_000));
  client.on('serverHeartbeatFailed', (event) => losing(event.failure.message));
  client.on('connectionPoolCleared', () => losing('connection pool cleared'));
  client.on('serverHeartbeatSucceeded', restored);
  client.on('topologyDescriptionChanged', (event) => {
    up = event.newDescription.hasDataBearingServers;
    if (up) restored();
    else losing('no reachable server');
  });
  // a closed client says nothing about the server any more
  client.on('topologyClosed', () => all.delete(probe));
}
