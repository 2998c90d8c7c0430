import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testDatabase, type TestDatabase } from '@recs/devkit';
import { COLLECTIONS } from '@recs/shared';
import { recordedAsApplied, retire } from '../src/store/inbox.ts';

let database: TestDatabase;

beforeAll(async () => {
  database = await testDatabase('inbox');
});

afterAll(async () => {
  await database.drop();
});

describe('retire', () => {
  it('records the events as applied and removes their batches from the inbox, and may run again', async () => {
    const inbox = database.db.collection<{ _id: string; ids: string[]; at: Date }>(COLLECTIONS.inbox);
    await inbox.insertMany([
      { _id: 'b1', ids: ['u\te1', 'u\te2'], at: new Date() },
      { _id: 'b2', ids: ['u\te3'], at: new Date() },
    ]);
    await retire(database.db, ['u\te1', 'u\te2'], ['b1']);
    // a plan retired again after a crash (recovery finishes it a second time)
    await retire(database.db, ['u\te2', 'u\te1'], ['b1']);
    expect(await recordedAsApplied(database.db, ['u\te1', 'u\te2', 'u\te3'])).toEqual(new Set(['u\te1', 'u\te2']));
    expect(await database.db.collection(COLLECTIONS.applied).countDocuments()).toBe(2);
    expect((await inbox.find().toArray()).map((doc) => doc._id)).toEqual(['b2']);
  });
});
