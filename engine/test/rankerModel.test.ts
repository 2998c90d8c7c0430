import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { dumpWithPenalty, LightgbmModel, ModelFormatError } from '../src/ranker/model.ts';
import { RANKER_FEATURE_NAMES } from '../src/ranker/features.ts';
import { rankerModel } from '../src/ranker/rank.ts';

/** Written by trainer/python/make_fixture.py: a dumped model, rows (null = NaN) and LightGBM's raw predictions. */
interface Fixture {
  readonly lightgbm: string;
  readonly model: unknown;
  readonly rows: readonly (readonly (number | null)[])[];
  readonly expected: readonly number[];
}

const fixture = (name: string) => JSON.parse(readFileSync(new URL(`./fixtures/ranker/${name}`, import.meta.url), 'utf8')) as Fixture;
const row = (values: readonly (number | null)[]) => values.map((value) => value ?? Number.NaN);

describe('LightgbmModel', () => {
  for (const name of ['lambdarank.json', 'zero-categorical.json']) {
    it(`scores every row as LightGBM's predict(raw_score=True) does (${name})`, () => {
      const { model, rows, expected } = fixture(name);
      const scorer = LightgbmModel.fromDump(model);
      expect(rows.length).toBeGreaterThan(20);
      rows.forEach((values, i) => {
        expect(scorer.score(row(values))).toBeCloseTo(expected[i]!, 10);
      });
    });
  }

  it('sends a missing value to the default side of a NaN split, and zero (or NaN) to the default side of a Zero split', () => {
    const split = (missing: 'NaN' | 'Zero', defaultLeft: boolean) =>
      LightgbmModel.fromDump({
        feature_names: ['x'],
        tree_info: [
          {
            tree_structure: {
              split_feature: 0,
              threshold: 0.5,
              decision_type: '<=',
              default_left: defaultLeft,
              missing_type: missing,
              left_child: { leaf_value: -1 },
              right_child: { leaf_value: 1 },
            },
          },
        ],
      });
    expect(split('NaN', false).score([Number.NaN])).toBe(1);
    expect(split('NaN', true).score([Number.NaN])).toBe(-1);
    expect(split('NaN', false).score([0.2])).toBe(-1);
    expect(split('Zero', false).score([0])).toBe(1);
    expect(split('Zero', false).score([Number.NaN])).toBe(1);
    expect(split('Zero', true).score([3])).toBe(1);
    expect(split('Zero', true).score([0.4])).toBe(-1);
  });

  it('refuses what is not a dump, with a ModelFormatError naming the problem', () => {
    expect(() => LightgbmModel.fromDump({ trees: [] })).toThrow(ModelFormatError);
    expect(() =>
      LightgbmModel.fromDump({
        feature_names: ['x'],
        tree_info: [
          {
            tree_structure: {
              split_feature: 3,
              threshold: 1,
              decision_type: '<=',
              default_left: true,
              missing_type: 'None',
              left_child: { leaf_value: 0 },
              right_child: { leaf_value: 1 },
            },
          },
        ],
      }),
    ).toThrow(/split_feature 3/);
    expect(() => LightgbmModel.fromDump({ feature_names: ['x'], tree_info: [] }).score([1, 2])).toThrow(/2 values for a model of 1/);
  });

  it('refuses a model trained on other features than RANKER_FEATURES', () => {
    const { model } = fixture('lambdarank.json');
    expect(() => rankerModel(model)).toThrow(/trained on another version of RANKER_FEATURES/);
    const ours = { feature_names: RANKER_FEATURE_NAMES, tree_info: [{ tree_structure: { leaf_value: 0.25 } }] };
    expect(rankerModel(ours).score(RANKER_FEATURE_NAMES.map(() => 0))).toBe(0.25);
  });

  it("takes the popularity penalty off the trees' score, and keeps it in the dump it is saved with", () => {
    const dump = { feature_names: ['x', 'buyers'], tree_info: [{ tree_structure: { leaf_value: 2 } }] };
    const plain = LightgbmModel.fromDump(dump);
    expect(plain.penalty).toBeUndefined();
    expect(plain.score([0, 7])).toBe(2);
    const penalized = plain.withPenalty({ feature: 'buyers', weight: 0.5 });
    // 0.5 × log2(1 + 7) = 1.5
    expect(penalized.score([0, 7])).toBeCloseTo(0.5, 12);
    expect(penalized.treeScore([0, 7])).toBe(2);
    // a missing or non-positive value is not penalized
    expect(penalized.score([0, Number.NaN])).toBe(2);
    expect(penalized.score([0, -3])).toBe(2);
    // what the job saves loads with the same penalty; weight 0 saves none
    const saved = dumpWithPenalty(JSON.stringify(dump), { feature: 'buyers', weight: 0.5 });
    expect(LightgbmModel.fromDump(saved).score([0, 7])).toBeCloseTo(0.5, 12);
    expect(JSON.parse(dumpWithPenalty(saved, { feature: 'buyers', weight: 0 }))).toEqual(dump);
    expect(() => plain.withPenalty({ feature: 'nope', weight: 1 })).toThrow(/nope is not one of the model's features/);
    expect(() => LightgbmModel.fromDump({ ...dump, recs_popularity_penalty: { feature: 'buyers', weight: -1 } })).toThrow(ModelFormatError);
  });
});
