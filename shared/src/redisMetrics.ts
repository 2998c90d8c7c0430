import type { Registry } from 'prom-client';
import { counterOn, gaugeOn, METRIC_PREFIX } from './metrics.ts';
import type { RedisClient } from './redis.ts';

/** Per registry, the instrumented clients (a process may hold several: commands, pub/sub). */
const clients = new WeakMap<Registry, Set<RedisClient>>();

/**
 * node-redis' events as metrics:
 * - recs_redis_up: 1 while every instrumented client of the registry is ready (isReady);
 * - recs_redis_errors_total: 'error' events (a lost connection, each failed reconnect attempt);
 * - recs_redis_reconnects_total: a client ready again after it was lost (once per outage, not per
 *   attempt).
 * A client closed on purpose ('end') leaves the set.
 */
export function instrumentRedis(client: RedisClient, registry: Registry): void {
  let instrumented = clients.get(registry);
  if (instrumented === undefined) clients.set(registry, (instrumented = new Set()));
  const all = instrumented;
  gaugeOn(registry, {
    name: `${METRIC_PREFIX}redis_up`,
    help: 'Whether Redis is reachable now (1/0): every client of this process is ready.',
    collect() {
      this.set(all.size > 0 && [...all].every((each) => each.isReady) ? 1 : 0);
    },
  });
  const errors = counterOn(registry, {
    name: `${METRIC_PREFIX}redis_errors_total`,
    help: "Redis client 'error' events (lost connections, failed reconnect attempts).",
  });
  const reconnects = counterOn(registry, { name: `${METRIC_PREFIX}redis_reconnects_total`, help: 'Redis clients ready again after a lost connection.' });

  all.add(client);
  let everReady = client.isReady;
  let lost = false;
  client.on('error', () => {
    errors.inc();
    lost = true;
  });
  client.on('reconnecting', () => {
    lost = true;
  });
  client.on('ready', () => {
    if (everReady && lost) reconnects.inc();
    everReady = true;
    lost = false;
  });
  client.on('end', () => all.delete(client));
}
