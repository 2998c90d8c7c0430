/**
 * Values kept until a time of their own. Bounded crudely: at `max` entries it starts over, which
 * costs nothing on the hot path and suits caches whose entries are cheap to load again (tokens to
 * verify, catalog rows, rankings).
 */
export class ExpiringCache<V> {
  private readonly entries = new Map<string, { value: V; until: number }>();
  private readonly max: number;

  constructor(max: number) {
    this.max = max;
  }

  /** The value, unless it expired at or before `now`. */
  get(key: string, now: number): V | undefined {
    const entry = this.entries.get(key);
    if (entry === undefined) return undefined;
    if (entry.until > now) return entry.value;
    this.entries.delete(key);
    return undefined;
  }

  set(key: string, value: V, until: number): void {
    if (this.entries.size >= this.max) this.entries.clear();
    this.entries.set(key, { value, until });
  }

  clear(): void {
    this.entries.clear();
  }
}
