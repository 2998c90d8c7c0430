import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testDatabase, type TestDatabase } from '@recs/devkit';
import { MongoBulkWriteError } from 'mongodb';
import { isDuplicateKey, isDuplicateKeyWrite, onlyDuplicateKeys, writeErrorsOf } from '../src/mongoErrors.ts';

let database: TestDatabase;

beforeAll(async () => {
  database = await testDatabase('mongo-errors');
});

afterAll(async () => {
  await database.drop();
});

/** The error `write` throws. */
async function failure(write: () => Promise<unknown>): Promise<unknown> {
  try {
    await write();
  } catch (error) {
    return error;
  }
  throw new Error('the write succeeded');
}

describe('MongoDB write errors', () => {
  it('tells a key already taken from other failures', async () => {
    const docs = database.db.collection<{ _id: string }>('dup');
    await docs.insertOne({ _id: 'a' });
    expect(isDuplicateKey(await failure(() => docs.insertOne({ _id: 'a' })))).toBe(true);
    expect(isDuplicateKey(await failure(() => docs.insertMany([{ _id: 'b' }, { _id: 'a' }], { ordered: true })))).toBe(true);
    expect(isDuplicateKey(new Error('E11000 in a message is not a code'))).toBe(false);
  });

  it('reads a bulk error per write, and lets through a bulk that only met keys already taken', async () => {
    const docs = database.db.collection<{ _id: string }>('bulk');
    await docs.insertMany([{ _id: 'a' }, { _id: 'c' }]);
    const error = await failure(() => docs.insertMany([{ _id: 'a' }, { _id: 'b' }, { _id: 'c' }], { ordered: false }));
    expect(error).toBeInstanceOf(MongoBulkWriteError);
    const writes = writeErrorsOf(error as MongoBulkWriteError);
    expect(writes.map((w) => w.index)).toEqual([0, 2]);
    expect(writes.every(isDuplicateKeyWrite)).toBe(true);
    expect(onlyDuplicateKeys(error)).toBe(true);
    expect(await docs.countDocuments({ _id: 'b' })).toBe(1);
    // anything but a bulk error answered per write is a failure
    expect(onlyDuplicateKeys(await failure(() => docs.insertOne({ _id: 'a' })))).toBe(false);
    expect(onlyDuplicateKeys(new Error('connection reset'))).toBe(false);
  });
});
