/**
 * A backfill: past events from a file into the raw event log, then the aggregates. Rows are
 * validated as trackEvents validates them, except for the age limit (a backfill is old by
 * definition): each row is checked against its own time, or the clock when it is ahead of it,
 * so future timestamps are still refused. Raw events go in unordered bulk inserts; a taken key
 * is an event imported before (the ids come from the rows), counted as a duplicate. The
 * aggregates are then recomputed from the whole raw log (rebuildAggregates), so they are exact
 * and the running system converges, whatever order history arrives in.
 */
import { COLLECTIONS, onlyDuplicateKeys, rawEventKey, toRawEventDoc, writeErrorsOf, type RawEventDoc } from '@recs/shared';
import { validateEvent } from '@recs/engine';
import type { MongoBulkWriteError, Db } from 'mongodb';
import { readEventRows, type EventFormat, type SourceRow } from './eventSources.ts';

export interface BackfillOptions {
  readonly db: Db;
  readonly file: string;
  readonly format: EventFormat;
  /** Moves every timestamp by one offset so the newest row is `now`. */
  readonly shiftToNow?: boolean;
  /** Validates and counts; writes nothing. */
  readonly dryRun?: boolean;
  readonly now?: number;
  readonly batchSize?: number;
  /** Told of each batch: rows done of the total (known from a first pass over the file). */
  readonly onProgress?: (done: number, total: number) => void;
  /** Recomputes the aggregates after the raw events are in (rebuildAggregates, bound to its services). */
  readonly rebuild: () => Promise<unknown>;
}

export interface RowProblem {
  readonly line: number;
  readonly code: string;
  readonly message: string;
}

export interface BackfillSummary {
  /** Rows read (for Online Retail: its purchase lines; other rows are not events). */
  readonly rows: number;
  /** Valid events newly stored (in a dry run: valid events). */
  readonly accepted: number;
  /** Valid events already stored (an earlier import, or a repeated row). */
  readonly duplicates: number;
  readonly rejected: Readonly<Record<string, number>>;
  /** The first problems, with their line (all are counted in `rejected`). */
  readonly problems: readonly RowProblem[];
  /** What --shift-to-now added to every timestamp (ms). */
  readonly shiftMs: number;
  /** Whether the aggregates were recomputed (not when nothing new was stored and the old is applied). */
  readonly rebuilt: boolean;
  readonly seconds: number;
}

const MAX_PROBLEMS = 100;

function timeOf(row: SourceRow): number | undefined {
  if (!('input' in row)) return undefined;
  const at = row.input.occurredAt;
  if (at === undefined || at === null) return undefined;
  const ms = at instanceof Date ? at.getTime() : new Date(at).getTime();
  return Number.isFinite(ms) ? ms : undefined;
}

/** A first pass: how many rows, and the newest time (for the shift). */
async function survey(file: string, format: EventFormat): Promise<{ rows: number; newest: number | undefined }> {
  let rows = 0;
  let newest: number | undefined;
  for await (const row of readEventRows(file, format)) {
    rows++;
    const at = timeOf(row);
    if (at !== undefined && (newest === undefined || at > newest)) newest = at;
  }
  return { rows, newest };
}

export async function backfill(options: BackfillOptions): Promise<BackfillSummary> {
  const started = Date.now();
  const now = options.now ?? started;
  const batchSize = options.batchSize ?? 5_000;
  const { rows: total, newest } = await survey(options.file, options.format);
  const shiftMs = options.shiftToNow === true && newest !== undefined ? now - newest : 0;
  const events = options.db.collection<RawEventDoc>(COLLECTIONS.events);

  let rows = 0;
  let accepted = 0;
  let duplicates = 0;
  const rejected: Record<string, number> = {};
  const problems: RowProblem[] = [];
  // a few keys that were there already: were they applied, or did an earlier run stop before its rebuild?
  const duplicateSample: string[] = [];
  const problem = (line: number, code: string, message: string) => {
    rejected[code] = (rejected[code] ?? 0) + 1;
    if (problems.length < MAX_PROBLEMS) problems.push({ line, code, message });
  };

  let batch: RawEventDoc[] = [];
  const flush = async () => {
    if (batch.length === 0) return;
    const docs = batch;
    batch = [];
    if (options.dryRun === true) {
      accepted += docs.length;
      return;
    }
    try {
      await events.insertMany(docs, { ordered: false });
      accepted += docs.length;
    } catch (error) {
      if (!onlyDuplicateKeys(error)) throw error;
      const taken = writeErrorsOf(error as MongoBulkWriteError);
      accepted += docs.length - taken.length;
      duplicates += taken.length;
      for (const write of taken.slice(0, 10)) if (duplicateSample.length < 1_000) duplicateSample.push(rawEventKey(docs[write.index]!));
    }
  };

  for await (const row of readEventRows(options.file, options.format)) {
    rows++;
    if ('error' in row) problem(row.line, row.error.code, row.error.message);
    else {
      const at = timeOf(row);
      const input = at === undefined ? row.input : { ...row.input, occurredAt: at + shiftMs };
      const shifted = at === undefined ? undefined : at + shiftMs;
      const result = validateEvent(input, { now: shifted === undefined ? now : Math.min(now, shifted), newId: () => row.input.eventId });
      if (!result.ok) problem(row.line, result.rejection.code, result.rejection.message);
      // received when it happened, so a replay applies history in time order
      else batch.push(toRawEventDoc({ ...result.event, receivedAt: result.event.occurredAt }));
    }
    if (batch.length >= batchSize) {
      await flush();
      options.onProgress?.(rows, total);
    }
  }
  await flush();
  options.onProgress?.(rows, total);

  let rebuilt = false;
  if (options.dryRun !== true) {
    const unapplied =
      duplicateSample.length > 0 &&
      (await options.db.collection(COLLECTIONS.applied).countDocuments({ _id: { $in: duplicateSample as never[] } })) < duplicateSample.length;
    if (accepted > 0 || unapplied) {
      await options.rebuild();
      rebuilt = true;
    }
  }
  return { rows, accepted, duplicates, rejected, problems, shiftMs, rebuilt, seconds: (Date.now() - started) / 1000 };
}
