/** What the engine needs to know of the catalog. */
export interface CatalogProduct {
  readonly categoryId?: string;
  readonly inStock: boolean;
  /** The unit price, when the catalog has one (the ranker's `price` feature). */
  readonly price?: number;
}

export interface CatalogView {
  /** undefined for a product that is not (yet) in the catalog */
  product(productId: string): CatalogProduct | undefined;
  /** Products of a category, or of the whole catalog for null. */
  productsIn(categoryId: string | null): Iterable<string>;
  /** Every category id. */
  categories(): Iterable<string>;
}

/** A CatalogView over an in-memory map, for workers' caches, tests and the evaluator. */
export class MemoryCatalog implements CatalogView {
  private readonly products = new Map<string, CatalogProduct>();
  private readonly byCategory = new Map<string, Set<string>>();

  constructor(entries: Iterable<readonly [string, CatalogProduct]> = []) {
    for (const [id, product] of entries) this.set(id, product);
  }

  set(productId: string, product: CatalogProduct): void {
    const previous = this.products.get(productId);
    if (previous?.categoryId !== undefined) this.byCategory.get(previous.categoryId)?.delete(productId);
    this.products.set(productId, product);
    if (product.categoryId !== undefined) {
      let members = this.byCategory.get(product.categoryId);
      if (members === undefined) this.byCategory.set(product.categoryId, (members = new Set()));
      members.add(productId);
    }
  }

  get size(): number {
    return this.products.size;
  }

  product(productId: string): CatalogProduct | undefined {
    return this.products.get(productId);
  }

  productsIn(categoryId: string | null): Iterable<string> {
    return categoryId === null ? this.products.keys() : (this.byCategory.get(categoryId) ?? []);
  }

  categories(): Iterable<string> {
    return this.byCategory.keys();
  }
}
