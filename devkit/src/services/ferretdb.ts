import { createHash } from 'node:crypto';
import { chmodSync, cpSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { MongoClient } from 'mongodb';
import { run, which, type Log } from './commands.ts';
import { startProcess, waitUntilReady, type ManagedProcess } from './process.ts';

export const FERRETDB_MODULE = 'github.com/FerretDB/FerretDB';
export const FERRETDB_VERSION = 'v1.24.2';
const PATCH_FILE = join(dirname(fileURLToPath(import.meta.url)), '../../ferretdb/ferretdb-1.24.2.patch');

/** Where built servers are cached, shared by every clone of the project on this machine. */
export function toolCacheDir(): string {
  return join(process.env['XDG_CACHE_HOME'] ?? join(homedir(), '.cache'), 'recs');
}

/**
 * A FerretDB binary: FERRETDB_BIN when set, else a cached build of FerretDB 1.24.2 with the
 * project's patch (devkit/ferretdb/), else one built now from the Go module proxy.
 *
 * `go install module@version` cannot be used: it asks the proxy for the module's version list
 * (to print deprecation notices) and some proxies refuse that request. Downloading the exact
 * version and building it is equivalent, and lets the patch be applied.
 */
export async function ensureFerretdb(log: Log): Promise<string> {
  const configured = process.env['FERRETDB_BIN'];
  if (configured !== undefined && configured !== '') {
    if (!existsSync(configured)) throw new Error(`FERRETDB_BIN=${configured} does not exist`);
    return configured;
  }
  const patch = readFileSync(PATCH_FILE);
  const key = createHash('sha256').update(FERRETDB_VERSION).update(patch).digest('hex').slice(0, 12);
  const binary = join(toolCacheDir(), 'bin', `ferretdb-${FERRETDB_VERSION}-${key}`);
  if (existsSync(binary)) return binary;

  const go = which('go');
  if (go === undefined) {
    throw new Error(
      'FerretDB must be built from source and Go is not installed. Install Go (https://go.dev/dl/), ' +
        'set FERRETDB_BIN to a FerretDB 1.24 binary, or set MONGO_URL to a running MongoDB.',
    );
  }
  const started = Date.now();
  log(`building FerretDB ${FERRETDB_VERSION} with the project's patch (one time, about 1-2 minutes)`);
  mkdirSync(toolCacheDir(), { recursive: true });
  const { stdout } = await run(go, ['mod', 'download', '-json', `${FERRETDB_MODULE}@${FERRETDB_VERSION}`], {
    cwd: toolCacheDir(),
    maxBuffer: 16 * 1024 * 1024,
  }).catch((error: unknown) => {
    throw new Error(`could not download ${FERRETDB_MODULE}@${FERRETDB_VERSION} from the Go module proxy: ${String(error)}`);
  });
  const moduleDir = (JSON.parse(stdout) as { Dir?: string }).Dir;
  if (moduleDir === undefined) throw new Error(`go mod download gave no source directory: ${stdout}`);

  const src = join(toolCacheDir(), 'build', `ferretdb-${key}`);
  rmSync(src, { recursive: true, force: true });
  mkdirSync(dirname(src), { recursive: true });
  cpSync(moduleDir, src, { recursive: true });
  await run('chmod', ['-R', 'u+w', src]);
  // The module zip leaves out the generated version file that the binary checks at start-up.
  writeFileSync(join(src, 'build/version/version.txt'), `${FERRETDB_VERSION}\n`);
  await run('patch', ['-p1', '-d', src, '-i', PATCH_FILE]);
  const tmp = `${binary}.tmp-${process.pid}`;
  mkdirSync(dirname(binary), { recursive: true });
  await run(go, ['build', '-trimpath', '-o', tmp, './cmd/ferretdb'], {
    cwd: src,
    env: { ...process.env, CGO_ENABLED: '0' },
    maxBuffer: 64 * 1024 * 1024,
  });
  chmodSync(tmp, 0o755);
  renameSync(tmp, binary);
  rmSync(src, { recursive: true, force: true });
  log(`built FerretDB in ${((Date.now() - started) / 1000).toFixed(0)} s: ${binary}`);
  return binary;
}

export async function mongoPing(url: string): Promise<boolean> {
  const client = new MongoClient(url, { serverSelectionTimeoutMS: 1_000, connectTimeoutMS: 1_000 });
  try {
    await client.connect();
    await client.db('admin').command({ ping: 1 });
    return true;
  } catch {
    return false;
  } finally {
    await client.close().catch(() => undefined);
  }
}

export interface MongoServer {
  readonly url: string;
  readonly port: number;
  readonly kind: 'ferretdb' | 'mongod';
  readonly process: ManagedProcess;
}

/**
 * FerretDB with its SQLite backend. WAL with synchronous=NORMAL by default: committed data
 * survives the server process being killed (what the fault tests do); only an operating-system
 * crash can lose the last commits, which is acceptable for a development server.
 * FERRETDB_SYNCHRONOUS (NORMAL, FULL, OFF) changes it.
 */
/** Where and how to start a MongoDB-wire server (ownProcessGroup: see StartOptions). */
export interface MongoServerOptions {
  readonly binary: string;
  readonly dir: string;
  readonly port: number;
  readonly ownProcessGroup?: boolean;
}

export async function startFerretdb({ binary, dir, port, ownProcessGroup = false }: MongoServerOptions): Promise<MongoServer> {
  const synchronous = process.env['FERRETDB_SYNCHRONOUS'] ?? 'NORMAL';
  if (!['NORMAL', 'FULL', 'OFF'].includes(synchronous)) throw new Error(`FERRETDB_SYNCHRONOUS must be NORMAL, FULL or OFF, not ${synchronous}`);
  mkdirSync(dir, { recursive: true });
  const logFile = join(dir, 'ferretdb.log');
  const proc = startProcess(
    'ferretdb',
    binary,
    [
      '--handler=sqlite',
      `--sqlite-url=file:${dir}/?_pragma=synchronous(${synchronous})`,
      `--listen-addr=127.0.0.1:${port}`,
      `--state-dir=${dir}`,
      // FERRETDB_DEBUG_ADDR (host:port) serves FerretDB's metrics and Go profiler, for diagnosis
      `--debug-addr=${process.env['FERRETDB_DEBUG_ADDR'] ?? '-'}`,
      '--telemetry=disable',
      '--log-level=warn',
    ],
    { logFile, ownProcessGroup },
  );
  const url = `mongodb://127.0.0.1:${port}/`;
  await waitUntilReady(proc, () => mongoPing(url), { timeoutMs: 30_000, logFile });
  return { url, port, kind: 'ferretdb', process: proc };
}

/** A real mongod, used instead of FerretDB when one is on PATH. */
export async function startMongod({ binary, dir, port, ownProcessGroup = false }: MongoServerOptions): Promise<MongoServer> {
  mkdirSync(dir, { recursive: true });
  const logFile = join(dir, 'mongod.log');
  const proc = startProcess('mongod', binary, ['--dbpath', dir, '--port', String(port), '--bind_ip', '127.0.0.1', '--quiet'], {
    logFile,
    ownProcessGroup,
  });
  const url = `mongodb://127.0.0.1:${port}/`;
  await waitUntilReady(proc, () => mongoPing(url), { timeoutMs: 60_000, logFile });
  return { url, port, kind: 'mongod', process: proc };
}
