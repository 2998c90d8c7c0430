import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

/** The LightGBM release the trainer is pinned to (installs from PyPI as a manylinux wheel). */
export const LIGHTGBM_VERSION = '4.6.0';

/** Where the trainer's Python environment lives, shared by every clone (as FerretDB's build is). */
export function defaultVenv(): string {
  return join(homedir(), '.cache', 'recs', 'venv');
}

export class PythonEnvError extends Error {
  override readonly name = 'PythonEnvError';
}

export interface PythonEnv {
  /** The venv's python3. */
  readonly python: string;
  /** Seconds spent creating the venv and installing LightGBM now; 0 when it was there already. */
  readonly installSeconds: number;
}

function run(command: string, args: readonly string[], what: string): void {
  const result = spawnSync(command, args, { stdio: ['ignore', 'inherit', 'inherit'] });
  if (result.error !== undefined) throw new PythonEnvError(`${what}: ${result.error.message}`);
  if (result.status !== 0) throw new PythonEnvError(`${what} failed (exit ${result.status ?? result.signal})`);
}

/** Whether the venv's python imports lightgbm at the pinned version. */
function hasLightgbm(python: string): boolean {
  if (!existsSync(python)) return false;
  const result = spawnSync(python, ['-c', 'import lightgbm, sys; sys.stdout.write(lightgbm.__version__)'], { encoding: 'utf8' });
  return result.status === 0 && result.stdout.trim() === LIGHTGBM_VERSION;
}

/**
 * The trainer's Python: a venv at `venv` (default ~/.cache/recs/venv) with lightgbm==LIGHTGBM_VERSION,
 * created with `python3 -m venv` and pip on first use (progress on stderr). Fails with a
 * PythonEnvError saying what to install when python3 or its venv module is missing.
 */
export function ensurePythonEnv(venv = defaultVenv(), log: (line: string) => void = (line) => console.error(line)): PythonEnv {
  const python = join(venv, 'bin', 'python3');
  if (hasLightgbm(python)) return { python, installSeconds: 0 };
  const release = lockInstall(venv, log);
  try {
    // another process may have installed it while this one waited
    if (hasLightgbm(python)) return { python, installSeconds: 0 };
    return install(venv, python, log);
  } finally {
    release();
  }
}

/** An install lock held longer than this is taken as left by a process that died. */
const STALE_LOCK_MS = 10 * 60_000;

/** Holds `<venv>.lock` (a directory: mkdir is atomic) so two processes never install at once; returns its release. */
function lockInstall(venv: string, log: (line: string) => void): () => void {
  const lock = `${venv}.lock`;
  mkdirSync(join(venv, '..'), { recursive: true });
  const waitCell = new Int32Array(new SharedArrayBuffer(4));
  let told = false;
  for (;;) {
    try {
      mkdirSync(lock);
      return () => rmSync(lock, { recursive: true, force: true });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw new PythonEnvError(`could not lock ${lock}: ${(error as Error).message}`);
      const age = Date.now() - (statSyncOrUndefined(lock)?.mtimeMs ?? Date.now());
      if (age > STALE_LOCK_MS) {
        rmSync(lock, { recursive: true, force: true });
        continue;
      }
      if (!told) log(`ranker: waiting for another process installing the Python environment (${lock})`);
      told = true;
      Atomics.wait(waitCell, 0, 0, 500);
    }
  }
}

function statSyncOrUndefined(path: string) {
  try {
    return statSync(path);
  } catch {
    return undefined;
  }
}

function install(venv: string, python: string, log: (line: string) => void): PythonEnv {
  const started = performance.now();
  const probe = spawnSync('python3', ['-c', 'import venv, ensurepip'], { encoding: 'utf8' });
  if (probe.error !== undefined) throw new PythonEnvError('python3 is not installed: install it (Debian: apt-get install python3 python3-venv)');
  if (probe.status !== 0) throw new PythonEnvError("python3's venv module (or ensurepip) is missing: install it (Debian: apt-get install python3-venv)");
  if (!existsSync(python)) {
    log(`ranker: creating a Python venv in ${venv}`);
    run('python3', ['-m', 'venv', venv], 'python3 -m venv');
  }
  log(`ranker: installing lightgbm==${LIGHTGBM_VERSION} into ${venv} (once)`);
  run(python, ['-m', 'pip', 'install', '--disable-pip-version-check', '--progress-bar', 'off', `lightgbm==${LIGHTGBM_VERSION}`], 'pip install lightgbm');
  if (!hasLightgbm(python)) throw new PythonEnvError(`lightgbm ${LIGHTGBM_VERSION} does not import in ${venv} after installing it`);
  const installSeconds = (performance.now() - started) / 1000;
  writeFileSync(join(venv, 'recs-install.json'), `${JSON.stringify({ lightgbm: LIGHTGBM_VERSION, installSeconds, at: new Date().toISOString() })}\n`);
  log(`ranker: Python environment ready in ${installSeconds.toFixed(1)} s`);
  return { python, installSeconds };
}
