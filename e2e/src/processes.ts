import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { ensureFerretdb, ensureRedisServer, freePort, startFerretdb, startRedis, type MongoServer, type RedisServer } from '@recs/devkit';

const ROOT = join(import.meta.dirname, '..', '..');

/**
 * A MongoDB-wire server and a Redis server of the test's own, on fixed ports so they can be
 * killed and started again where clients expect them.
 */
export class OwnServers {
  private readonly dir = mkdtempSync(join(tmpdir(), 'recs-faults-'));
  private mongo: MongoServer | undefined;
  private redis: RedisServer | undefined;
  private mongoPort = 0;
  private redisPort = 0;
  private redisRuns = 0;

  get mongoUrl(): string {
    return `mongodb://127.0.0.1:${this.mongoPort}/`;
  }

  get redisUrl(): string {
    return `redis://127.0.0.1:${this.redisPort}`;
  }

  async start(): Promise<void> {
    this.mongoPort = await freePort();
    this.redisPort = await freePort();
    await this.startMongo();
    await this.startRedis();
  }

  async startMongo(): Promise<void> {
    this.mongo = await startFerretdb({ binary: await ensureFerretdb(() => undefined), dir: join(this.dir, 'ferretdb'), port: this.mongoPort });
  }

  /** A crash: SIGKILL. */
  async killMongo(): Promise<void> {
    await this.mongo?.process.kill();
  }

  /** `fresh`: the restarted Redis has lost everything (as if it ran without persistence). */
  async startRedis({ fresh = false } = {}): Promise<void> {
    if (fresh) this.redisRuns++;
    this.redis = await startRedis({ binary: await ensureRedisServer(() => undefined), dir: join(this.dir, `redis-${this.redisRuns}`), port: this.redisPort });
  }

  async killRedis(): Promise<void> {
    await this.redis?.process.kill();
  }

  async stop(): Promise<void> {
    await this.redis?.process.stop();
    await this.mongo?.process.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/**
 * A worker process whose log lines a test can wait for: workers/src/index.ts, or another entry
 * script of the repository (a test's, such as workers/test/crashingWorker.ts) with its arguments.
 */
export class WorkerProcess {
  readonly child: ChildProcess;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  private readonly lines: string[] = [];
  private readonly waiters: { pattern: RegExp; resolve: (line: string) => void }[] = [];

  constructor(env: NodeJS.ProcessEnv, { script = 'workers/src/index.ts', args = [] }: { script?: string; args?: readonly string[] } = {}) {
    // WORKERS_PORT 0: each worker's metrics port is a free one, so several run side by side;
    // no scheduled model training (a test that trains runs the job itself)
    this.child = spawn(process.execPath, [join(ROOT, script), ...args], {
      env: { ...process.env, WORKERS_PORT: '0', TRAIN_SCHEDULE: 'off', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.exited = new Promise((resolve) => this.child.once('exit', (code, signal) => resolve({ code, signal })));
    for (const stream of [this.child.stdout!, this.child.stderr!]) {
      createInterface({ input: stream }).on('line', (line) => {
        this.lines.push(line);
        if (process.env['TEST_LOG_LEVEL'] !== undefined) console.log(`[worker ${this.child.pid}] ${line}`);
        for (const waiter of [...this.waiters]) {
          if (waiter.pattern.test(line)) {
            this.waiters.splice(this.waiters.indexOf(waiter), 1);
            waiter.resolve(line);
          }
        }
      });
    }
  }

  /** Resolves with the first log line (past or future) matching `pattern`. */
  waitForLog(pattern: RegExp): Promise<string> {
    const seen = this.lines.find((line) => pattern.test(line));
    if (seen !== undefined) return Promise.resolve(seen);
    return new Promise((resolve) => this.waiters.push({ pattern, resolve }));
  }

  /** Resolves with the next log line (from now on) matching `pattern`. */
  nextLog(pattern: RegExp): Promise<string> {
    return new Promise((resolve) => this.waiters.push({ pattern, resolve }));
  }

  logged(pattern: RegExp): boolean {
    return this.lines.some((line) => pattern.test(line));
  }

  /** Every line so far matching `pattern` (every line without one). */
  output(pattern?: RegExp): string[] {
    return pattern === undefined ? [...this.lines] : this.lines.filter((line) => pattern.test(line));
  }

  async kill(): Promise<void> {
    this.child.kill('SIGKILL');
    await this.exited;
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    this.child.kill('SIGTERM');
    await this.exited;
  }
}
