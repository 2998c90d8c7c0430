import { EventEmitter } from 'node:events';
import { ExpiringCache, type Logger, type RedisClient, type RedisNames, type StoredList } from '@recs/shared';

export interface ListCacheOptions {
  /** Approximate bytes of lists kept at most (default 64 MiB). */
  readonly maxBytes?: number;
  /** Lists kept at most (default 200,000). */
  readonly maxEntries?: number;
  /**
   * A cached list is read again after this long even without a change message (default 15 s):
   * the bound on how stale a list can be should a message be lost, well inside the time the
   * gateway keeps retrying a hydration that reads an older version than announced (~35 s).
   */
  readonly ttlMs?: number;
}

/** How long the newest version announced for a user is remembered: far longer than a read takes. */
const ANNOUNCED_TTL_MS = 10 * 60_000;

/** Bytes of a list's items, roughly: ids, reasons and numbers. */
function itemsBytes(items: StoredList['items']): number {
  let bytes = 0;
  for (const item of items) {
    bytes += 48 + item.productId.length;
    for (const reason of item.reasons) bytes += 16 + reason.length;
  }
  return bytes;
}

/** Bytes of a stored list, roughly: the blend's items and the model's order of them when saved. */
export function listBytes(list: StoredList | null): number {
  if (list === null) return 16;
  const ranked = list.ranked === undefined ? 0 : 32 + list.ranked.model.length + itemsBytes(list.ranked.items);
  return 96 + list.userId.length + itemsBytes(list.items) + ranked;
}

/** The list a change message carried, when it has a list's shape (a message without one: undefined). */
function carriedList(value: unknown): StoredList | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const list = value as Partial<StoredList>;
  const ok =
    typeof list.userId === 'string' &&
    typeof list.version === 'number' &&
    typeof list.generatedAt === 'number' &&
    typeof list.strategy === 'string' &&
    Array.isArray(list.items) &&
    (list.ranked === undefined || (typeof list.ranked === 'object' && list.ranked !== null && Array.isArray(list.ranked.items)));
  return ok ? (value as StoredList) : undefined;
}

/**
 * The lists this replica read lately, in memory: a storefront asks for the same shopper's list
 * on every page, and the workers announce each new version on the list's channel, which every
 * replica hears (a pattern subscription). A cached list is replaced by the newer one a change
 * message carries (or dropped, from a message without it); a read that started before an
 * announcement and returns an older version is not cached (the newest version announced per
 * user is kept, bounded). A subscription's hydration is served from memory when the cache holds
 * the newest version announced, so a live change costs no read of the store; one that still
 * finds an older list (the announcement reached the gateway first) sees an older `version` than
 * the change and reads again. Bounded in entries and bytes; a lost message costs at most the TTL.
 */
export class ListCache extends EventEmitter<{ announced: [userId: string, version: number] }> {
  private readonly lists: ExpiringCache<StoredList | null>;
  /**
   * The newest version announced per user (the floor a read must reach to be cached), kept far
   * longer than any read takes.
   */
  private readonly announced: ExpiringCache<number>;
  private readonly ttlMs: number;
  private subscriber: RedisClient | undefined;
  /** Reads answered from memory and from the store (diagnostics and tests). */
  hits = 0;
  misses = 0;

  constructor(options: ListCacheOptions = {}) {
    super();
    const maxEntries = options.maxEntries ?? 200_000;
    this.lists = new ExpiringCache({ max: maxEntries, maxBytes: options.maxBytes ?? 64 * 1024 * 1024, sizeOf: listBytes });
    this.announced = new ExpiringCache({ max: maxEntries, maxBytes: maxEntries * 160, sizeOf: () => 8 });
    this.ttlMs = options.ttlMs ?? 15_000;
  }

  /** The user's list from memory, else from `read` (cached when no newer version was announced meanwhile). */
  async get(userId: string, read: () => Promise<StoredList | undefined>, now = Date.now()): Promise<StoredList | undefined> {
    const cached = this.lists.get(userId, now);
    if (cached !== undefined) {
      this.hits++;
      return cached ?? undefined;
    }
    this.misses++;
    const list = await read();
    this.keep(userId, list, now);
    return list;
  }

  /**
   * The user's list from `read` whatever is cached (a subscription's hydration, which follows a
   * change message the cache may not have heard yet), kept when no newer version was announced.
   */
  async refresh(userId: string, read: () => Promise<StoredList | undefined>, now = Date.now()): Promise<StoredList | undefined> {
    // the newest version this replica heard of is in memory (a change message carried it)
    const cached = this.lists.get(userId, now);
    const floor = this.announced.get(userId, now);
    if (cached != null && floor !== undefined && cached.version >= floor && this.subscriber?.isReady === true) {
      this.hits++;
      return cached;
    }
    this.misses++;
    const list = await read();
    this.keep(userId, list, now);
    return list;
  }

  /** Caches a list read from the store, unless a newer version was announced while it was read. */
  private keep(userId: string, list: StoredList | undefined, now: number): void {
    const floor = this.announced.get(userId, now);
    // only while this replica hears the announcements: without them nothing would drop the entry
    if (this.subscriber?.isReady === true && (floor === undefined || (list !== undefined && list.version >= floor))) {
      this.lists.set(userId, list ?? null, now + this.ttlMs);
    }
  }

  /**
   * A newer version of the user's list was saved: an older one cached is replaced by `list` (the
   * saved list the message carried) or forgotten. A user not cached is added when the message
   * carries the newest version announced: the lists that change are those of the shoppers active
   * now, whose next page asks for them (the LRU bounds what that adds).
   */
  announce(userId: string, version: number, now = Date.now(), list?: StoredList): void {
    const floor = this.announced.get(userId, now);
    if (floor === undefined || version > floor) this.announced.set(userId, version, now + ANNOUNCED_TTL_MS);
    const cached = this.lists.get(userId, now);
    if (cached != null && cached.version >= version) return;
    const carried = list !== undefined && list.userId === userId && list.version === version && (floor === undefined || version >= floor);
    if (carried && this.subscriber?.isReady === true) this.lists.set(userId, list, now + this.ttlMs);
    else if (cached !== undefined) this.lists.delete(userId);
  }

  /**
   * Hears every list change on `subscriber` (a connection of its own). While it is not connected
   * nothing is cached, and what was cached is dropped when it reconnects (messages may have been
   * missed meanwhile).
   */
  async follow(subscriber: RedisClient, names: RedisNames, logger: Logger): Promise<void> {
    this.subscriber = subscriber;
    subscriber.on('ready', () => this.lists.clear());
    await subscriber.pSubscribe(names.liveChannel('recommendations', '*'), (text) => {
      try {
        const message = JSON.parse(text) as { userId?: unknown; version?: unknown; list?: unknown };
        if (typeof message.userId === 'string' && typeof message.version === 'number') {
          this.announce(message.userId, message.version, Date.now(), carriedList(message.list));
          this.emit('announced', message.userId, message.version);
        }
      } catch {
        logger.warn('ignoring a malformed list change message');
      }
    });
  }

  /** What the cache holds (diagnostics and tests). */
  stats(): { readonly entries: number; readonly bytes: number; readonly hits: number; readonly misses: number } {
    return { entries: this.lists.size, bytes: this.lists.bytes, hits: this.hits, misses: this.misses };
  }
}
