import type { FanoutResult } from '../phases/fanout.ts';
import type { FreshnessResult } from '../phases/freshness.ts';
import type { ReplayResult } from '../phases/replay.ts';
import { EXITED, type CpuUsage } from './cpu.ts';
import type { PrometheusFreshness } from './prometheus.ts';
import type { Summary } from './stats.ts';

/** The gateway histogram's figures over a freshness phase's window, and their ratios to the bench's. */
export type ServerFreshness = PrometheusFreshness & { readonly ratio: { p50: number; p99: number; fromSentP50: number; fromSentP99: number } };

export interface FreshnessRun {
  readonly phase: string;
  readonly result: FreshnessResult;
  readonly server: ServerFreshness | undefined;
  readonly msPerEvent: number;
}

/** Lines of aligned columns: the first column left-aligned, the others right-aligned. */
function columns(rows: readonly (readonly string[])[]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((row) => row[i]?.length ?? 0)));
  return rows.map((row) => `  ${row.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!))).join('   ')}`).join('\n');
}

const times = (ratio: number) => (Number.isFinite(ratio) ? `x${ratio}` : 'n/a');
const pair = (s: Pick<Summary, 'p50' | 'p99'>) => `${s.p50} / ${s.p99}`;

/** The freshness phases side by side, one column each. */
export function formatFreshness(runs: readonly FreshnessRun[]): string {
  const first = runs[0]!.result;
  const stages = Object.keys(first.stagesMs) as (keyof FreshnessResult['stagesMs'])[];
  const server = (pick: (s: ServerFreshness) => string) => runs.map((run) => (run.server === undefined ? 'n/a' : pick(run.server)));
  const rows: string[][] = [
    ['', ...runs.map((run) => `${run.phase} (${run.result.ratePerSecond}/s)`)],
    ['events sent, measured (accepted, whole phase)', ...runs.map(({ result }) => `${result.eventsSent} (${result.eventsAccepted})`)],
    [
      'failed: trackEvent calls / probes / subscriptions / Redis',
      ...runs.map(({ result: { failed: f } }) => `${f.trackEvents} / ${f.probes} / ${f.subscriptions} / ${f.changeChannel}`),
    ],
    ['deliveries measured', ...runs.map(({ result }) => String(result.measured))],
    ['bench: answer -> message, p50 / p95 / p99 ms', ...runs.map(({ result: { latencyMs: l } }) => `${l.p50} / ${l.p95} / ${l.p99}`)],
    ['bench: trackEvent sent -> message, p50 / p99', ...runs.map(({ result }) => pair(result.fromSentMs))],
    ["bench's samples in the histogram's buckets", ...runs.map(({ result }) => pair(result.bucketedMs))],
    ['Prometheus (gateway histogram), p50 / p99', ...server((s) => `${s.p50Ms} / ${s.p99Ms}`)],
    ['  x of the bench (answer), p50 / p99', ...server((s) => `${times(s.ratio.p50)} / ${times(s.ratio.p99)}`)],
    ['  x of the bench (sent), p50 / p99', ...server((s) => `${times(s.ratio.fromSentP50)} / ${times(s.ratio.fromSentP99)}`)],
    ['  deliveries counted', ...server((s) => String(s.deliveries))],
    ['messages before their answer (as 0 ms)', ...runs.map(({ result }) => String(result.beforeAnswer))],
    ...stages.map((stage) => [`${stage}, p50 / p99 (n)`, ...runs.map(({ result }) => `${pair(result.stagesMs[stage])} (${result.stagesMs[stage].n})`)]),
    ['ms CPU / accepted event (all processes)', ...runs.map((run) => String(run.msPerEvent))],
  ];
  return [
    '\nfreshness, side by side (ms; stages: see FreshnessResult.stagesMs):',
    columns(rows),
    '  bench: from the trackEvent answer arriving to the subscription message arriving, the latest event of the user behind it.',
    '  Prometheus: recs_freshness_delivered_seconds{field="recommendationsChanged"}, from the event\'s receivedAt (before the',
    '  mutation answers) to the result handed to the socket, the oldest event behind a change; quantiles interpolated inside',
    "  the histogram's buckets (shared/src/metrics.ts FRESHNESS_BUCKETS), so only as exact as those; same window as the bench's.",
    ...runs.flatMap((run) => (run.server === undefined ? [] : [`  ${run.phase}: ${run.server.queries.p99}  @ ${new Date(run.server.endMs).toISOString()}`])),
  ].join('\n');
}

