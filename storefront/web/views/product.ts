import type { Api } from '../api.ts';
import { formatPrice, h, productHref, tile } from '../dom.ts';
import type { NameBook } from '../names.ts';

export interface ProductPage {
  readonly id: string;
  readonly name: string;
  readonly price: number | null;
  readonly currency: string;
  readonly description: string | null;
  readonly inStock: boolean;
  readonly category: { id: string; name: string } | null;
  readonly alsoBought: readonly Related[];
  readonly alsoViewed: readonly Related[];
}
interface Related {
  readonly score: number;
  readonly product: { id: string; name: string; price: number | null; currency: string; category: { id: string } | null };
}

const RELATED = 'score product { id name price currency category { id } }';
const QUERY = `query ProductPage($id: ID!) {
  product(id: $id) {
    id name price currency description inStock category { id name }
    alsoBought(limit: 6) { ${RELATED} }
    alsoViewed(limit: 6) { ${RELATED} }
  }
}`;

function related(title: string, testId: string, source: string, items: readonly Related[]): HTMLElement {
  return h(
    'section',
    { class: 'related', 'data-testid': testId },
    h('h2', {}, title),
    items.length === 0
      ? h('p', { class: 'muted' }, 'Nothing yet.')
      : h(
          'div',
          { class: 'grid' },
          ...items.map(({ product }) =>
            h(
              'a',
              { class: 'card', href: productHref(product.id), 'data-product-id': product.id, 'data-source': source },
              tile(product.name, product.category?.id),
              h('span', { class: 'name' }, product.name),
              h('span', { class: 'price' }, formatPrice(product.price, product.currency)),
            ),
          ),
        ),
  );
}

/** A product's page with "also bought" and "also viewed"; resolves to the product (null: not in the catalog). */
export async function renderProduct(
  main: HTMLElement,
  api: Api,
  names: NameBook,
  id: string,
  addToCart: (product: ProductPage) => void,
): Promise<ProductPage | null> {
  const { product } = await api.query<{ product: ProductPage | null }>(QUERY, { id });
  if (product === null) {
    main.replaceChildren(
      h('h1', {}, 'Not found'),
      h('p', { class: 'muted' }, 'This product is not in the catalog.'),
      h('a', { href: '#/' }, 'Back to the shop'),
    );
    return null;
  }
  names.rememberProduct(product);
  const added = h('span', { class: 'muted', 'data-testid': 'added' });
  main.replaceChildren(
    h(
      'article',
      { class: 'product', 'data-testid': 'product-page', 'data-product-id': product.id },
      tile(product.name, product.category?.id, true),
      h(
        'div',
        {},
        h('h1', {}, product.name),
        product.category === null ? null : h('p', {}, h('a', { href: `#/?category=${encodeURIComponent(product.category.id)}` }, product.category.name)),
        h('p', { class: 'price' }, formatPrice(product.price, product.currency)),
        product.description === null ? null : h('p', {}, product.description),
        h(
          'p',
          {},
          h(
            'button',
            {
              class: 'primary',
              'data-action': 'add-to-cart',
              disabled: !product.inStock,
              onclick: () => {
                addToCart(product);
                added.textContent = ' Added to your basket.';
              },
            },
            product.inStock ? 'Add to basket' : 'Out of stock',
          ),
          added,
        ),
      ),
    ),
    related('Customers who bought this also bought', 'also-bought', 'also-bought', product.alsoBought),
    related('Viewed together with this', 'also-viewed', 'also-viewed', product.alsoViewed),
  );
  return product;
}
