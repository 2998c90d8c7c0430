import { readFileSync } from 'node:fs';

const TICKS_PER_SECOND = 100;

function cpuTicks(pid: number): number {
  try {
    // fields after the command name: state is field 3; utime and stime are fields 14 and 15
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(fields[11]) + Number(fields[12]);
  } catch {
    return 0;
  }
}

/** CPU used by each process between start() and stop(), as a share of one core. */
export class CpuMeter {
  private readonly pids: Readonly<Record<string, number>>;
  private start = new Map<string, number>();
  private startedAt = 0;

  constructor(pids: Readonly<Record<string, number>>) {
    this.pids = pids;
  }

  begin(): void {
    this.startedAt = performance.now();
    this.start = new Map(Object.entries(this.pids).map(([name, pid]) => [name, cpuTicks(pid)]));
  }

  /** name -> percent of one core over the interval. */
  end(): Record<string, number> {
    const seconds = (performance.now() - this.startedAt) / 1000;
    const usage: Record<string, number> = {};
    for (const [name, pid] of Object.entries(this.pids)) {
      usage[name] = Math.round(((cpuTicks(pid) - (this.start.get(name) ?? 0)) / TICKS_PER_SECOND / seconds) * 100);
    }
    return usage;
  }
}
