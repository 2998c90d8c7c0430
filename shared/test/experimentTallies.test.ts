import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testDatabase, type TestDatabase } from '@recs/devkit';
import { EMPTY_TALLY, ExperimentTallies } from '../src/experimentTallies.ts';
import { COLLECTIONS } from '../src/mongo.ts';

let database: TestDatabase;
let tallies: ExperimentTallies;

beforeAll(async () => {
  database = await testDatabase('tallies');
  tallies = new ExperimentTallies(database.db);
});

afterAll(async () => {
  await database.drop();
});

describe('ExperimentTallies (real MongoDB-wire server)', () => {
  it('adds counts per variant with $inc, and counts each user mark once however often it is sent', async () => {
    await tallies.add(
      [
        { experiment: 'home', variant: 'blend', field: 'impressions', count: 3 },
        { experiment: 'home', variant: 'diverse', field: 'impressions', count: 2 },
        { experiment: 'home', variant: 'blend', field: 'impressions', count: 1 },
      ],
      [
        { experiment: 'home', variant: 'blend', userId: 'alice', mark: 'served' },
        { experiment: 'home', variant: 'blend', userId: 'alice', mark: 'served' },
        { experiment: 'home', variant: 'diverse', userId: 'bob', mark: 'served' },
      ],
    );
    // alice again (already marked: not counted), carol new, alice clicks; another experiment apart
    await tallies.add(
      [
        { experiment: 'home', variant: 'blend', field: 'clicks', count: 2 },
        { experiment: 'other', variant: 'blend', field: 'impressions', count: 7 },
      ],
      [
        { experiment: 'home', variant: 'blend', userId: 'alice', mark: 'served' },
        { experiment: 'home', variant: 'blend', userId: 'carol', mark: 'served' },
        { experiment: 'home', variant: 'blend', userId: 'alice', mark: 'clicked' },
      ],
    );
    await tallies.add([], [{ experiment: 'home', variant: 'blend', userId: 'alice', mark: 'clicked' }]);

    expect(await tallies.read('home')).toEqual([
      { variant: 'blend', counts: { ...EMPTY_TALLY, impressions: 4, users: 2, clicks: 2, clickingUsers: 1 } },
      { variant: 'diverse', counts: { ...EMPTY_TALLY, impressions: 2, users: 1 } },
    ]);
    expect(await tallies.read('other')).toEqual([{ variant: 'blend', counts: { ...EMPTY_TALLY, impressions: 7 } }]);
    expect(await tallies.read('none')).toEqual([]);
    expect(await database.db.collection(COLLECTIONS.experimentUsers).countDocuments({ experiment: 'home' })).toBe(4);
  });

  it('writes nothing for nothing', async () => {
    const before = await database.db.collection(COLLECTIONS.experimentTallies).countDocuments();
    await tallies.add([{ experiment: 'empty', variant: 'blend', field: 'clicks', count: 0 }], []);
    expect(await database.db.collection(COLLECTIONS.experimentTallies).countDocuments()).toBe(before);
  });
});
