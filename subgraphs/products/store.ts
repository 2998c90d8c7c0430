import {
  approximateBytes,
  CatalogReader,
  COLLECTIONS,
  ExpiringCache,
  type CategoryDoc,
  type ProductDoc,
  type RedisClient,
  type RedisNames,
} from '@recs/shared';
import type { Collection, Db, Filter } from 'mongodb';
import type { ProductRecord } from './catalog/product.ts';

export type { CategoryDoc, ProductDoc } from '@recs/shared';

export interface ProductPage {
  readonly products: readonly ProductDoc[];
  readonly totalCount: number;
  readonly hasNextPage: boolean;
}

export interface ProductQuery {
  readonly ids?: readonly string[];
  readonly categoryId?: string;
  readonly search?: string;
  readonly first: number;
  /** Continue after this product id. */
  readonly after?: string;
}

export interface UpsertResult {
  readonly created: number;
  readonly updated: number;
  readonly unchanged: number;
}

function escapeRegex(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

function docOf(record: ProductRecord): Omit<ProductDoc, 'updatedAt'> {
  return {
    _id: record.id,
    name: record.name,
    currency: record.currency,
    inStock: record.inStock,
    ...(record.categoryId === undefined ? {} : { categoryId: record.categoryId }),
    ...(record.price === undefined ? {} : { price: record.price }),
    ...(record.description === undefined ? {} : { description: record.description }),
    ...(record.imageUrl === undefined ? {} : { imageUrl: record.imageUrl }),
    ...(record.attributes === undefined ? {} : { attributes: { ...record.attributes } }),
  };
}

function sameProduct(a: Omit<ProductDoc, 'updatedAt'>, b: ProductDoc): boolean {
  const { updatedAt: _ignored, ...rest } = b;
  return JSON.stringify(Object.entries(a).sort()) === JSON.stringify(Object.entries(rest).sort());
}

export interface ProductStoreOptions {
  /** Publishes catalog changes (other processes' caches refresh on them). */
  readonly publish?: { readonly redis: RedisClient; readonly names: RedisNames };
  /** How long a product or category read from MongoDB is reused; 0 turns caching off. */
  readonly cacheTtlMs?: number;
}

/** All MongoDB access of the products subgraph. */
export class ProductStore {
  private readonly products: Collection<ProductDoc>;
  private readonly categoryCollection: Collection<CategoryDoc>;
  private readonly redis: RedisClient | undefined;
  private readonly names: RedisNames | undefined;
  /** Products and categories by id (cached; emptied by catalog change messages). */
  readonly reader: CatalogReader;
  /**
   * Pages of the catalog read within the TTL, by query: a storefront's first pages of each
   * category and its common searches are most of its catalog traffic, and counting the matches
   * costs a pass over them. Emptied with the other caches; bounded in entries and bytes, as
   * clients choose the queries.
   */
  private readonly pageCache = new ExpiringCache<ProductPage>({ max: 5_000, maxBytes: 16 * 1024 * 1024, sizeOf: approximateBytes });
  private readonly cacheTtlMs: number;

  constructor(db: Db, options: ProductStoreOptions = {}) {
    this.products = db.collection<ProductDoc>(COLLECTIONS.products);
    this.categoryCollection = db.collection<CategoryDoc>(COLLECTIONS.categories);
    this.redis = options.publish?.redis;
    this.names = options.publish?.names;
    this.cacheTtlMs = options.cacheTtlMs ?? 30_000;
    this.reader = new CatalogReader(db, { ttlMs: this.cacheTtlMs });
  }

  /** What the caches hold (diagnostics and tests). */
  cacheStats(): { readonly entries: number; readonly bytes: number } {
    const reader = this.reader.stats();
    return { entries: reader.entries + this.pageCache.size, bytes: reader.bytes + this.pageCache.bytes };
  }

  /** Forgets cached products, categories and pages (after a catalog change anywhere). */
  invalidate(): void {
    this.reader.invalidate();
    this.pageCache.clear();
  }

  /** One query for any number of ids (DataLoader batches), cached ones left out. */
  findByIds(ids: readonly string[], now = Date.now()): Promise<ProductDoc[]> {
    return this.reader.productsByIds(ids, now);
  }

  categoriesByIds(ids: readonly string[], now = Date.now()): Promise<CategoryDoc[]> {
    return this.reader.categoriesByIds(ids, now);
  }

  categories(): Promise<CategoryDoc[]> {
    return this.categoryCollection.find().sort({ name: 1, _id: 1 }).toArray();
  }

  async page(query: ProductQuery, now = Date.now()): Promise<ProductPage> {
    if (this.cacheTtlMs <= 0) return this.readPage(query);
    const key = JSON.stringify([query.ids ?? null, query.categoryId ?? null, query.search ?? null, query.first, query.after ?? null]);
    const cached = this.pageCache.get(key, now);
    if (cached !== undefined) return cached;
    const { generation } = this.reader;
    const page = await this.readPage(query);
    if (generation === this.reader.generation) this.pageCache.set(key, page, now + this.cacheTtlMs);
    return page;
  }

  private async readPage(query: ProductQuery): Promise<ProductPage> {
    const filter: Filter<ProductDoc> = {};
    if (query.ids !== undefined) filter._id = { $in: [...query.ids] };
    if (query.categoryId !== undefined) filter.categoryId = query.categoryId;
    const words =
      query.search
        ?.trim()
        .split(/\s+/)
        .filter((w) => w !== '') ?? [];
    if (words.length > 0) filter.$and = words.map((word) => ({ name: { $regex: escapeRegex(word), $options: 'i' } }));
    const pageFilter: Filter<ProductDoc> = query.after === undefined ? filter : { $and: [filter, { _id: { $gt: query.after } }] };
    const [products, totalCount] = await Promise.all([
      this.products
        .find(pageFilter)
        .sort({ _id: 1 })
        .limit(query.first + 1)
        .toArray(),
      this.products.countDocuments(filter),
    ]);
    return { products: products.slice(0, query.first), totalCount, hasNextPage: products.length > query.first };
  }

  /**
   * Creates or replaces products by id and creates their categories. Existing products sent
   * unchanged are not rewritten. Catalog caches elsewhere are told what changed.
   */
  async upsert(records: readonly ProductRecord[], now = new Date()): Promise<UpsertResult> {
    // compared with what MongoDB holds now, never with a cached copy
    const existing = new Map((await this.products.find({ _id: { $in: records.map((r) => r.id) } }).toArray()).map((doc) => [doc._id, doc]));
    let created = 0;
    let updated = 0;
    const writes: ProductDoc[] = [];
    for (const record of records) {
      const doc = docOf(record);
      const previous = existing.get(record.id);
      if (previous !== undefined && sameProduct(doc, previous)) continue;
      if (previous === undefined) created++;
      else updated++;
      writes.push({ ...doc, updatedAt: now });
    }
    for (let i = 0; i < writes.length; i += 500) {
      await this.products.bulkWrite(
        writes.slice(i, i + 500).map((doc) => ({ replaceOne: { filter: { _id: doc._id }, replacement: doc, upsert: true } })),
        { ordered: false },
      );
    }
    const categories = new Map<string, string | undefined>();
    for (const record of records) {
      if (record.categoryId !== undefined) categories.set(record.categoryId, record.categoryName ?? categories.get(record.categoryId));
    }
    let renamed = 0;
    if (categories.size > 0) {
      const result = await this.categoryCollection.bulkWrite(
        [...categories].map(([id, name]) => ({
          updateOne: {
            filter: { _id: id },
            update: name === undefined ? { $setOnInsert: { name: id } } : { $set: { name } },
            upsert: true,
          },
        })),
        { ordered: false },
      );
      renamed = result.modifiedCount + result.upsertedCount;
    }
    if (writes.length > 0 || categories.size > 0) this.invalidate();
    // every process showing products caches them (a category's name too): tell them
    if ((writes.length > 0 || renamed > 0) && this.redis !== undefined && this.names !== undefined) {
      await this.redis.publish(this.names.catalogChannel(), JSON.stringify({ changed: writes.length, categories: renamed }));
    }
    return { created, updated, unchanged: records.length - created - updated };
  }
}
