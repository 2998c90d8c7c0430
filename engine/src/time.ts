export const DAY_MS = 86_400_000;

/** Days since the Unix epoch, in UTC: the unit of best-seller windows. */
export function dayOf(ms: number): number {
  return Math.floor(ms / DAY_MS);
}

/** 2^(-age / halfLife): 1 now, 0.5 one half-life ago. Future times count as now. */
export function decay(ageMs: number, halfLifeDays: number): number {
  return ageMs <= 0 ? 1 : 2 ** (-ageMs / (halfLifeDays * DAY_MS));
}
