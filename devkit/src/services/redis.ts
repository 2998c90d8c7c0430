import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { connect } from 'node:net';
import { isRoot, run, which, type Log } from './commands.ts';
import { startProcess, waitUntilReady, type ManagedProcess } from './process.ts';

/** Finds redis-server on PATH, installing Debian's package when missing and running as root. */
export async function ensureRedisServer(log: Log): Promise<string> {
  const found = which('redis-server');
  if (found !== undefined) return found;
  if (!isRoot() || which('apt-get') === undefined) {
    throw new Error('redis-server is not installed. Install it (Debian/Ubuntu: apt-get install -y redis-server) or set REDIS_URL to a running Redis.');
  }
  log('redis-server not found: installing it with apt-get (one time)');
  await run('apt-get', ['update', '-q'], { maxBuffer: 64 * 1024 * 1024 });
  await run('apt-get', ['install', '-y', '-q', 'redis-server'], {
    env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
    maxBuffer: 64 * 1024 * 1024,
  });
  const installed = which('redis-server');
  if (installed === undefined) throw new Error('apt-get installed redis-server but it is not on PATH');
  return installed;
}

/** Sends PING over a raw socket: true when the server answers +PONG (or a LOADING error while it reads its AOF, which is not ready). */
export function redisPing(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ port, host });
    let answer = '';
    socket.setTimeout(1_000, () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.on('data', (chunk) => {
      answer += chunk.toString();
      if (answer.includes('\r\n')) {
        socket.destroy();
        resolve(answer.startsWith('+PONG'));
      }
    });
    socket.once('error', () => resolve(false));
  });
}

export interface RedisServer {
  readonly url: string;
  readonly port: number;
  readonly process: ManagedProcess;
}

/**
 * Starts redis-server on 127.0.0.1:port with its files in dir. AOF is on, so a restart keeps
 * queued jobs; correctness never depends on it (MongoDB holds every accepted event).
 */
export async function startRedis({
  binary,
  dir,
  port,
  ownProcessGroup = false,
}: {
  binary: string;
  dir: string;
  port: number;
  /** See StartOptions.ownProcessGroup. */
  ownProcessGroup?: boolean;
}): Promise<RedisServer> {
  mkdirSync(dir, { recursive: true });
  const logFile = join(dir, 'redis.log');
  const proc = startProcess(
    'redis-server',
    binary,
    [
      '--port',
      String(port),
      '--bind',
      '127.0.0.1',
      '--dir',
      dir,
      '--appendonly',
      'yes',
      '--appendfsync',
      'everysec',
      '--save',
      '',
      '--daemonize',
      'no',
      '--protected-mode',
      'yes',
    ],
    { logFile, ownProcessGroup },
  );
  await waitUntilReady(proc, () => redisPing(port), { timeoutMs: 20_000, logFile });
  return { url: `redis://127.0.0.1:${port}`, port, process: proc };
}
