import { EventEmitter } from 'node:events';
import type { BestSellersList } from '@recs/engine';
import { bestSellersDocId, ExpiringCache, liveChannel, type Logger, type RedisClient, type RedisNames } from '@recs/shared';

export interface BestSellersCacheOptions {
  /** The window whose changes the workers announce (bestSellersChanged): the engine's default window. */
  readonly announcedWindowDays: number;
  /**
   * A ranking of the announced window is read again after this long even without a change
   * message (default 15 s): the bound on staleness should a message be lost.
   */
  readonly ttlMs?: number;
  /**
   * A ranking of another stored window (no change messages) is kept this long (default 1 s): how
   * stale a best-seller query of those windows can be.
   */
  readonly unannouncedTtlMs?: number;
  /** Rankings kept at most (default 10,000: categories × windows). */
  readonly maxEntries?: number;
  /** Approximate bytes kept at most (default 16 MiB). */
  readonly maxBytes?: number;
}

/** Bytes of a ranking, roughly. */
export const rankingBytes = (list: BestSellersList): number => list.items.reduce((sum, [id]) => sum + id.length + 48, 64);

/** How long the newest change heard of a ranking is remembered: far longer than a read takes. */
const ANNOUNCED_TTL_MS = 10 * 60_000;

/**
 * The stored best-seller rankings this replica read lately, in memory: every page of a cold
 * visitor (no list yet) and every category filter reads one, and they change a few times a
 * second at most, where pages ask hundreds of times. A ranking of the announced window is kept
 * until a change newer than it is announced on its channel (every replica hears them, a pattern
 * subscription), then read again on the next request, one read per ranking at a time shared by
 * every request waiting for it; a read that returns an older ranking than one announced while it
 * ran is not kept. Other windows (no messages) are kept a second. A hydration (`fresh`, after a
 * change message) is served from memory only when it holds the newest change heard of. While
 * the subscriber is not connected, the announced window is not cached, and what was is dropped
 * when it reconnects (messages may have been missed). Bounded in entries and bytes.
 */
export class BestSellersCache extends EventEmitter<{ announced: [categoryId: string | null, changedAt: number] }> {
  private readonly rankings: ExpiringCache<BestSellersList>;
  private readonly announced: ExpiringCache<number>;
  /** A read in flight per ranking: requests that find none cached share it. */
  private readonly reads = new Map<string, Promise<BestSellersList>>();
  private readonly announcedWindowDays: number;
  private readonly ttlMs: number;
  private readonly unannouncedTtlMs: number;
  private subscriber: RedisClient | undefined;
  /** Reads answered from memory and from the store (diagnostics and tests). */
  hits = 0;
  misses = 0;

  constructor(options: BestSellersCacheOptions) {
    super();
    const maxEntries = options.maxEntries ?? 10_000;
    this.rankings = new ExpiringCache({ max: maxEntries, maxBytes: options.maxBytes ?? 16 * 1024 * 1024, sizeOf: rankingBytes });
    this.announced = new ExpiringCache({ max: maxEntries, maxBytes: maxEntries * 160, sizeOf: () => 8 });
    this.announcedWindowDays = options.announcedWindowDays;
    this.ttlMs = options.ttlMs ?? 15_000;
    this.unannouncedTtlMs = options.unannouncedTtlMs ?? 1_000;
  }

  private get following(): boolean {
    return this.subscriber?.isReady === true;
  }

  /** The ranking from memory, else from `read`; `fresh` (a hydration): from memory only when it holds the newest change heard of. */
  async get(categoryId: string | null, windowDays: number, read: () => Promise<BestSellersList>, fresh = false, now = Date.now()): Promise<BestSellersList> {
    const key = bestSellersDocId(categoryId, windowDays);
    const announcedWindow = windowDays === this.announcedWindowDays;
    const cached = this.rankings.get(key, now);
    const floor = announcedWindow ? this.announced.get(key, now) : undefined;
    const current = cached !== undefined && (floor === undefined || cached.changedAt >= floor);
    if (current && (!fresh || (announcedWindow && floor !== undefined && this.following))) {
      this.hits++;
      return cached;
    }
    this.misses++;
    // a hydration reads for itself: a read already running may have started before the change
    const shared = fresh ? undefined : this.reads.get(key);
    if (shared !== undefined) return shared;
    const reading = read().then((list) => {
      this.keep(key, announcedWindow, list, now);
      return list;
    });
    if (!fresh) {
      this.reads.set(key, reading);
      const forget = () => {
        if (this.reads.get(key) === reading) this.reads.delete(key);
      };
      reading.then(forget, forget);
    }
    return reading;
  }

  private keep(key: string, announcedWindow: boolean, list: BestSellersList, now: number): void {
    if (!announcedWindow) {
      this.rankings.set(key, list, now + this.unannouncedTtlMs);
      return;
    }
    // only while this replica hears the announcements: without them nothing would drop the entry
    const floor = this.announced.get(key, Date.now());
    if (this.following && (floor === undefined || list.changedAt >= floor)) this.rankings.set(key, list, now + this.ttlMs);
  }

  /** The ranking of `categoryId` (null: every product) in the announced window changed at `changedAt`. */
  announce(categoryId: string | null, changedAt: number, now = Date.now()): void {
    const key = bestSellersDocId(categoryId, this.announcedWindowDays);
    const floor = this.announced.get(key, now);
    if (floor === undefined || changedAt > floor) this.announced.set(key, changedAt, now + ANNOUNCED_TTL_MS);
    const cached = this.rankings.get(key, now);
    if (cached !== undefined && cached.changedAt < changedAt) this.rankings.delete(key);
  }

  /** Hears every best-seller change on `subscriber` (a connection of its own, which may follow other channels too). */
  async follow(subscriber: RedisClient, names: RedisNames, logger: Logger): Promise<void> {
    this.subscriber = subscriber;
    subscriber.on('ready', () => this.rankings.clear());
    await subscriber.pSubscribe(liveChannel(names, 'bestSellersChanged', { categoryId: '*' }), (text) => {
      try {
        const message = JSON.parse(text) as { categoryId?: unknown; changedAt?: unknown };
        const categoryId = message.categoryId === null || typeof message.categoryId === 'string' ? message.categoryId : undefined;
        if (categoryId !== undefined && typeof message.changedAt === 'number') {
          this.announce(categoryId, message.changedAt);
          this.emit('announced', categoryId, message.changedAt);
        }
      } catch {
        logger.warn('ignoring a malformed best-sellers change message');
      }
    });
  }

  /** What the cache holds (diagnostics and tests). */
  stats(): { readonly entries: number; readonly bytes: number; readonly hits: number; readonly misses: number } {
    return { entries: this.rankings.size, bytes: this.rankings.bytes, hits: this.hits, misses: this.misses };
  }
}
