import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';

/** `npm run evaluate`'s JSON report (evaluation/src/report.ts toJson). */
export const EVALUATION_REPORT = join(import.meta.dirname, '..', '..', 'evaluation', 'out', 'results.json');

export type EvaluatorReplay =
  | {
      readonly measured: true;
      readonly file: string;
      /** When the report was written: the evaluator's run, not the bench's. */
      readonly writtenAt: string;
      /** Events per second over the first and the last tenth of its training replay. */
      readonly firstTenthPerSecond: number;
      readonly lastTenthPerSecond: number;
      /** last ÷ first. */
      readonly ratio: number;
    }
  | { readonly measured: false; readonly why: string };

/**
 * The evaluator's replay rate over the last tenth of its training replay against the first, from
 * its JSON report when that has the per-tenth rates (evaluation/src/report.ts toJson:
 * `replay.tenths[].eventsPerSecond`, about ten slices, fewer when one day's batch holds more than
 * a tenth, and `replay.lastToFirst`).
 */
export function readEvaluatorReplay(file = EVALUATION_REPORT): EvaluatorReplay {
  if (!existsSync(file)) return { measured: false, why: `no ${file} (run npm run evaluate)` };
  let report: Record<string, unknown>;
  try {
    report = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
  } catch (error) {
    return { measured: false, why: `${file}: ${(error as Error).message}` };
  }
  const replay = (report['replay'] ?? {}) as { tenths?: unknown; lastToFirst?: unknown };
  const tenths = Array.isArray(replay.tenths) ? (replay.tenths as ({ eventsPerSecond?: unknown } | null)[]).map((slice) => slice?.eventsPerSecond) : [];
  if (tenths.length < 2 || !tenths.every((rate): rate is number => typeof rate === 'number' && rate > 0))
    return { measured: false, why: `${file} has no per-tenth replay rates (replay.tenths; written by an npm run evaluate before they existed?)` };
  const [firstTenthPerSecond, lastTenthPerSecond] = [tenths[0]!, tenths.at(-1)!];
  const ratio = typeof replay.lastToFirst === 'number' ? replay.lastToFirst : lastTenthPerSecond / firstTenthPerSecond;
  return {
    measured: true,
    file,
    writtenAt: statSync(file).mtime.toISOString(),
    firstTenthPerSecond: Math.round(firstTenthPerSecond),
    lastTenthPerSecond: Math.round(lastTenthPerSecond),
    ratio: Math.round(ratio * 1000) / 1000,
  };
}
