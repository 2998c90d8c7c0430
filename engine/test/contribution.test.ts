import { describe, expect, it } from 'vitest';
import { engineConfig } from '../src/config.ts';
import { contributionOf, ContributionDelta, EMPTY_CONTRIBUTION, pairKey } from '../src/contribution.ts';
import { dayOf } from '../src/time.ts';
import { emptyUserState, mergeEvents } from '../src/userState.ts';
import { DAY, event, MINUTE, T0 } from './fixtures.ts';

const config = engineConfig({ coViewWindow: 2, coBuyItems: 3, sessionGapMs: 30 * MINUTE });

function stateOf(events: Parameters<typeof mergeEvents>[1]) {
  return mergeEvents(emptyUserState('u1'), events, config).state;
}

describe('contributionOf', () => {
  it('pairs views at most coViewWindow apart within a session split by idle gaps', () => {
    // session 1: a b c d (one minute apart); 2 hours later session 2: e a
    const state = stateOf([
      ...['a', 'b', 'c', 'd'].map((p, i) => event('u1', p, 'VIEW', i * MINUTE)),
      event('u1', 'e', 'VIEW', 120 * MINUTE),
      event('u1', 'a', 'CLICK', 121 * MINUTE),
    ]);
    const contribution = contributionOf(state, config);
    expect(contribution.viewed).toEqual(new Set(['a', 'b', 'c', 'd', 'e']));
    expect(contribution.coView).toEqual(
      new Set([pairKey('a', 'b'), pairKey('a', 'c'), pairKey('b', 'c'), pairKey('b', 'd'), pairKey('c', 'd'), pairKey('e', 'a')]),
    );
  });

  it('groups by sessionId when the client sends one, whatever the gaps', () => {
    const state = stateOf([
      event('u1', 'a', 'VIEW', 0, { sessionId: 's1' }),
      event('u1', 'x', 'VIEW', MINUTE, { sessionId: 's2' }),
      event('u1', 'b', 'VIEW', 300 * MINUTE, { sessionId: 's1' }),
    ]);
    expect(contributionOf(state, config).coView).toEqual(new Set([pairKey('a', 'b')]));
  });

  it('pairs the most recently purchased distinct products', () => {
    const state = stateOf(['a', 'b', 'c', 'd'].map((p, i) => event('u1', p, 'PURCHASE', i * DAY)));
    const contribution = contributionOf(state, config);
    expect(contribution.bought).toEqual(new Set(['d', 'c', 'b']));
    expect(contribution.coBuy).toEqual(new Set([pairKey('b', 'c'), pairKey('b', 'd'), pairKey('c', 'd')]));
    expect(contribution.lastPurchaseDay.get('a')).toBe(dayOf(T0));
  });
});

describe('ContributionDelta', () => {
  it('records what changed between two contributions of a user', () => {
    const before = contributionOf(stateOf([event('u1', 'a', 'PURCHASE', 0)]), config);
    const after = contributionOf(stateOf([event('u1', 'a', 'PURCHASE', DAY), event('u1', 'b', 'PURCHASE', DAY)]), config);
    const delta = new ContributionDelta();
    delta.add(EMPTY_CONTRIBUTION, before);
    expect(delta.buyingUsers).toBe(1);
    delta.add(before, after);
    expect(delta.buyingUsers).toBe(1);
    expect(Object.fromEntries(delta.buyers)).toEqual({ a: 1, b: 1 });
    expect(Object.fromEntries(delta.coBuy)).toEqual({ [pairKey('a', 'b')]: 1 });
    // a's buyer moved from day 0 to day 1; b gained a buyer on day 1
    const day0 = dayOf(T0);
    expect(Object.fromEntries(delta.buyerDays.get('a')!)).toEqual({ [day0]: 0, [day0 + 1]: 1 });
    expect(Object.fromEntries(delta.buyerDays.get('b')!)).toEqual({ [day0 + 1]: 1 });
  });
});
