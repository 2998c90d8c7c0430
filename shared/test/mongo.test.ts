import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testDatabase, type TestDatabase } from '@recs/devkit';
import { deleteInChunks } from '../src/mongo.ts';

let database: TestDatabase;

beforeAll(async () => {
  database = await testDatabase('delete-chunks');
});

afterAll(async () => {
  await database.drop();
});

describe('deleteInChunks', () => {
  it('deletes more documents than one delete can hold on the test server (FerretDB: one SQL variable each), and only those matched', async () => {
    const collection = database.db.collection<{ _id: string; day: number }>('many');
    const docs = Array.from({ length: 45_000 }, (_, i) => ({ _id: `d${i}`, day: i % 3 }));
    for (let i = 0; i < docs.length; i += 5_000) await collection.insertMany(docs.slice(i, i + 5_000));
    // the days 0 and 1: 30,000 documents, over FerretDB's limit for one delete
    expect(await deleteInChunks(collection, { day: { $lt: 2 } })).toBe(30_000);
    expect(await collection.countDocuments({})).toBe(15_000);
    expect(await collection.countDocuments({ day: 2 })).toBe(15_000);
    expect(await deleteInChunks(collection)).toBe(15_000);
    expect(await collection.countDocuments({})).toBe(0);
    expect(await deleteInChunks(collection)).toBe(0);
  }, 120_000);
});
