import { readFileSync } from 'node:fs';

const TICKS_PER_SECOND = 100;

/** Fields of /proc/<pid>/stat after the command name (state is field 3): utime, stime, cutime, cstime are fields 14 to 17. */
function statFields(pid: number): string[] | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  } catch {
    return undefined;
  }
}

/** CPU ticks the process used itself (0 once it is gone). */
function cpuTicks(pid: number): number {
  const fields = statFields(pid);
  return fields === undefined ? 0 : Number(fields[11]) + Number(fields[12]);
}

/** CPU ticks of the children this process has waited for (exited and reaped). */
function exitedChildrenTicks(): number {
  const fields = statFields(process.pid);
  return fields === undefined ? 0 : Number(fields[13]) + Number(fields[14]);
}

/** The CPU of one interval, per process. */
export interface CpuUsage {
  readonly seconds: number;
  /** name -> percent of one core over the interval. */
  readonly percent: Readonly<Record<string, number>>;
  /** name -> milliseconds of CPU over the interval. */
  readonly ms: Readonly<Record<string, number>>;
  /** Milliseconds of CPU of every process together. */
  readonly totalMs: number;
}

/**
 * Name of the entry for this process's children that exited during the interval (the replay's
 * import-events): their CPU is only known from the parent's cutime / cstime once they are gone.
 */
export const EXITED = 'exited';

/**
 * CPU used by each process between begin() and end(). The processes are read at both ends, so
 * one started meanwhile (the workers, in the applied phase) counts from its start; one of this
 * process's children that ends meanwhile counts under EXITED.
 */
export class CpuMeter {
  private readonly pids: () => Readonly<Record<string, number>>;
  private start = new Map<string, { pid: number; ticks: number }>();
  private startChildren = 0;
  private startedAt = 0;

  constructor(pids: () => Readonly<Record<string, number>>) {
    this.pids = pids;
  }

  begin(): void {
    this.startedAt = performance.now();
    this.startChildren = exitedChildrenTicks();
    this.start = new Map(Object.entries(this.pids()).map(([name, pid]) => [name, { pid, ticks: cpuTicks(pid) }]));
  }

  end(): CpuUsage {
    const seconds = (performance.now() - this.startedAt) / 1000;
    const ticks: Record<string, number> = {};
    for (const [name, pid] of Object.entries(this.pids())) {
      const start = this.start.get(name);
      // a process started during the interval (or a new one under the same name) counts from 0
      ticks[name] = Math.max(0, cpuTicks(pid) - (start?.pid === pid ? start.ticks : 0));
    }
    // a child that exited in the interval brought its whole life's CPU into cutime: less what it had used before
    let exited = exitedChildrenTicks() - this.startChildren;
    for (const { pid, ticks: before } of this.start.values()) if (before > 0 && cpuTicks(pid) === 0) exited -= before;
    if (exited > 0) ticks[EXITED] = exited;
    const ms = Object.fromEntries(Object.entries(ticks).map(([name, t]) => [name, (t / TICKS_PER_SECOND) * 1000]));
    return {
      seconds: Math.round(seconds * 100) / 100,
      percent: Object.fromEntries(Object.entries(ms).map(([name, m]) => [name, Math.round((m / 1000 / seconds) * 100)])),
      ms,
      totalMs: Object.values(ms).reduce((sum, m) => sum + m, 0),
    };
  }
}
