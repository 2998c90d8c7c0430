import type { TrackedEvent } from '@recs/engine';
import { describe, expect, it } from 'vitest';
import { basketSteps, BASKET_WINDOW_MS, type HistoryStep } from '../src/index.ts';

const MINUTE = 60_000;
let n = 0;
const event = (userId: string, productId: string, type: TrackedEvent['type'], minute: number): TrackedEvent => ({
  eventId: `e${++n}`,
  userId,
  productId,
  type,
  occurredAt: minute * MINUTE,
  receivedAt: minute * MINUTE,
  quantity: 1,
});

async function steps(events: TrackedEvent[]): Promise<HistoryStep[]> {
  const out: HistoryStep[] = [];
  for await (const step of basketSteps(events)) out.push(step);
  return out;
}

describe('basketSteps', () => {
  it("makes one basket of a customer's purchases within the window, placed at its first purchase", async () => {
    const events = [
      event('ann', 'tea', 'VIEW', 0),
      event('ann', 'tea', 'PURCHASE', 1),
      event('bob', 'mug', 'VIEW', 2),
      event('ann', 'pot', 'PURCHASE', 5),
      event('ann', 'cup', 'PURCHASE', 1 + BASKET_WINDOW_MS / MINUTE + 1),
      event('bob', 'mug', 'PURCHASE', 30),
    ];
    const out = await steps(events);
    const shape = out.map((step) =>
      step.basket === undefined ? step.events.map((e) => e.eventId) : { basket: [...step.basket.products], user: step.basket.userId },
    );
    expect(shape).toEqual([
      [events[0]!.eventId],
      { basket: ['tea', 'pot'], user: 'ann' },
      [events[2]!.eventId],
      { basket: ['cup'], user: 'ann' },
      { basket: ['mug'], user: 'bob' },
    ]);
    // every event is given once, in one step
    expect(out.flatMap((step) => step.events.map((e) => e.eventId)).sort()).toEqual(events.map((e) => e.eventId).sort());
    expect(out[1]!.basket).toMatchObject({ at: MINUTE, id: events[1]!.eventId });
  });

  it('holds back no more than the window: a basket is given as soon as a later event passes it', async () => {
    const given: HistoryStep[] = [];
    async function* live() {
      yield event('cy', 'tea', 'PURCHASE', 0);
      yield event('dee', 'mug', 'VIEW', BASKET_WINDOW_MS / MINUTE + 1);
      // by now the basket must have been given
      expect(given.some((step) => step.basket?.userId === 'cy')).toBe(true);
      yield event('dee', 'mug', 'VIEW', BASKET_WINDOW_MS / MINUTE + 2);
    }
    for await (const step of basketSteps(live())) given.push(step);
    expect(given.filter((step) => step.basket !== undefined)).toHaveLength(1);
  });
});
