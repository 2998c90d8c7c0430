import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { deferred, testDatabase, type TestDatabase } from '@recs/devkit';
import { COLLECTIONS } from '@recs/shared';
import { applyPlanOps, type PlanOp } from '../src/store/planLog.ts';
import { WriteBehind, type CommittedPlan, type WriteBehindOptions } from '../src/store/writeBehind.ts';

let database: TestDatabase;

beforeAll(async () => {
  database = await testDatabase('write-behind');
});

afterAll(async () => {
  await database.drop();
});

beforeEach(async () => {
  await database.db.collection(COLLECTIONS.buyerDays).deleteMany({});
  await database.db.collection(COLLECTIONS.activeUsers).deleteMany({});
});

const op = (id: string, n: number): PlanOp => ({ c: COLLECTIONS.buyerDays, id, set: { d: `1\t${n}`, r: 0 } });
const plan = (seq: number, eventIds: string[] = []): CommittedPlan => ({ seq, eventIds, batchIds: [] });

/** Write-behind into MongoDB, telling the test what it wrote and which plans it finished. */
function writeBehind(options: WriteBehindOptions = {}, fence: () => Promise<void> = async () => {}) {
  const written: string[] = [];
  const finished: number[] = [];
  const queue = new WriteBehind(
    {
      fence,
      write: async (ops) => {
        written.push(...ops.map((o) => o.id));
        await applyPlanOps(database.db, ops);
      },
      recordActive: async (active) => {
        for (const [day, users] of active)
          await database.db
            .collection<{ _id: number; users: string[] }>(COLLECTIONS.activeUsers)
            .updateOne({ _id: day }, { $addToSet: { users: { $each: [...users] } } }, { upsert: true });
      },
      finish: async (plans) => void finished.push(...plans.map((p) => p.seq)),
    },
    { writeBehindMs: 60_000, ...options },
  );
  return { queue, written, finished };
}

async function stored(id: string): Promise<string | undefined> {
  return (await database.db.collection<{ _id: string; d: string }>(COLLECTIONS.buyerDays).findOne({ _id: id }))?.d;
}

describe('WriteBehind', () => {
  it('writes each document once, with its latest value, and then finishes the plans', async () => {
    const { queue, written, finished } = writeBehind();
    queue.add(plan(1, ['u\te1']), [op('mug', 1), op('cup', 1)]);
    queue.add(plan(2), [op('mug', 2)]);
    queue.noteActive(19_000, ['u']);
    expect(queue.backlog).toBe(2);
    expect(queue.pending(COLLECTIONS.buyerDays, 'mug')).toEqual({ d: '1\t2', r: 0 });
    expect(queue.holdsEvent('u\te1')).toBe(true);
    await queue.round();
    expect(written.sort()).toEqual(['cup', 'mug']);
    expect(await stored('mug')).toBe('1\t2');
    expect(finished).toEqual([1, 2]);
    expect(queue.backlog).toBe(0);
    expect(queue.pending(COLLECTIONS.buyerDays, 'mug')).toBeUndefined();
    expect(queue.holdsEvent('u\te1')).toBe(false);
    expect(await database.db.collection(COLLECTIONS.activeUsers).findOne({ _id: 19_000 as never })).toMatchObject({ users: ['u'] });
  });

  it('while busy, a round writes the longest-waiting quarter (at least the budget) and finishes only the plans it completed', async () => {
    const { queue, written, finished } = writeBehind({ busy: () => true, busyBudget: 2 });
    queue.add(plan(1), [op('a1', 1), op('a2', 1), op('a3', 1), op('a4', 1)]);
    queue.add(plan(2), [op('b1', 1), op('b2', 1), op('b3', 1), op('b4', 1)]);
    await queue.round();
    expect(written).toHaveLength(2);
    expect(written.every((id) => id.startsWith('a'))).toBe(true);
    expect(queue.backlog).toBe(6);
    expect(finished).toEqual([]);
    await queue.round();
    expect(written.sort()).toEqual(['a1', 'a2', 'a3', 'a4']);
    expect(finished).toEqual([1]);
    // backpressure (the leader waits for rounds while the backlog is over its bound) always ends:
    // every round under load still writes something
    while (queue.backlog > 0) await queue.round();
    expect(finished).toEqual([1, 2]);
  });

  it('keeps answering pending() with a document while its round is still writing it', async () => {
    // a load in that window (a co-occurrence entry the aggregator's LRU evicted and reloads) must
    // see the value being written, not the stale stored one, or its increments are lost
    const entered = deferred();
    const release = deferred();
    const queue = new WriteBehind(
      {
        fence: async () => {},
        write: async (ops) => {
          entered.resolve();
          await release.promise;
          await applyPlanOps(database.db, ops);
        },
        recordActive: async () => {},
        finish: async () => {},
      },
      { writeBehindMs: 60_000 },
    );
    queue.add(plan(1), [op('mug', 1)]);
    const round = queue.round();
    await entered.promise;
    expect(queue.backlog).toBe(0);
    expect(await stored('mug')).toBeUndefined();
    expect(queue.pending(COLLECTIONS.buyerDays, 'mug')).toEqual({ d: '1\t1', r: 0 });
    release.resolve();
    await round;
    expect(await stored('mug')).toBe('1\t1');
    expect(queue.pending(COLLECTIONS.buyerDays, 'mug')).toBeUndefined();
  });

  it('puts back what a failed round did not write, without overriding a newer value', async () => {
    let failing = true;
    const fenceReached = deferred();
    const fenceAnswer = deferred();
    const { queue, finished } = writeBehind({}, async () => {
      if (!failing) return;
      fenceReached.resolve();
      await fenceAnswer.promise;
    });
    queue.add(plan(1), [op('mug', 1), op('cup', 1)]);
    const round = queue.round();
    await fenceReached.promise;
    queue.add(plan(2), [op('mug', 2)]);
    fenceAnswer.reject(new Error('the lease was taken over'));
    await expect(round).rejects.toThrow('the lease was taken over');
    expect(queue.backlog).toBe(2);
    expect(queue.pending(COLLECTIONS.buyerDays, 'mug')).toEqual({ d: '1\t2', r: 0 });
    expect(await stored('mug')).toBeUndefined();
    failing = false;
    await queue.round();
    expect(await stored('mug')).toBe('1\t2');
    expect(await stored('cup')).toBe('1\t1');
    expect(finished).toEqual([1, 2]);
  });

  it('resolves written() once everything added so far is written, on its own timer', async () => {
    const { queue, finished } = writeBehind({ writeBehindMs: 5 });
    queue.add(plan(1), [op('mug', 1)]);
    await queue.written();
    expect(await stored('mug')).toBe('1\t1');
    expect(finished).toEqual([1]);
    await queue.close({ flush: true });
    expect(queue.closed).toBe(true);
  });
});
