import type { Api } from './api.ts';
import type { Names } from './reasons.ts';

/** Names kept at most: the page lives for hours, but it names what it shows, not the catalog. */
const MAX_PRODUCTS = 2_000;

/** Product and category names the page has seen, for reasons in words ("Bought with …"). */
export class NameBook implements Names {
  private readonly products = new Map<string, string>();
  private readonly categories = new Map<string, string>();

  product(id: string): string | undefined {
    return this.products.get(id);
  }

  category(id: string): string | undefined {
    return this.categories.get(id);
  }

  rememberCategory(id: string, name: string): void {
    this.categories.set(id, name);
  }

  rememberProduct(product: { id: string; name: string; category?: { id: string; name: string } | null }): void {
    this.products.delete(product.id);
    this.products.set(product.id, product.name);
    if (product.category) this.categories.set(product.category.id, product.category.name);
    if (this.products.size > MAX_PRODUCTS) this.products.delete(this.products.keys().next().value!);
  }

  /** Fetches the names of the products it does not know yet (one query, at most 100 ids). */
  async ensure(api: Api, ids: readonly string[]): Promise<void> {
    const missing = [...new Set(ids)].filter((id) => !this.products.has(id)).slice(0, 100);
    if (missing.length === 0) return;
    const { products } = await api.query<{ products: { edges: { node: { id: string; name: string } }[] } }>(
      'query Names($ids: [ID!]) { products(ids: $ids, first: 100) { edges { node { id name } } } }',
      { ids: missing },
    );
    for (const { node } of products.edges) this.rememberProduct(node);
  }
}
