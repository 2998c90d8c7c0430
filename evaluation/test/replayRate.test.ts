import { describe, expect, it } from 'vitest';
import { replayRate } from '../src/replayRate.ts';

describe('the replay rate per tenth', () => {
  it('cuts the replay at the first batch reaching each tenth of its events', () => {
    // ten batches of 10 events, the first taking 1 s (0.5 s of CPU) and every later one 2 s (1 s of CPU)
    const marks = Array.from({ length: 10 }, (_, i) => [10 * (i + 1), 1 + 2 * i, 0.5 * (i + 1) + (i > 0 ? 0.5 * i : 0)] as const);
    const { tenths, lastToFirst, cpuLastToFirst } = replayRate(marks);
    expect(tenths).toHaveLength(10);
    expect(tenths[0]).toEqual({ events: 10, seconds: 1, eventsPerSecond: 10, cpuSeconds: 0.5, eventsPerCpuSecond: 20 });
    expect(tenths[9]).toEqual({ events: 10, seconds: 2, eventsPerSecond: 5, cpuSeconds: 1, eventsPerCpuSecond: 10 });
    expect(lastToFirst).toBe(0.5);
    expect(cpuLastToFirst).toBe(0.5);
  });

  it('never splits a batch: one holding more than a tenth makes one slice', () => {
    // 100 events: two batches of 5, one of 60 (past six more tenths), then batches of 5
    const marks: [number, number, number][] = [
      [5, 1, 1],
      [10, 2, 2],
      [70, 8, 5],
    ];
    for (let events = 75, seconds = 9; events <= 100; events += 5, seconds++) marks.push([events, seconds, seconds]);
    const { tenths } = replayRate(marks);
    expect(tenths.map((slice) => slice.events)).toEqual([10, 60, 10, 10, 10]);
    expect(tenths[1]).toEqual({ events: 60, seconds: 6, eventsPerSecond: 10, cpuSeconds: 3, eventsPerCpuSecond: 20 });
  });

  it('is empty, with a ratio of 0, for an empty replay', () => {
    expect(replayRate([])).toEqual({ tenths: [], lastToFirst: 0, cpuLastToFirst: 0 });
  });
});
