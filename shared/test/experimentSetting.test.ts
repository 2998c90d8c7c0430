import { describe, expect, it } from 'vitest';
import { assignVariant, experimentEnv, parseExperimentSetting } from '../src/experimentSetting.ts';
import { ConfigError, loadConfig } from '../src/config.ts';

const KNOWN = ['blend', 'diverse', 'ranker'];
const users = Array.from({ length: 10_000 }, (_, i) => `user-${i}`);

describe('parseExperimentSetting', () => {
  it('reads the name and the variants with their weights, in order', () => {
    expect(parseExperimentSetting('homepage:blend=50,diverse=50', KNOWN)).toEqual({
      name: 'homepage',
      variants: [
        { name: 'blend', weight: 50 },
        { name: 'diverse', weight: 50 },
      ],
    });
    expect(parseExperimentSetting(' q3-test : diverse = 9 , blend=1 ', KNOWN).variants.map((v) => v.name)).toEqual(['diverse', 'blend']);
  });

  it.each([
    ['homepage', /name:variant=weight/],
    [':blend=50', /experiment name/],
    ['has space:blend=50', /experiment name/],
    [`${'x'.repeat(33)}:blend=50`, /experiment name/],
    ['homepage:', /must be variant=weight/],
    ['homepage:blend', /must be variant=weight/],
    ['homepage:blend=50,unknown=50', /unknown variant "unknown" \(known: blend, diverse, ranker\)/],
    ['homepage:blend=50,blend=50', /listed twice/],
    ['homepage:blend=0', /from 1 to 10000/],
    ['homepage:blend=-5', /must be variant=weight/],
    ['homepage:blend=1.5', /must be variant=weight/],
    ['homepage:blend=10001', /from 1 to 10000/],
  ])('refuses %j', (text, message) => {
    expect(() => parseExperimentSetting(text, KNOWN)).toThrow(message);
  });

  it('is a config error naming RECS_EXPERIMENT when invalid, and no experiment when unset or empty', () => {
    const shape = { RECS_EXPERIMENT: experimentEnv(KNOWN) };
    expect(() => loadConfig(shape, { RECS_EXPERIMENT: 'homepage:nope=1' })).toThrow(ConfigError);
    expect(() => loadConfig(shape, { RECS_EXPERIMENT: 'homepage:nope=1' })).toThrow(/RECS_EXPERIMENT: unknown variant "nope"/);
    expect(loadConfig(shape, {}).RECS_EXPERIMENT).toBeUndefined();
    expect(loadConfig(shape, { RECS_EXPERIMENT: '' }).RECS_EXPERIMENT).toBeUndefined();
    expect(loadConfig(shape, { RECS_EXPERIMENT: 'h:blend=1' }).RECS_EXPERIMENT).toEqual({ name: 'h', variants: [{ name: 'blend', weight: 1 }] });
  });
});

describe('assignVariant', () => {
  const fifty = parseExperimentSetting('homepage:blend=50,diverse=50', KNOWN);

  it('splits 10,000 users about 50/50 (within 3 standard deviations)', () => {
    const diverse = users.filter((user) => assignVariant(fifty, user) === 'diverse').length;
    // binomial(10,000, 0.5): sd 50
    expect(Math.abs(diverse - 5_000)).toBeLessThan(150);
  });

  it('follows the weights', () => {
    const split = parseExperimentSetting('ramp:blend=90,diverse=10', KNOWN);
    const diverse = users.filter((user) => assignVariant(split, user) === 'diverse').length;
    // binomial(10,000, 0.1): sd 30
    expect(Math.abs(diverse - 1_000)).toBeLessThan(90);
    const three = parseExperimentSetting('three:blend=1,diverse=1,ranker=2', KNOWN);
    const counts = new Map<string, number>();
    for (const user of users) counts.set(assignVariant(three, user), (counts.get(assignVariant(three, user)) ?? 0) + 1);
    expect(Math.abs((counts.get('ranker') ?? 0) - 5_000)).toBeLessThan(150);
    expect(Math.abs((counts.get('blend') ?? 0) - 2_500)).toBeLessThan(130);
  });

  it('is stable: the same user gets the same variant every time, whatever the order of calls', () => {
    const first = users.map((user) => assignVariant(fifty, user));
    const again = [...users].reverse().map((user) => assignVariant(parseExperimentSetting('homepage:blend=50,diverse=50', KNOWN), user));
    expect(again.reverse()).toEqual(first);
    // a known value, so a change to the hash (which would move every user) is noticed
    expect(['alice', 'bob', 'carol', '17850'].map((user) => assignVariant(fifty, user))).toMatchInlineSnapshot(`
      [
        "diverse",
        "diverse",
        "blend",
        "blend",
      ]
    `);
  });

  it('splits users independently per experiment name', () => {
    const other = parseExperimentSetting('checkout:blend=50,diverse=50', KNOWN);
    const both = users.filter((user) => assignVariant(fifty, user) === 'diverse' && assignVariant(other, user) === 'diverse').length;
    // independent: a quarter are diverse in both (binomial(10,000, 0.25): sd 43)
    expect(Math.abs(both - 2_500)).toBeLessThan(130);
  });
});
