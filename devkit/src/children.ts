import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';

const LEVELS: Record<number, string> = { 10: 'trace', 20: 'debug', 30: 'info', 40: 'WARN', 50: 'ERROR', 60: 'FATAL' };
const COLORS = ['\x1b[36m', '\x1b[35m', '\x1b[33m', '\x1b[32m', '\x1b[34m', '\x1b[37m'];
const RESET = '\x1b[0m';
const tty = process.stdout.isTTY;

function prefix(name: string, index: number): string {
  const label = name.padEnd(15);
  return tty ? `${COLORS[index % COLORS.length]}${label}${RESET}` : label;
}

/** One line of a child's output: pino JSON becomes `time level message {details}`. */
function formatLine(line: string): string {
  if (!line.startsWith('{')) return line;
  try {
    const { time, level, msg, service: _s, name: _n, pid: _p, hostname: _h, ...rest } = JSON.parse(line) as Record<string, unknown>;
    const when = typeof time === 'number' ? new Date(time).toISOString().slice(11, 19) : '';
    const details = Object.keys(rest).length > 0 ? ` ${JSON.stringify(rest)}` : '';
    return `${when} ${(LEVELS[level as number] ?? String(level)).padEnd(5)} ${String(msg ?? '')}${details}`;
  } catch {
    return line;
  }
}

export interface Child {
  readonly name: string;
  readonly process: ChildProcess;
  readonly exited: Promise<number | null>;
  stop(graceMs?: number): Promise<void>;
}

let started = 0;

export interface ChildOptions {
  /** Sees every raw line of the child's output. */
  readonly onLine?: (line: string) => void;
  /** Only hand lines to `onLine`, print nothing. */
  readonly quiet?: boolean;
  /**
   * A process group of its own: a Ctrl-C in the terminal reaches only the parent, which then
   * stops its children one by one in the order it chooses (clients before the servers they use).
   */
  readonly ownProcessGroup?: boolean;
}

/** Starts a Node process (on this Node) with its output prefixed by its name. */
export function startChild(name: string, script: string, args: readonly string[], env: NodeJS.ProcessEnv, options: ChildOptions = {}): Child {
  const index = started++;
  const child = spawn(process.execPath, [script, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'], detached: options.ownProcessGroup === true });
  for (const stream of [child.stdout, child.stderr]) {
    createInterface({ input: stream }).on('line', (line) => {
      options.onLine?.(line);
      if (options.quiet !== true) console.log(`${prefix(name, index)} ${formatLine(line)}`);
    });
  }
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  let done = false;
  void exited.then(() => {
    done = true;
  });
  return {
    name,
    process: child,
    exited,
    async stop(graceMs = 10_000) {
      if (done) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** Polls a readiness URL (a freshly started server gives no other signal) until it answers 200. */
export async function waitReady(url: string, child: Child, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let exited = false;
  void child.exited.then(() => {
    exited = true;
  });
  while (Date.now() < deadline) {
    if (exited) throw new Error(`${child.name} exited during start-up (see its output above)`);
    try {
      if ((await fetch(url)).ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`${child.name} was not ready within ${timeoutMs / 1000} s (${url})`);
}
