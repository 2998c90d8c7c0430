import DataLoader from 'dataloader';
import type { Collection, Db } from 'mongodb';
import { ExpiringCache } from './cache.ts';
import { COLLECTIONS } from './mongo.ts';
import type { RedisClient, RedisNames } from './redis.ts';

/** A product as the catalog stores it (the products subgraph writes it). */
export interface ProductDoc {
  _id: string;
  name: string;
  categoryId?: string;
  price?: number;
  currency: string;
  description?: string;
  imageUrl?: string;
  inStock: boolean;
  attributes?: Record<string, unknown>;
  updatedAt: Date;
}

export interface CategoryDoc {
  _id: string;
  name: string;
}

/** What a cached row weighs, about: its JSON (rows are small, a miss is null). */
export function approximateBytes(doc: object | null): number {
  return doc === null ? 0 : JSON.stringify(doc).length;
}

export interface CatalogReaderOptions {
  /** How long a product or category read from MongoDB is reused (default 30 s); 0 turns caching off. */
  readonly ttlMs?: number;
  /** Products kept at most (default 100,000, 64 MiB). */
  readonly maxProducts?: number;
  readonly maxProductBytes?: number;
}

/**
 * Products and categories by id, read from the catalog in one query per batch and kept in
 * memory: every process that shows products (the products subgraph, and the recommendations
 * subgraph for the product fields it provides) reads them the same way. A catalog change message
 * (`catalogChannel`, published by every write) empties the cache; a read that started before one
 * is not cached after it; the TTL bounds staleness should a message be lost. Bounded in entries
 * and bytes; a miss (null) is remembered too.
 */
export class CatalogReader {
  private readonly products: Collection<ProductDoc>;
  private readonly categories: Collection<CategoryDoc>;
  private readonly productCache: ExpiringCache<ProductDoc | null>;
  private readonly categoryCache = new ExpiringCache<CategoryDoc | null>({ max: 10_000, maxBytes: 4 * 1024 * 1024, sizeOf: approximateBytes });
  private readonly ttlMs: number;
  /** Bumped by invalidate(): a read that started before a change is not cached after it. */
  private generationCount = 0;

  constructor(db: Db, options: CatalogReaderOptions = {}) {
    this.products = db.collection<ProductDoc>(COLLECTIONS.products);
    this.categories = db.collection<CategoryDoc>(COLLECTIONS.categories);
    this.productCache = new ExpiringCache<ProductDoc | null>({
      max: options.maxProducts ?? 100_000,
      maxBytes: options.maxProductBytes ?? 64 * 1024 * 1024,
      sizeOf: approximateBytes,
    });
    this.ttlMs = options.ttlMs ?? 30_000;
  }

  /** Changes with every invalidate() (caches built on top compare it before keeping a read). */
  get generation(): number {
    return this.generationCount;
  }

  /** Forgets what is cached (after a catalog change anywhere). */
  invalidate(): void {
    this.generationCount++;
    this.productCache.clear();
    this.categoryCache.clear();
  }

  /**
   * Empties the cache on every catalog change message heard on `subscriber` (a connection of its
   * own), and when it reconnects (messages may have been missed meanwhile).
   */
  async follow(subscriber: RedisClient, names: RedisNames): Promise<void> {
    subscriber.on('ready', () => this.invalidate());
    await subscriber.subscribe(names.catalogChannel(), () => this.invalidate());
  }

  /** What the cache holds (diagnostics and tests). */
  stats(): { readonly entries: number; readonly bytes: number } {
    return { entries: this.productCache.size + this.categoryCache.size, bytes: this.productCache.bytes + this.categoryCache.bytes };
  }

  /** The products found among `ids`, in one query for those not cached. */
  productsByIds(ids: readonly string[], now = Date.now()): Promise<ProductDoc[]> {
    return this.cachedByIds(ids, this.productCache, (missing) => this.products.find({ _id: { $in: missing } }).toArray(), now);
  }

  categoriesByIds(ids: readonly string[], now = Date.now()): Promise<CategoryDoc[]> {
    return this.cachedByIds(ids, this.categoryCache, (missing) => this.categories.find({ _id: { $in: missing } }).toArray(), now);
  }

  private async cachedByIds<V extends { _id: string }>(
    ids: readonly string[],
    cache: ExpiringCache<V | null>,
    load: (missing: string[]) => Promise<V[]>,
    now: number,
  ): Promise<V[]> {
    const found: V[] = [];
    const missing: string[] = [];
    for (const id of ids) {
      const cached = cache.get(id, now);
      if (cached === undefined) missing.push(id);
      else if (cached !== null) found.push(cached);
    }
    if (missing.length === 0) return found;
    const generation = this.generationCount;
    const loaded = await load(missing);
    if (this.ttlMs > 0 && generation === this.generationCount) {
      const byId = new Map(loaded.map((doc) => [doc._id, doc]));
      for (const id of missing) cache.set(id, byId.get(id) ?? null, now + this.ttlMs);
    }
    found.push(...loaded);
    return found;
  }
}

/** Products and categories by id through `reader`, batched per request (null: not in the catalog). */
export function catalogLoaders(reader: CatalogReader): {
  readonly products: DataLoader<string, ProductDoc | null>;
  readonly categories: DataLoader<string, CategoryDoc | null>;
} {
  const byId = <V extends { _id: string }>(ids: readonly string[], found: readonly V[]) => {
    const map = new Map(found.map((doc) => [doc._id, doc]));
    return ids.map((id) => map.get(id) ?? null);
  };
  return {
    products: new DataLoader(async (ids: readonly string[]) => byId(ids, await reader.productsByIds(ids))),
    categories: new DataLoader(async (ids: readonly string[]) => byId(ids, await reader.categoriesByIds(ids))),
  };
}