/** The fan-out phase's failed connections, subscriptions and rounds, in words. */
export function fanoutFailures({ failed }: FanoutResult): string {
  return `${failed.connections} connections, ${failed.subscriptions} subscriptions, ${failed.rounds} rounds (their purchase failed)`;
}

export function formatFanout(fanout: FanoutResult): string {
  const { firstDeliveryMs: f, medianDeliveryMs: m, lastDeliveryMs: l, gatewayMemoryMiB: memory } = fanout;
  return [
    `\nfan-out to ${fanout.subscribers.toLocaleString('en-US')} subscribers, ${fanout.rounds} rounds (ms from the purchase's answer; median of the rounds, max):`,
    `  first delivery ${f.p50} (${f.max}), median delivery ${m.p50} (${m.max}), last delivery ${l.p50} (${l.max}); ${fanout.missed} missing`,
    `  connected and subscribed in ${fanout.connectSeconds} s; gateway memory before / with subscribers / after: ${memory.before} / ${memory.withSubscribers} / ${memory.after} MiB; bench ${fanout.benchMemoryMiB} MiB`,
    `  failed: ${fanoutFailures(fanout)}`,
    ...fanout.failed.messages.map((message) => `    ${message}`),
  ].join('\n');
}

export function formatReplay(replay: ReplayResult): string {
  const { workersBefore: b, workersAfter: a } = replay;
  return [
    `\nreplay of ${replay.file}: ${replay.events.toLocaleString('en-US')} events stored; import ${replay.importSeconds} s, then lists ${replay.listsSeconds} s`,
    ...replay.importSummary.map((line) => `  ${line}`),
    `  workers' memory (their /metrics), before -> after: RSS ${b.rssMiB} -> ${a.rssMiB} MiB, heap used ${b.heapUsedMiB} -> ${a.heapUsedMiB} MiB (heap total ${a.heapTotalMiB} MiB); peak RSS ${replay.workersPeakRssMiB} MiB`,
  ].join('\n');
}

/** What each phase's CPU is divided by: the events it accepted (or applied, or imported). */
export interface PhaseEvents {
  readonly events: number;
  readonly what: string;
}

/** ms of CPU of every process together per event; undefined when the phase handled no events. */
export function msPerEvent(cpu: CpuUsage | undefined, events: number): number | undefined {
  if (cpu === undefined || events <= 0) return undefined;
  return Math.round((cpu.totalMs / events) * 1000) / 1000;
}

export function formatCpu(cpu: Readonly<Record<string, CpuUsage>>, events: Readonly<Record<string, PhaseEvents>>): string {
  const rows: string[][] = [['phase', 'seconds', 'CPU s (all processes)', 'events', 'ms CPU / event']];
  for (const [phase, usage] of Object.entries(cpu)) {
    const counted = events[phase];
    const perEvent = msPerEvent(usage, counted?.events ?? 0);
    rows.push([
      phase,
      String(usage.seconds),
      (usage.totalMs / 1000).toFixed(1),
      counted === undefined ? '-' : `${counted.events.toLocaleString('en-US')} ${counted.what}`,
      perEvent === undefined ? '-' : String(perEvent),
    ]);
  }
  const perProcess = Object.entries(cpu).map(
    ([phase, usage]) =>
      `  ${phase.padEnd(16)} ${Object.entries(usage.percent)
        .sort((a, b) => b[1] - a[1])
        .map(([k, v]) => `${k} ${v}`)
        .join(', ')}`,
  );
  return [
    '\nCPU per phase, per event (every process: services, subgraphs, gateway, workers, the bench):',
    columns(rows),
    `\nCPU per process (% of one core), per phase (${EXITED}: the bench's children that ended within the phase, the replay's import-events):`,
    ...perProcess,
  ].join('\n');
}
