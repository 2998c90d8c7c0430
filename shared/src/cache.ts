import { LRUCache } from 'lru-cache';

export interface ExpiringCacheOptions<V> {
  /** Entries kept at most. */
  readonly max: number;
  /** Approximate bytes kept at most, keys included (see `sizeOf`). */
  readonly maxBytes: number;
  /**
   * Approximate bytes of a value, its key left out (keys are counted as their length). Default:
   * a string's length, anything else a small fixed size: fine for small values, too little for
   * large ones, which should say what they weigh.
   */
  readonly sizeOf?: (value: V) => number;
}

/** Bookkeeping of one entry (the LRU's node, the wrapper, the key's string header), roughly. */
const ENTRY_OVERHEAD_BYTES = 96;
/** What a value that does not say otherwise is taken to weigh. */
const SMALL_VALUE_BYTES = 64;
/** The byte budget of a cache built with an entry count only. */
export const DEFAULT_CACHE_BYTES = 16 * 1024 * 1024;

const defaultSizeOf = (value: unknown): number => (typeof value === 'string' ? value.length : SMALL_VALUE_BYTES);

/**
 * Values kept until a time of their own, bounded both in entries and in bytes: the least recently
 * used go first, so keys a client makes up (however many, however long) cannot grow memory past
 * the budget. An entry larger than the whole budget is not kept.
 */
export class ExpiringCache<V> {
  private readonly entries: LRUCache<string, { value: V; until: number }>;

  /** `max` alone: that many entries and DEFAULT_CACHE_BYTES. */
  constructor(options: number | ExpiringCacheOptions<V>) {
    const { max, maxBytes, sizeOf = defaultSizeOf } = typeof options === 'number' ? { max: options, maxBytes: DEFAULT_CACHE_BYTES } : options;
    this.entries = new LRUCache({
      max,
      maxSize: maxBytes,
      sizeCalculation: (entry, key) => Math.max(1, Math.ceil(key.length + ENTRY_OVERHEAD_BYTES + sizeOf(entry.value))),
    });
  }

  /** The value, unless it expired at or before `now`. */
  get(key: string, now: number): V | undefined {
    const entry = this.entries.get(key);
    if (entry === undefined) return undefined;
    if (entry.until > now) return entry.value;
    this.entries.delete(key);
    return undefined;
  }

  /**
   * Keeps `value` until `until`, by the callers' clock (tests pass their own). The LRU's own TTL,
   * by the wall clock, lets an entry nobody reads again go at about the same time; a time already
   * past by the wall clock leaves that to the bounds.
   */
  set(key: string, value: V, until: number): void {
    const ttl = Math.ceil(until - Date.now());
    this.entries.set(key, { value, until }, { ttl: Math.max(ttl, 0) });
  }

  delete(key: string): void {
    this.entries.delete(key);
  }

  clear(): void {
    this.entries.clear();
  }

  /** Entries held (expired ones included until they are read or pushed out). */
  get size(): number {
    return this.entries.size;
  }

  /** Approximate bytes held, as counted against `maxBytes`. */
  get bytes(): number {
    return this.entries.calculatedSize;
  }
}
