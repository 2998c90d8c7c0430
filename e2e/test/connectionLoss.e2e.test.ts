import { randomUUID } from 'node:crypto';
import { freePort } from '@recs/devkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OwnServers, WorkerProcess } from '../src/processes.ts';

/**
 * Redis going away and coming back, as a restart or a failover does: the service processes stay
 * up, say so once, retry, and are ready again when it returns. (Before, every BullMQ queue
 * without an 'error' listener printed each failed reconnection with its stack.)
 */
const servers = new OwnServers();
const label = `loss${randomUUID().slice(0, 8)}`;
const started: { name: string; process: WorkerProcess; readyUrl: string }[] = [];

async function startService(name: string, script: string, env: Record<string, string>, port: number): Promise<void> {
  const process = new WorkerProcess(
    { MONGO_URL: servers.mongoUrl, REDIS_URL: servers.redisUrl, MONGO_DB: label, QUEUE_PREFIX: label, LOG_LEVEL: 'debug', ...env },
    { script },
  );
  started.push({ name, process, readyUrl: `http://127.0.0.1:${port}/ready` });
  await process.waitForLog(/listening on|"msg":"workers running"/);
}

const readiness = async (url: string): Promise<number> => (await fetch(url)).status;
const alive = (process: WorkerProcess): boolean => process.child.exitCode === null && process.child.signalCode === null;

beforeAll(async () => {
  await servers.start();
  const workersPort = await freePort();
  await startService('workers', 'workers/src/index.ts', { WORKERS_PORT: String(workersPort) }, workersPort);
  const eventsPort = await freePort();
  await startService('events', 'subgraphs/events/index.ts', { PORT: String(eventsPort), JWT_SECRET: randomUUID().repeat(2) }, eventsPort);
});

afterAll(async () => {
  for (const { process } of started) await process.stop();
  await servers.stop();
});

describe('a lost Redis connection', () => {
  it('is logged once per process, retried without a crash or a stack trace, and the processes are ready again when Redis is back', async () => {
    for (const { readyUrl } of started) expect(await readiness(readyUrl)).toBe(200);
    const lost = started.map(({ process }) => process.nextLog(/Redis connection lost/));
    // three failed reconnection attempts each (node-redis backs off 50 ms, 100 ms, 200 ms...), as
    // our debug line or as anything else naming the refusal: time enough for a repeated warning
    // or an unhandled 'error' event to show
    const retried = started.map(async ({ process }) => {
      for (let attempt = 0; attempt < 3; attempt++) await process.nextLog(/"msg":"Redis unreachable"|ECONNREFUSED/);
    });
    await servers.killRedis();
    await Promise.all([...lost, ...retried]);

    for (const { name, process, readyUrl } of started) {
      expect(alive(process), name).toBe(true);
      expect(await readiness(readyUrl), name).toBe(503);
    }

    const restored = started.map(({ process }) => process.nextLog(/Redis connection restored/));
    await servers.startRedis();
    await Promise.all(restored);

    for (const { name, process, readyUrl } of started) {
      expect(alive(process), name).toBe(true);
      expect(await readiness(readyUrl), name).toBe(200);
      expect(process.output(/Redis connection lost/), name).toHaveLength(1);
      // every line is a structured log record: nothing printed an error with its stack
      expect(process.output(/^(?!\{)/), name).toEqual([]);
      // the outage is the client's one warning, not also one of every queue and worker per attempt
      expect(process.output(/"level":(40|50|60)/), name).toEqual(process.output(/Redis connection lost/));
    }
  });
});
