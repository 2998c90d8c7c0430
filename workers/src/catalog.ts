import { MemoryCatalog, type CatalogProduct, type CatalogView } from '@recs/engine';
import { COLLECTIONS, type Logger, type RedisClient, type RedisNames } from '@recs/shared';
import type { Db } from 'mongodb';

interface CatalogDoc {
  _id: string;
  categoryId?: string;
  inStock?: boolean;
  price?: number;
}

/**
 * The catalog as the workers need it (category, stock and price per product), kept in memory and
 * reloaded when the products subgraph announces a change and every few minutes.
 */
export class CatalogCache implements CatalogView {
  private catalog = new MemoryCatalog();
  private readonly db: Db;
  private readonly logger: Logger;
  private timer: NodeJS.Timeout | undefined;
  private subscriber: RedisClient | undefined;
  private readonly listeners: (() => void)[] = [];

  constructor(db: Db, logger: Logger) {
    this.db = db;
    this.logger = logger;
  }

  async load(): Promise<number> {
    const next = new MemoryCatalog();
    const cursor = this.db.collection<CatalogDoc>(COLLECTIONS.products).find({}, { projection: { categoryId: 1, inStock: 1, price: 1 } });
    for await (const doc of cursor) {
      const product: CatalogProduct = {
        inStock: doc.inStock ?? true,
        ...(doc.categoryId === undefined ? {} : { categoryId: doc.categoryId }),
        ...(typeof doc.price === 'number' && Number.isFinite(doc.price) ? { price: doc.price } : {}),
      };
      next.set(doc._id, product);
    }
    this.catalog = next;
    return next.size;
  }

  /** Reloads on change messages (debounced) and every `refreshMs`; listeners run after each reload. */
  async watch(redis: RedisClient, names: RedisNames, refreshMs = 300_000): Promise<void> {
    let pending: NodeJS.Timeout | undefined;
    const reload = () => {
      this.load()
        .then((size) => {
          this.logger.debug({ products: size }, 'catalog reloaded');
          for (const listener of this.listeners) listener();
        })
        .catch((error: unknown) => this.logger.warn({ err: (error as Error).message }, 'catalog reload failed'));
    };
    this.subscriber = redis.duplicate();
    this.subscriber.on('error', () => undefined);
    await this.subscriber.connect();
    await this.subscriber.subscribe(names.catalogChannel(), () => {
      clearTimeout(pending);
      pending = setTimeout(reload, 300);
    });
    this.timer = setInterval(reload, refreshMs);
    this.timer.unref();
  }

  onChange(listener: () => void): void {
    this.listeners.push(listener);
  }

  async close(): Promise<void> {
    clearInterval(this.timer);
    if (this.subscriber !== undefined) await this.subscriber.close().catch(() => undefined);
  }

  get size(): number {
    return this.catalog.size;
  }

  product(productId: string): CatalogProduct | undefined {
    return this.catalog.product(productId);
  }

  productsIn(categoryId: string | null): Iterable<string> {
    return this.catalog.productsIn(categoryId);
  }

  categories(): Iterable<string> {
    return this.catalog.categories();
  }
}
