import { describe, expect, it } from 'vitest';
import { DEFAULT_ENGINE_CONFIG } from '../src/config.ts';
import { codesWhere, EVENT_TYPE_NAMES, EVENT_TYPES, isEventType, TYPE_OF_CODE } from '../src/eventTypes.ts';
import { isControl } from '../src/event.ts';

describe('EVENT_TYPES', () => {
  // toMatchObject, not toEqual: a new type adds an entry and must not need these tests edited
  it('keeps the one-character codes stored in existing user states, each for one type', () => {
    const codes = Object.fromEntries(EVENT_TYPE_NAMES.map((type) => [type, EVENT_TYPES[type].code]));
    expect(codes).toMatchObject({ VIEW: 'V', CLICK: 'C', ADD_TO_CART: 'A', REMOVE_FROM_CART: 'R', PURCHASE: 'P' });
    for (const type of EVENT_TYPE_NAMES) {
      expect(EVENT_TYPES[type].code).toHaveLength(1);
      expect(TYPE_OF_CODE.get(EVENT_TYPES[type].code)).toBe(type);
    }
    expect(TYPE_OF_CODE.size).toBe(EVENT_TYPE_NAMES.length);
    expect(TYPE_OF_CODE.get('X')).toBeUndefined();
  });

  it('derives which stored codes are views, history entries and purchases', () => {
    for (const type of EVENT_TYPE_NAMES) {
      const { code, countsAsView, entersHistory, purchase } = EVENT_TYPES[type];
      expect([codesWhere('countsAsView').has(code), codesWhere('entersHistory').has(code), codesWhere('purchase').has(code)]).toEqual([
        countsAsView,
        entersHistory,
        purchase,
      ]);
    }
    const semantics = Object.fromEntries(
      EVENT_TYPE_NAMES.map((type) => [type, [EVENT_TYPES[type].countsAsView, EVENT_TYPES[type].entersHistory, EVENT_TYPES[type].purchase]]),
    );
    // [counts as a view, enters the history, a purchase]
    expect(semantics).toMatchObject({
      VIEW: [true, true, false],
      CLICK: [true, true, false],
      ADD_TO_CART: [true, false, false],
      REMOVE_FROM_CART: [false, false, false],
      PURCHASE: [false, false, true],
    });
  });

  it('gives the engine its default interest weights, one per type', () => {
    expect(Object.keys(DEFAULT_ENGINE_CONFIG.weights)).toEqual(EVENT_TYPE_NAMES);
    expect(DEFAULT_ENGINE_CONFIG.weights).toMatchObject({ VIEW: 1, CLICK: 1.5, ADD_TO_CART: 3, REMOVE_FROM_CART: -2, PURCHASE: 4 });
  });

  it('puts a product in the cart on ADD_TO_CART and out of it on REMOVE_FROM_CART and PURCHASE', () => {
    const effects = Object.fromEntries(EVENT_TYPE_NAMES.map((type) => [type, EVENT_TYPES[type].cartEffect]));
    expect(effects).toMatchObject({ VIEW: 'none', CLICK: 'none', ADD_TO_CART: 'in', REMOVE_FROM_CART: 'out', PURCHASE: 'out' });
  });

  it('tells client event types from history controls and anything else', () => {
    for (const type of EVENT_TYPE_NAMES) expect([isEventType(type), isControl(type)]).toEqual([true, false]);
    for (const type of ['HIDE_PRODUCT', 'CLEAR_HISTORY'] as const) expect([isEventType(type), isControl(type)]).toEqual([false, true]);
    for (const other of ['view', 'toString', 'constructor', '']) expect(isEventType(other)).toBe(false);
  });
});
