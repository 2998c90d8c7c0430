import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { testDatabase, type TestDatabase } from '@recs/devkit';
import { COLLECTIONS } from '@recs/shared';
import { ConcurrentWriteError, planChunks, PlanLog, type PlanOp } from '../src/store/planLog.ts';

let database: TestDatabase;

beforeAll(async () => {
  database = await testDatabase('plan-log');
});

afterAll(async () => {
  await database.drop();
});

beforeEach(async () => {
  for (const name of [COLLECTIONS.plans, COLLECTIONS.aggregator]) await database.db.collection(name).deleteMany({});
});

const op = (id: string, n: number): PlanOp => ({ c: COLLECTIONS.buyerDays, id, set: { d: `1\t${n}`, r: 0 } });

describe('PlanLog', () => {
  it('gives back a written plan whole until it is marked written, then forgets it', async () => {
    const log = new PlanLog(database.db);
    expect(await log.unfinished()).toEqual({ appliedThrough: 0, plans: [], discarded: false });
    await log.append(planChunks(1, [op('mug', 1), op('cup', 2)], ['u1\te1', 'u1\te2'], ['batch-1']));
    await log.append(planChunks(2, [op('mug', 3)], ['u2\te3']));
    expect(await log.unfinished()).toEqual({
      appliedThrough: 0,
      plans: [
        { seq: 1, ops: [op('mug', 1), op('cup', 2)], eventIds: ['u1\te1', 'u1\te2'], batchIds: ['batch-1'] },
        { seq: 2, ops: [op('mug', 3)], eventIds: ['u2\te3'], batchIds: [] },
      ],
      discarded: false,
    });
    await log.markWritten(1);
    const { appliedThrough, plans } = await log.unfinished();
    expect(appliedThrough).toBe(1);
    expect(plans.map((plan) => plan.seq)).toEqual([2]);
    expect(await database.db.collection(COLLECTIONS.plans).countDocuments({ seq: 1 })).toBe(0);
  });

  it('discards a plan cut short (a crash between its chunks) and keeps the complete ones', async () => {
    const log = new PlanLog(database.db);
    const ids = Array.from({ length: 20_001 }, (_, i) => `u\te${i}`);
    const chunks = planChunks(1, [op('mug', 1)], ids);
    // a plan too large for one document is split, and every chunk says how many there are
    expect(chunks.map((c) => [c.chunk, c.of])).toEqual([
      [0, 2],
      [1, 2],
    ]);
    await database.db.collection(COLLECTIONS.plans).insertOne(chunks[0] as never);
    await log.append(planChunks(2, [op('cup', 1)], ['u\tx']));
    const { plans, discarded } = await log.unfinished();
    expect(discarded).toBe(true);
    expect(plans.map((plan) => plan.seq)).toEqual([2]);
    expect(await database.db.collection(COLLECTIONS.plans).countDocuments({ seq: 1 })).toBe(0);
  });

  it('refuses a second plan of the same sequence number: another writer committed it', async () => {
    const log = new PlanLog(database.db);
    await log.append(planChunks(1, [op('mug', 1)], []));
    await expect(new PlanLog(database.db).append(planChunks(1, [op('mug', 2)], []))).rejects.toBeInstanceOf(ConcurrentWriteError);
    expect((await log.unfinished()).plans).toEqual([{ seq: 1, ops: [op('mug', 1)], eventIds: [], batchIds: [] }]);
  });

  it('keeps the rebuild mark', async () => {
    const log = new PlanLog(database.db);
    await log.unfinished();
    expect(await log.verifyBefore()).toBe(0);
    await log.append(planChunks(1, [op('mug', 1)], []));
    await log.reset(new Date(1_000));
    expect(await log.verifyBefore()).toBe(1_000);
    expect((await log.unfinished()).plans).toEqual([]);
    await log.setVerifyBefore(new Date(2_000));
    expect(await log.verifyBefore()).toBe(2_000);
  });
});
