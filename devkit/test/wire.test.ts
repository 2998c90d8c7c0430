import { MongoBulkWriteError } from 'mongodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testDatabase, type TestDatabase } from '../src/testing.ts';

/**
 * The MongoDB semantics the project's bulk writes rely on, checked against the server the tests
 * run on. With the development FerretDB these go through the patched by-_id fast path (see
 * ferretdb/ferretdb-1.24.2.patch); with MongoDB they must hold just the same.
 */
interface Doc {
  _id: string;
  v: number;
  text?: string;
}

let database: TestDatabase;

beforeAll(async () => {
  database = await testDatabase('wire');
});

afterAll(async () => {
  await database.drop();
});

describe('bulk writes by _id', () => {
  it('upserts and updates in one bulk, reporting upserts by statement index', async () => {
    const docs = database.db.collection<Doc>('upserts');
    await docs.insertMany([
      { _id: 'a', v: 1 },
      { _id: 'b', v: 1 },
    ]);
    const result = await docs.bulkWrite(
      ['a', 'new-1', 'b', 'new-2'].map((id, i) => ({ updateOne: { filter: { _id: id }, update: { $set: { v: 10 + i } }, upsert: true } })),
      { ordered: false },
    );
    expect(result.matchedCount).toBe(2);
    expect(result.modifiedCount).toBe(2);
    expect(result.upsertedCount).toBe(2);
    expect(result.upsertedIds).toEqual({ 1: 'new-1', 3: 'new-2' });
    expect(await docs.find().sort({ _id: 1 }).toArray()).toEqual([
      { _id: 'a', v: 10 },
      { _id: 'b', v: 12 },
      { _id: 'new-1', v: 11 },
      { _id: 'new-2', v: 13 },
    ]);
  });

  it('leaves alone a document whose guard does not hold, and writes the others', async () => {
    const docs = database.db.collection<Doc>('guards');
    await docs.insertMany([
      { _id: 'x', v: 1, text: 'x1' },
      { _id: 'y', v: 5, text: 'y5' },
      { _id: 'z', v: 2, text: 'z2' },
    ]);
    const result = await docs.bulkWrite(
      [
        { updateOne: { filter: { _id: 'x', v: 1 }, update: { $set: { v: 2, text: 'x2' } } } },
        // stale guard: y is at version 5 already
        { updateOne: { filter: { _id: 'y', v: 4 }, update: { $set: { v: 5, text: 'lost' } } } },
        { updateOne: { filter: { _id: 'z', v: 2 }, update: { $set: { v: 3, text: 'z3' } } } },
        { updateOne: { filter: { _id: 'missing', v: 0 }, update: { $set: { v: 1 } } } },
      ],
      { ordered: false },
    );
    expect(result.matchedCount).toBe(2);
    expect(result.modifiedCount).toBe(2);
    expect(await docs.find().sort({ _id: 1 }).toArray()).toEqual([
      { _id: 'x', v: 2, text: 'x2' },
      { _id: 'y', v: 5, text: 'y5' },
      { _id: 'z', v: 3, text: 'z3' },
    ]);
  });

  it('reports a duplicate _id in an unordered insert by index and inserts the rest', async () => {
    const docs = database.db.collection<Doc>('inserts');
    await docs.insertOne({ _id: 'taken', v: 1 });
    const failure = await docs
      .insertMany(
        [
          { _id: 'fresh-1', v: 1 },
          { _id: 'taken', v: 2 },
          { _id: 'fresh-2', v: 1 },
        ],
        { ordered: false },
      )
      .catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(MongoBulkWriteError);
    const writeErrors = (failure as MongoBulkWriteError).writeErrors;
    const errors = Array.isArray(writeErrors) ? writeErrors : [writeErrors];
    expect(errors.map((e) => [e.index, e.code])).toEqual([[1, 11000]]);
    expect(await docs.countDocuments()).toBe(3);
    expect(await docs.findOne({ _id: 'taken' })).toEqual({ _id: 'taken', v: 1 });
  });

  it('narrows a find by _id $in whatever else the filter holds', async () => {
    const docs = database.db.collection<Doc>('finds');
    await docs.insertMany(Array.from({ length: 50 }, (_, i) => ({ _id: `d${i}`, v: i % 5 })));
    const found = await docs
      .find({ _id: { $in: ['d1', 'd6', 'd7', 'd40'] }, v: 1 })
      .sort({ _id: 1 })
      .toArray();
    expect(found.map((d) => d._id)).toEqual(['d1', 'd6']);
  });
});
