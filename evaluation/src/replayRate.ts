/** One stretch of the replay: the batches applied in it, how long they took and how fast. */
export interface ReplaySlice {
  /** Purchase lines applied in the slice. */
  readonly events: number;
  readonly seconds: number;
  readonly eventsPerSecond: number;
  /** CPU seconds this process used meanwhile (every thread): steadier than the wall clock on a shared machine. */
  readonly cpuSeconds: number;
  readonly eventsPerCpuSecond: number;
}

/** How fast the replay went as history accumulated. */
export interface ReplayRate {
  /** The replay cut in tenths of its events (fewer when one batch holds more than a tenth). */
  readonly tenths: readonly ReplaySlice[];
  /** The last tenth's rate over the first's: 1 when per-event cost does not grow with history. */
  readonly lastToFirst: number;
  /** The same in events per CPU second. */
  readonly cpuLastToFirst: number;
}

/**
 * The replay's rate per tenth, from the running totals after each batch (`[events, seconds, CPU
 * seconds]` since the replay started, in order). A batch is never split: each slice ends at the
 * first batch that takes the replay to its tenth of the events, so slices hold about a tenth each
 * (exactly, up to one batch).
 */
export function replayRate(marks: readonly (readonly [events: number, seconds: number, cpuSeconds: number])[], parts = 10): ReplayRate {
  const total = marks.at(-1)?.[0] ?? 0;
  const tenths: ReplaySlice[] = [];
  let from: readonly [number, number, number] = [0, 0, 0];
  let next = 0;
  for (let part = 1; part <= parts && total > 0; part++) {
    const target = (total * part) / parts;
    while (next < marks.length - 1 && marks[next]![0] < target) next++;
    const to = marks[next]!;
    const events = to[0] - from[0];
    if (events <= 0) continue;
    const seconds = to[1] - from[1];
    const cpuSeconds = to[2] - from[2];
    tenths.push({ events, seconds, eventsPerSecond: events / Math.max(seconds, 1e-9), cpuSeconds, eventsPerCpuSecond: events / Math.max(cpuSeconds, 1e-9) });
    from = to;
  }
  const ratio = (rate: (slice: ReplaySlice) => number) => {
    const first = tenths.length > 0 ? rate(tenths[0]!) : 0;
    return first > 0 ? rate(tenths.at(-1)!) / first : 0;
  };
  return { tenths, lastToFirst: ratio((slice) => slice.eventsPerSecond), cpuLastToFirst: ratio((slice) => slice.eventsPerCpuSecond) };
}
