import { spawn, type ChildProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { freePort, portAnswers } from '@recs/devkit';
import { afterAll, describe, expect, it } from 'vitest';

/**
 * Ctrl-C on `npm start`, as a terminal sends it: SIGINT to the whole foreground process group.
 * It runs on a folder and ports of its own (RECS_DATA_DIR, *_PORT), never .data/dev or the
 * default ports, and without the type check (RECS_SKIP_CHECKS), which other tests cover. Through
 * npm on purpose: npm forwards the SIGINT it gets to the script, which so gets it twice.
 */
const ROOT = join(import.meta.dirname, '..', '..');
const dataDir = mkdtempSync(join(tmpdir(), 'recs-shutdown-'));
const lines: string[] = [];
const output = new EventEmitter<{ line: [string] }>();
let npm: ChildProcess | undefined;
let exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }> | undefined;

/** Resolves with the first line of output (past or future) matching `pattern`. */
function waitForLine(pattern: RegExp): Promise<string> {
  const seen = lines.find((line) => pattern.test(line));
  if (seen !== undefined) return Promise.resolve(seen);
  return new Promise((resolve, reject) => {
    const onLine = (line: string) => {
      if (!pattern.test(line)) return;
      output.off('line', onLine);
      resolve(line);
    };
    output.on('line', onLine);
    void exited?.then(({ code }) => reject(new Error(`npm start exited (code ${code}) before printing ${pattern}:\n${lines.join('\n')}`)));
  });
}

/** The data servers' pids, from the file npm start keeps so a later run can stop them if it crashed. */
function dataServerPids(): number[] {
  const file = join(dataDir, 'services', 'services.pid.json');
  return existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as { pids: number[] }).pids : [];
}

afterAll(async () => {
  // a failed test leaves the system running: stop it the same way, and by force if that hangs
  if (npm?.pid !== undefined && npm.exitCode === null && npm.signalCode === null) {
    process.kill(-npm.pid, 'SIGINT');
    const timer = setTimeout(() => {
      if (npm?.pid !== undefined) process.kill(-npm.pid, 'SIGKILL');
      for (const pid of dataServerPids()) process.kill(pid, 'SIGKILL');
    }, 30_000);
    await exited;
    clearTimeout(timer);
  }
  rmSync(dataDir, { recursive: true, force: true });
});

describe('npm start', () => {
  it('stops cleanly on Ctrl-C: clients before the servers they use, the data servers last, no warning or stack trace', { timeout: 180_000 }, async () => {
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      RECS_DATA_DIR: dataDir,
      RECS_SKIP_CHECKS: '1',
      RECS_IMPORT_HISTORY: '0',
      SIMULATOR_RATE: '40',
      LOG_LEVEL: 'info',
    };
    // its own data servers, key and queues: nothing of the test run's
    for (const name of ['MONGO_URL', 'REDIS_URL', 'JWT_SECRET', 'QUEUE_PREFIX', 'MONGO_DB', 'FORCE_COLOR']) delete env[name];
    for (const name of ['GATEWAY_PORT', 'PRODUCTS_PORT', 'EVENTS_PORT', 'RECOMMENDATIONS_PORT', 'WORKERS_PORT', 'PROMETHEUS_PORT', 'STOREFRONT_PORT']) {
      env[name] = String(await freePort());
    }
    // its own process group, as a terminal's foreground job: -pid signals all of it. Without the
    // prestart bootstrap: it may run `npm ci`, which must not rebuild node_modules under a test run.
    npm = spawn('npm', ['start', '--ignore-scripts'], { cwd: ROOT, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    const child = npm;
    exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
    for (const stream of [child.stdout!, child.stderr!]) {
      createInterface({ input: stream }).on('line', (line) => {
        lines.push(line);
        output.emit('line', line);
      });
    }

    const servers = await waitForLine(/MongoDB-wire server: mongodb:\/\/127\.0\.0\.1:(\d+)\/.*Redis: redis:\/\/127\.0\.0\.1:(\d+)/);
    const [, mongoPort, redisPort] = /mongodb:\/\/127\.0\.0\.1:(\d+)\/.*redis:\/\/127\.0\.0\.1:(\d+)/.exec(servers)!;
    await waitForLine(/The system is running/);
    // the simulator has loaded the catalog and sends a batch of events every 250 ms from now on:
    // requests in flight through every process while it stops
    await waitForLine(/^simulator\s+simulating \d+ shoppers/);
    const signalledAt = lines.length;
    process.kill(-child.pid!, 'SIGINT');
    const { code, signal } = await exited;

    const shutdown = lines.slice(signalledAt);
    // start.ts exits 0 once everything stopped; npm then ends as an interrupted command: with 0,
    // or by the SIGINT it was sent (130 in a shell) because its `sh -c` (dash) ends so when it
    // got one while waiting. What tells an orderly stop apart is the output below.
    expect(code === 0 || (code === null && signal === 'SIGINT'), `exit ${code} ${signal}\n${lines.join('\n')}`).toBe(true);
    expect(lines.at(-1)).toMatch(/\[recs\]\S* stopped$/);
    expect(
      lines.filter((line) => /Error:|^\s+at /.test(line)),
      'stack traces',
    ).toEqual([]);
    expect(
      shutdown.filter((line) => /\b(WARN|ERROR|FATAL)\b|unexpectedly|connection lost|killing/.test(line)),
      'warnings while stopping',
    ).toEqual([]);
    // each client stopped before what it uses: the simulator, the storefront, the gateway, the workers, the
    // subgraphs (in reverse start order), then the data servers
    const order = shutdown.flatMap((line) => {
      const stopped = /^(\w+)\s+(?:\S+ info\s+stopped$|stopped after)/.exec(line);
      // start.ts says "stopped" once the data servers have
      return stopped === null ? (/\[recs\].* stopped$/.test(line) ? ['data servers'] : []) : [stopped[1]];
    });
    expect(order).toEqual(['simulator', 'storefront', 'gateway', 'workers', 'recommendations', 'events', 'products', 'data servers']);
    expect(await portAnswers(Number(mongoPort))).toBe(false);
    expect(await portAnswers(Number(redisPort))).toBe(false);
    expect(dataServerPids()).toEqual([]);
  });
});
