import type { Api } from '../api.ts';
import { formatPrice, h, productHref, tile } from '../dom.ts';
import type { NameBook } from '../names.ts';

export interface CatalogRoute {
  readonly categoryId: string | null;
  readonly search: string;
  readonly after: string | null;
}

interface Product {
  readonly id: string;
  readonly name: string;
  readonly price: number | null;
  readonly currency: string;
  readonly inStock: boolean;
  readonly category: { id: string; name: string } | null;
}

const PAGE = 12;
const QUERY = `query Catalog($categoryId: ID, $search: String, $first: Int, $after: String) {
  products(categoryId: $categoryId, search: $search, first: $first, after: $after) {
    totalCount
    pageInfo { hasNextPage endCursor }
    edges { node { id name price currency inStock category { id name } } }
  }
}`;

export function catalogHash(route: CatalogRoute): string {
  const params = new URLSearchParams();
  if (route.categoryId !== null) params.set('category', route.categoryId);
  if (route.search !== '') params.set('q', route.search);
  if (route.after !== null) params.set('after', route.after);
  const query = params.toString();
  return query === '' ? '#/' : `#/?${query}`;
}

export function parseCatalogHash(hash: string): CatalogRoute {
  const params = new URLSearchParams(hash.replace(/^#\/?\??/, ''));
  return { categoryId: params.get('category'), search: params.get('q') ?? '', after: params.get('after') };
}

/** Pages of one filter seen so far (their `after` cursors), for "Previous". */
const pagesSeen = new Map<string, (string | null)[]>();

/** The product grid: search, category and pages of 12 (cursor pagination, as the API has it). */
export async function renderCatalog(main: HTMLElement, api: Api, names: NameBook, route: CatalogRoute): Promise<void> {
  const { products } = await api.query<{
    products: { totalCount: number; pageInfo: { hasNextPage: boolean; endCursor: string | null }; edges: { node: Product }[] };
  }>(QUERY, { categoryId: route.categoryId, search: route.search === '' ? null : route.search, first: PAGE, after: route.after });
  const filter = `${route.categoryId ?? ''}\u0000${route.search}`;
  const pages = pagesSeen.get(filter) ?? [null];
  pagesSeen.clear();
  pagesSeen.set(filter, pages);
  let page = pages.indexOf(route.after);
  if (page < 0) {
    pages.push(route.after);
    page = pages.length - 1;
  }
  const pageCount = Math.max(1, Math.ceil(products.totalCount / PAGE));
  const title =
    route.search !== ''
      ? `“${route.search}”${route.categoryId === null ? '' : ` in ${names.category(route.categoryId) ?? route.categoryId}`}`
      : route.categoryId === null
        ? 'All products'
        : (names.category(route.categoryId) ?? route.categoryId);
  main.replaceChildren(
    h('h1', {}, title, ' ', h('small', { class: 'muted', 'data-testid': 'result-count' }, `${products.totalCount} products`)),
    products.edges.length === 0
      ? h('p', { class: 'muted' }, 'No product matches.')
      : h(
          'div',
          { class: 'grid', 'data-testid': 'product-grid' },
          ...products.edges.map(({ node }) => {
            names.rememberProduct(node);
            return h(
              'a',
              { class: 'card', href: productHref(node.id), 'data-testid': 'product-card', 'data-product-id': node.id, 'data-source': 'grid' },
              tile(node.name, node.category?.id),
              h('span', { class: 'name' }, node.name),
              h('span', { class: 'price' }, formatPrice(node.price, node.currency), node.inStock ? '' : ' · out of stock'),
            );
          }),
        ),
    h(
      'div',
      { class: 'pager' },
      h(
        'button',
        { 'data-action': 'previous', disabled: page === 0, onclick: () => (location.hash = catalogHash({ ...route, after: pages[page - 1] ?? null })) },
        '← Previous',
      ),
      h('span', { class: 'muted', 'data-testid': 'page' }, `Page ${page + 1} of ${pageCount}`),
      h(
        'button',
        {
          'data-action': 'next',
          disabled: !products.pageInfo.hasNextPage,
          onclick: () => (location.hash = catalogHash({ ...route, after: products.pageInfo.endCursor })),
        },
        'Next →',
      ),
    ),
  );
}
