import { spawn } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { connect } from 'node:net';
import { setTimeout as delay } from 'node:timers/promises';

/** A server process this tooling started and is responsible for stopping. */
export interface ManagedProcess {
  readonly name: string;
  readonly pid: number;
  /** Resolves with the exit code (or null when killed by a signal) once the process has exited. */
  readonly exited: Promise<number | null>;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves once the process is gone. */
  stop(graceMs?: number): Promise<void>;
  /** SIGKILL at once: a crash, for fault tests. */
  kill(): Promise<void>;
}

export interface StartOptions {
  readonly logFile: string;
  readonly env?: NodeJS.ProcessEnv;
  readonly cwd?: string;
  /**
   * Start it in a process group of its own, so a Ctrl-C in the terminal (SIGINT to the whole
   * foreground group) does not reach it: the caller stops it, after the processes that use it.
   */
  readonly ownProcessGroup?: boolean;
}

export function startProcess(name: string, command: string, args: readonly string[], options: StartOptions): ManagedProcess {
  const log = createWriteStream(options.logFile, { flags: 'a' });
  const child = spawn(command, args, {
    cwd: options.cwd,
    env: options.env ?? process.env,
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: options.ownProcessGroup === true,
  });
  child.stdout.pipe(log, { end: false });
  child.stderr.pipe(log, { end: false });
  if (child.pid === undefined) {
    throw new Error(`${name}: could not start ${command}`);
  }
  const exited = new Promise<number | null>((resolve) => {
    child.once('exit', (code) => {
      log.end();
      resolve(code);
    });
    child.once('error', () => resolve(null));
  });
  let done = false;
  void exited.then(() => {
    done = true;
  });
  const signal = async (sig: NodeJS.Signals): Promise<void> => {
    if (!done) child.kill(sig);
    await exited;
  };
  return {
    name,
    pid: child.pid,
    exited,
    async stop(graceMs = 5_000) {
      if (done) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      await exited;
      clearTimeout(timer);
    },
    kill: () => signal('SIGKILL'),
  };
}

/** True once something accepts TCP connections on host:port. */
export function portAnswers(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ port, host });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/**
 * Polls `ready` until it returns true. Polling is the only signal a freshly spawned server
 * gives; the process exiting first fails fast with its log file named.
 */
export async function waitUntilReady(
  proc: ManagedProcess,
  ready: () => Promise<boolean>,
  { timeoutMs, logFile }: { timeoutMs: number; logFile: string },
): Promise<void> {
  let exited = false;
  void proc.exited.then(() => {
    exited = true;
  });
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (exited) throw new Error(`${proc.name} exited during start-up; see ${logFile}`);
    if (await ready()) return;
    await delay(50);
  }
  await proc.stop();
  throw new Error(`${proc.name} did not become ready within ${timeoutMs} ms; see ${logFile}`);
}
