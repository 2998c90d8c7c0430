import { describe, expect, it } from 'vitest';
import { ATTRIBUTION_WINDOW_MS, signRecommendationId, verifyRecommendationId, type ServedList } from '../src/recommendationId.ts';

const SECRET = 'a-test-secret-of-at-least-thirty-two-characters';
const NOW = Date.parse('2026-06-01T12:00:00Z');
const served: ServedList = { experiment: 'homepage', variant: 'diverse', model: 'none', strategy: 'PERSONALIZED', listVersion: 42, servedAt: NOW - 60_000 };

describe('recommendationId', () => {
  it('round-trips what was served, for the user it was served to', () => {
    const id = signRecommendationId('alice', served, SECRET);
    expect(verifyRecommendationId(id, 'alice', SECRET, NOW, NOW)).toEqual({ ok: true, served });
    const none = signRecommendationId('alice', { ...served, experiment: undefined, variant: 'blend', strategy: 'BEST_SELLERS', listVersion: 0 }, SECRET);
    expect(verifyRecommendationId(none, 'alice', SECRET, NOW, NOW)).toEqual({
      ok: true,
      served: { ...served, experiment: undefined, variant: 'blend', strategy: 'BEST_SELLERS', listVersion: 0 },
    });
  });

  it('is refused for another user, under another key, and once any part is altered', () => {
    const id = signRecommendationId('alice', served, SECRET);
    expect(verifyRecommendationId(id, 'bob', SECRET, NOW, NOW)).toMatchObject({ ok: false, message: expect.stringContaining('not issued for user bob') });
    expect(verifyRecommendationId(id, 'alice', `${SECRET}-other`, NOW, NOW).ok).toBe(false);
    // the variant changed to the other one, as a client forging attribution would
    const forged = id.replace('~diverse~', '~blend~');
    expect(forged).not.toBe(id);
    expect(verifyRecommendationId(forged, 'alice', SECRET, NOW, NOW).ok).toBe(false);
    // every single character changed in turn
    for (let i = 0; i < id.length; i++) {
      const altered = `${id.slice(0, i)}${id[i] === 'x' ? 'y' : 'x'}${id.slice(i + 1)}`;
      expect(verifyRecommendationId(altered, 'alice', SECRET, NOW, NOW).ok, altered).toBe(false);
    }
  });

  it('refuses what is not shaped like one', () => {
    for (const bad of ['', 'r1', 'nope', 42, null, 'r1~~blend~none~P~0~0~', `r1~${'x'.repeat(200)}`, 'r2~~blend~none~P~1~1~aaaaaaaaaaaaaaaaaaaaaa']) {
      expect(verifyRecommendationId(bad, 'alice', SECRET, NOW, NOW)).toEqual({ ok: false, message: 'recommendationId is not one this API issued' });
    }
  });

  it('is refused after the attribution window, and for an event that occurred before the list was served', () => {
    const id = signRecommendationId('alice', served, SECRET);
    const late = served.servedAt + ATTRIBUTION_WINDOW_MS + 1;
    expect(verifyRecommendationId(id, 'alice', SECRET, late, late)).toMatchObject({ ok: false, message: expect.stringContaining('expired') });
    expect(verifyRecommendationId(id, 'alice', SECRET, served.servedAt + ATTRIBUTION_WINDOW_MS, served.servedAt + ATTRIBUTION_WINDOW_MS).ok).toBe(true);
    // a client clock up to 5 minutes behind is fine; an hour before the serving is not
    expect(verifyRecommendationId(id, 'alice', SECRET, served.servedAt - 4 * 60_000, NOW).ok).toBe(true);
    expect(verifyRecommendationId(id, 'alice', SECRET, served.servedAt - 3_600_000, NOW)).toMatchObject({
      ok: false,
      message: expect.stringContaining('before the list'),
    });
  });

  it('stays within the 128 characters of an id, whatever the names and the user id', () => {
    const longest: ServedList = {
      experiment: 'e'.repeat(32),
      variant: 'v'.repeat(16),
      model: 'm'.repeat(24),
      strategy: 'PERSONALIZED',
      listVersion: Number.MAX_SAFE_INTEGER,
      servedAt: Date.parse('2100-01-01T00:00:00Z'),
    };
    const id = signRecommendationId('u'.repeat(128), longest, SECRET);
    expect(id.length).toBeLessThanOrEqual(128);
    expect(verifyRecommendationId(id, 'u'.repeat(128), SECRET, longest.servedAt, longest.servedAt)).toEqual({ ok: true, served: longest });
  });
});
