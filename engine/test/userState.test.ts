import { describe, expect, it } from 'vitest';
import { engineConfig } from '../src/config.ts';
import { dayOf } from '../src/time.ts';
import { emptyUserState, mergeEvents, shortKey, type UserState } from '../src/userState.ts';
import { DAY, event, MINUTE, shuffled, T0 } from './fixtures.ts';

const config = engineConfig({ ringSize: 3, lastPurchaseCap: 2 });

function applyAll(events: Parameters<typeof mergeEvents>[1], batch = 1): UserState {
  let state = emptyUserState('u1');
  for (let i = 0; i < events.length; i += batch) state = mergeEvents(state, events.slice(i, i + batch), config).state;
  return state;
}

describe('mergeEvents', () => {
  it('keeps events newest first and counts a duplicate once', () => {
    const view = event('u1', 'p1', 'VIEW', 0, { eventId: 'a' });
    const later = event('u1', 'p2', 'VIEW', MINUTE, { eventId: 'b' });
    let state = mergeEvents(emptyUserState('u1'), [view, later], config).state;
    const again = mergeEvents(state, [view], config);
    expect(again.changed).toBe(false);
    state = again.state;
    expect(state.events.map((e) => e[0])).toEqual(['b', 'a'].map(shortKey));
    expect(state.version).toBe(1);
  });

  it('keeps only the most recent ringSize events and ignores events older than all of a full ring', () => {
    const events = [0, 1, 2, 3].map((i) => event('u1', `p${i}`, 'VIEW', i * MINUTE, { eventId: `e${i}` }));
    const state = applyAll(events);
    expect(state.events.map((e) => e[0])).toEqual(['e3', 'e2', 'e1'].map(shortKey));
    const late = mergeEvents(state, [event('u1', 'px', 'VIEW', -MINUTE, { eventId: 'late' })], config);
    expect(late.changed).toBe(false);
  });

  it('remembers the distinct days each product was bought on, newest first, capped to the most recently bought products', () => {
    const state = applyAll([
      event('u1', 'a', 'PURCHASE', 0),
      event('u1', 'a', 'PURCHASE', 2 * DAY),
      event('u1', 'a', 'PURCHASE', 2 * DAY + 1),
      event('u1', 'b', 'PURCHASE', DAY),
      event('u1', 'c', 'PURCHASE', 3 * DAY),
    ]);
    expect([...state.purchaseDays]).toEqual([
      ['c', [dayOf(T0 + 3 * DAY)]],
      ['a', [dayOf(T0 + 2 * DAY), dayOf(T0)]],
    ]);
  });

  it('keeps the latest purchaseDaysKept days of a product, whatever order they arrive in', () => {
    const days = [5, 1, 9, 3, 7, 2].map((d) => event('u1', 'a', 'PURCHASE', d * DAY));
    const kept = engineConfig({ ringSize: 3, purchaseDaysKept: 3 });
    const forward = mergeEvents(emptyUserState('u1'), days, kept).state;
    const backward = [...days].reverse().reduce((state, e) => mergeEvents(state, [e], kept).state, emptyUserState('u1'));
    expect(forward.purchaseDays.get('a')).toEqual([9, 7, 5].map((d) => dayOf(T0 + d * DAY)));
    expect(backward.purchaseDays.get('a')).toEqual(forward.purchaseDays.get('a'));
  });

  it('reaches the same state whatever the order and batching of the events', () => {
    const events = Array.from({ length: 12 }, (_, i) =>
      event('u1', `p${i % 5}`, i % 3 === 0 ? 'PURCHASE' : 'VIEW', ((i * 7) % 12) * DAY, { eventId: `x${i}` }),
    );
    const reference = applyAll(events, events.length);
    for (const seed of [1, 2, 3, 4, 5]) {
      const state = applyAll([...shuffled(events, seed), ...shuffled(events, seed + 100)], 1 + (seed % 4));
      expect(state.events).toEqual(reference.events);
      expect([...state.purchaseDays].sort()).toEqual([...reference.purchaseDays].sort());
    }
  });
});

describe('history control events', () => {
  const hide = (productId: string, at: number, id: string) => ({ ...event('u1', productId, 'VIEW', at, { eventId: id }), type: 'HIDE_PRODUCT' as const });
  const clear = (at: number, id: string) => ({ ...event('u1', '*', 'VIEW', at, { eventId: id }), type: 'CLEAR_HISTORY' as const });

  it('records removals and clears, latest time winning, without touching the kept events', () => {
    const view = event('u1', 'p1', 'VIEW', 0);
    const all = [view, hide('p1', 2 * MINUTE, 'h1'), hide('p1', MINUTE, 'h2'), clear(3 * MINUTE, 'c1'), clear(MINUTE, 'c2')];
    const forward = applyAll(all);
    const backward = applyAll([...all].reverse());
    expect(forward.events.map((e) => e[1])).toEqual(['p1']);
    expect([...forward.hidden]).toEqual([['p1', T0 + 2 * MINUTE]]);
    expect(forward.clearedAt).toBe(T0 + 3 * MINUTE);
    expect({ ...backward, version: 0 }).toEqual({ ...forward, version: 0 });
    // the same removal again changes nothing
    expect(mergeEvents(forward, [hide('p1', 2 * MINUTE, 'h1')], config).changed).toBe(false);
  });
});
