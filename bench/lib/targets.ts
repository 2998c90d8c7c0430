import type { FanoutResult } from '../phases/fanout.ts';
import type { FreshnessResult } from '../phases/freshness.ts';
import type { AppliedResult, IngestResult } from '../phases/ingest.ts';
import type { QueryResult } from '../phases/query.ts';
import type { EvaluatorReplay } from './evaluatorReplay.ts';
import { fanoutFailures } from './report.ts';

/** The figures the targets are read from; a phase not run is undefined. */
export interface Measured {
  readonly ingest: IngestResult | undefined;
  readonly applied: AppliedResult | undefined;
  readonly freshness: FreshnessResult | undefined;
  readonly freshness500: FreshnessResult | undefined;
  readonly query: QueryResult | undefined;
  readonly fanout: FanoutResult | undefined;
  readonly evaluator: EvaluatorReplay;
}

/**
 * met / MISSED; "not measured" when the phase did not run; "other load" when it ran at another
 * load than the target's (a --rate, --concurrency or --subscribers of its own), so the figure is
 * shown but not judged.
 */
export type TargetStatus = 'met' | 'MISSED' | 'not measured' | 'other load';

export interface TargetRow {
  readonly measure: string;
  readonly measured: string;
  readonly target: string;
  readonly status: TargetStatus;
}

const n = (x: number) => x.toLocaleString('en-US');
const judged = (ok: boolean): TargetStatus => (ok ? 'met' : 'MISSED');
const NOT_MEASURED = { measured: 'not measured', status: 'not measured' } as const;

function freshnessRow(result: FreshnessResult | undefined, rate: number, maxP99: number): TargetRow {
  const row = { measure: `freshness at ${rate} events/s, p99`, target: `<= ${maxP99} ms` };
  if (result === undefined) return { ...row, ...NOT_MEASURED };
  const { p99 } = result.latencyMs;
  if (result.ratePerSecond !== rate) return { ...row, measured: `${p99} ms at ${result.ratePerSecond} events/s`, status: 'other load' };
  return { ...row, measured: `${p99} ms`, status: judged(p99 <= maxP99) };
}

/** One row per target of the bench, in a fixed order. */
export function assessTargets(m: Measured): TargetRow[] {
  const rows: TargetRow[] = [freshnessRow(m.freshness, 200, 100), freshnessRow(m.freshness500, 500, 250)];

  const query = { measure: 'query through the gateway, 32 clients, p99', target: '<= 50 ms' };
  if (m.query === undefined) rows.push({ ...query, ...NOT_MEASURED });
  else if (m.query.concurrency !== 32) rows.push({ ...query, measured: `${m.query.gatewayMs.p99} ms at ${m.query.concurrency} clients`, status: 'other load' });
  else rows.push({ ...query, measured: `${m.query.gatewayMs.p99} ms`, status: judged(m.query.gatewayMs.p99 <= 50) });

  const overhead = { measure: 'gateway p50 / recommendations subgraph p50', target: '<= 1.5x' };
  if (m.query === undefined) rows.push({ ...overhead, ...NOT_MEASURED });
  else
    rows.push({
      ...overhead,
      measured: `${m.query.overheadP50}x (${m.query.gatewayMs.p50} / ${m.query.subgraphMs.p50} ms)`,
      status: judged(m.query.overheadP50 <= 1.5),
    });

  const ingest = { measure: 'ingest accepted / applied', target: '>= 20,000 / >= 8,000 events/s' };
  if (m.ingest === undefined || m.applied === undefined) rows.push({ ...ingest, ...NOT_MEASURED });
  else
    rows.push({
      ...ingest,
      measured: `${n(m.ingest.acceptedPerSecond)} / ${n(m.applied.appliedPerSecond)} events/s`,
      status: judged(m.ingest.acceptedPerSecond >= 20_000 && m.applied.appliedPerSecond >= 8_000),
    });

  const fanout = { measure: 'fan-out, last delivery, 10,000 subscribers', target: '<= 500 ms' };
  if (m.fanout === undefined) rows.push({ ...fanout, ...NOT_MEASURED });
  else {
    const { lastDeliveryMs, rounds, missed, subscribers, failed } = m.fanout;
    const failures = failed.connections + failed.subscriptions + failed.rounds;
    const figure = `${lastDeliveryMs.p50} ms (median of ${rounds} rounds, max ${lastDeliveryMs.max} ms${missed > 0 ? `; ${missed} deliveries missing` : ''}${failures > 0 ? `; failed: ${fanoutFailures(m.fanout)}` : ''})`;
    if (subscribers !== 10_000) rows.push({ ...fanout, measured: `${figure} to ${n(subscribers)} subscribers`, status: 'other load' });
    else rows.push({ ...fanout, measured: figure, status: judged(lastDeliveryMs.p50 <= 500 && missed === 0 && failures === 0) });
  }

  const replay = { measure: 'evaluator replay rate, last tenth / first tenth', target: '>= 80%' };
  const e = m.evaluator;
  if (!e.measured) rows.push({ ...replay, ...NOT_MEASURED });
  else
    rows.push({
      ...replay,
      measured: `${Math.round(e.ratio * 100)}% (${n(e.lastTenthPerSecond)} / ${n(e.firstTenthPerSecond)} events/s; npm run evaluate of ${e.writtenAt})`,
      status: judged(e.ratio >= 0.8),
    });
  return rows;
}

/** The rows as a Markdown table. */
export function formatTargets(rows: readonly TargetRow[]): string {
  return [
    '| measure | measured | target | |',
    '| --- | --- | --- | --- |',
    ...rows.map((row) => `| ${row.measure} | ${row.measured} | ${row.target} | ${row.status} |`),
  ].join('\n');
}
