import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { which, type Log } from './commands.ts';
import { ensureFerretdb, startFerretdb, startMongod, type MongoServer } from './ferretdb.ts';
import { freePort } from './ports.ts';
import { ensureRedisServer, startRedis, type RedisServer } from './redis.ts';

export interface Services {
  readonly mongoUrl: string;
  readonly redisUrl: string;
  /** What serves MONGO_URL: 'external' when it came from the environment. */
  readonly mongoKind: 'external' | 'ferretdb' | 'mongod';
  readonly redisKind: 'external' | 'redis-server';
  /** Process ids of the servers this call started, by kind (for resource accounting). */
  readonly pids: Readonly<Record<string, number>>;
  /** Stops the servers this call started; servers from the environment are left alone. */
  stop(): Promise<void>;
}

export interface ProvisionOptions {
  /** Folder for the servers' data and logs (created; git-ignored under .data/). */
  readonly dataDir: string;
  readonly env?: NodeJS.ProcessEnv;
  readonly log?: Log;
  /** Fixed ports; a free port is picked for each one left out. */
  readonly mongoPort?: number;
  readonly redisPort?: number;
  /** Remove dataDir after stopping (test runs). */
  readonly ephemeral?: boolean;
  /**
   * Start the servers in process groups of their own, so a Ctrl-C in the terminal reaches only
   * the caller, which stops them once the processes using them have exited (npm start).
   */
  readonly ownProcessGroup?: boolean;
}

interface PidFile {
  pids: number[];
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Servers left behind by a run that crashed before it could stop them. */
function stopOrphans(pidFile: string, log: Log): void {
  if (!existsSync(pidFile)) return;
  try {
    const { pids } = JSON.parse(readFileSync(pidFile, 'utf8')) as PidFile;
    for (const pid of pids.filter(alive)) {
      log(`stopping server left running by an earlier run (pid ${pid})`);
      process.kill(pid, 'SIGKILL');
    }
  } catch {
    // unreadable: nothing to clean up
  }
  rmSync(pidFile, { force: true });
}

/**
 * Makes a MongoDB-wire server and a Redis server available. MONGO_URL / REDIS_URL win when set;
 * otherwise local servers are started under dataDir: mongod if it is on PATH, else FerretDB 1.24
 * (built on first use), and Debian's redis-server (installed on first use when running as root).
 */
export async function provisionServices(options: ProvisionOptions): Promise<Services> {
  const env = options.env ?? process.env;
  const log = options.log ?? ((message: string) => console.error(`[services] ${message}`));
  mkdirSync(options.dataDir, { recursive: true });
  const pidFile = join(options.dataDir, 'services.pid.json');
  const ownProcessGroup = options.ownProcessGroup === true;
  stopOrphans(pidFile, log);

  const started: { stop(): Promise<void>; pid: number }[] = [];
  const record = (): void => writeFileSync(pidFile, JSON.stringify({ pids: started.map((s) => s.pid) } satisfies PidFile));
  const stopAll = async (): Promise<void> => {
    await Promise.all(started.map((s) => s.stop()));
    rmSync(pidFile, { force: true });
    if (options.ephemeral === true) rmSync(options.dataDir, { recursive: true, force: true });
  };

  try {
    let redis: RedisServer | undefined;
    const redisUrl = env['REDIS_URL'];
    if (redisUrl === undefined || redisUrl === '') {
      const binary = await ensureRedisServer(log);
      redis = await startRedis({ binary, dir: join(options.dataDir, 'redis'), port: options.redisPort ?? (await freePort()), ownProcessGroup });
      started.push({ pid: redis.process.pid, stop: () => redis!.process.stop() });
      record();
    }

    let mongo: MongoServer | undefined;
    const mongoUrl = env['MONGO_URL'];
    if (mongoUrl === undefined || mongoUrl === '') {
      const port = options.mongoPort ?? (await freePort());
      const mongod = which('mongod');
      mongo =
        mongod !== undefined
          ? await startMongod({ binary: mongod, dir: join(options.dataDir, 'mongod'), port, ownProcessGroup })
          : await startFerretdb({ binary: await ensureFerretdb(log), dir: join(options.dataDir, 'ferretdb'), port, ownProcessGroup });
      started.push({ pid: mongo.process.pid, stop: () => mongo!.process.stop() });
      record();
    }

    const pids: Record<string, number> = {};
    if (mongo !== undefined) pids[mongo.kind] = mongo.process.pid;
    if (redis !== undefined) pids['redis'] = redis.process.pid;
    return {
      pids,
      mongoUrl: mongo?.url ?? mongoUrl!,
      redisUrl: redis?.url ?? redisUrl!,
      mongoKind: mongo?.kind ?? 'external',
      redisKind: redis === undefined ? 'external' : 'redis-server',
      stop: stopAll,
    };
  } catch (error) {
    await stopAll();
    throw error;
  }
}
