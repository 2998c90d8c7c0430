import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testDatabase, type TestDatabase } from '@recs/devkit';
import { COLLECTIONS, coocDocId, encodeRows, neighboursToDoc } from '@recs/shared';
import { AggregateLoads } from '../src/store/loads.ts';
import { applyPlanOps, type PlanOp } from '../src/store/planLog.ts';

let database: TestDatabase;

beforeAll(async () => {
  database = await testDatabase('loads');
});

afterAll(async () => {
  await database.drop();
});

const coocOp = (productId: string, users: number, pairs: [string, number][]): PlanOp => ({
  c: COLLECTIONS.cooc,
  id: coocDocId('v', productId),
  set: { k: 'v', p: productId, n: users, c: encodeRows(pairs), top: neighboursToDoc(pairs) },
});

describe('AggregateLoads', () => {
  it('loads a document whose latest value waits for write-behind from that value, the others from MongoDB', async () => {
    await applyPlanOps(database.db, [coocOp('mug', 2, [['cup', 1]]), coocOp('lamp', 1, [['vase', 1]])]);
    const waiting = new Map([
      [
        `${COLLECTIONS.cooc}/${coocDocId('v', 'mug')}`,
        coocOp('mug', 3, [
          ['cup', 2],
          ['tea', 1],
        ]).set,
      ],
    ]);
    const loads = new AggregateLoads(database.db, (collection, id) => waiting.get(`${collection}/${id}`));
    const found = await loads.cooc([coocDocId('v', 'mug'), coocDocId('v', 'lamp'), coocDocId('v', 'none')]);
    expect(found.get(coocDocId('v', 'mug'))).toEqual({
      users: 3,
      pairs: new Map([
        ['cup', 2],
        ['tea', 1],
      ]),
      top: [
        ['cup', 2],
        ['tea', 1],
      ],
    });
    expect(found.get(coocDocId('v', 'lamp'))).toEqual({ users: 1, pairs: new Map([['vase', 1]]), top: [['vase', 1]] });
    expect(found.has(coocDocId('v', 'none'))).toBe(false);
    // the snapshot is read after recovery, when nothing waits: MongoDB's values
    expect((await loads.snapshot()).coocUsers.v).toEqual(
      new Map([
        ['mug', 2],
        ['lamp', 1],
      ]),
    );
  });
});
