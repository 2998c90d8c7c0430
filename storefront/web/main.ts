/**
 * The demo storefront's page: a product grid (search, category, pages), product pages with
 * "also bought" / "also viewed", a basket, and three live widgets. It talks to the gateway
 * itself, over HTTP (queries, tracking) and graphql-ws (the widgets); its own server only signs
 * the shopper in.
 */
import { Api, Session, type LiveState } from './api.ts';
import { Cart } from './cart.ts';
import { byId, h } from './dom.ts';
import { NameBook } from './names.ts';
import { Tracker } from './tracker.ts';
import { catalogHash, parseCatalogHash, renderCatalog } from './views/catalog.ts';
import { renderProduct } from './views/product.ts';
import { BestSellersWidget } from './widgets/bestSellers.ts';
import { RecentlyViewedWidget } from './widgets/recentlyViewed.ts';
import { RecommendedWidget } from './widgets/recommended.ts';

interface PageConfig {
  readonly gatewayUrl: string;
  readonly customers: readonly { id: string; label: string }[];
}

const config = JSON.parse(byId('storefront-config').textContent ?? '{}') as PageConfig;
const CUSTOMER_KEY = 'recs-demo.customer';
const main = byId('main');
const status = byId('live-status');
const picker = byId<HTMLSelectElement>('customer');
const search = byId<HTMLInputElement>('search');
const categories = byId('categories');

/** Everything that belongs to the signed-in shopper; replaced when the picker changes. */
interface Shop {
  readonly api: Api;
  readonly names: NameBook;
  readonly tracker: Tracker;
  readonly cart: Cart;
  readonly recommended: RecommendedWidget;
  readonly bestSellers: BestSellersWidget;
  readonly recentlyViewed: RecentlyViewedWidget;
}
let shop: Shop | undefined;
let routing = 0;
/**
 * Products reached from "Recommended for you" in this tab, with the recommendationId of the list
 * they were in: the product page's basket add (and so the purchase) is attributed to it.
 */
const foundThrough = new Map<string, string>();

function setLiveState(state: LiveState): void {
  status.dataset['state'] = state;
  status.textContent = state === 'live' ? 'live' : state === 'connecting' ? 'connecting' : 'reconnecting…';
}

function fillPicker(current: string): void {
  const options = config.customers.map(({ id, label }) => h('option', { value: id, selected: id === current }, label));
  const visitor = !config.customers.some(({ id }) => id === current);
  if (visitor) options.push(h('option', { value: current, selected: true }, 'You (new visitor)'));
  options.push(h('option', { value: '' }, 'Someone new…'));
  picker.replaceChildren(...options);
}

async function signIn(customerId: string | undefined): Promise<void> {
  // another shopper: the recommendations this tab saw were not theirs
  foundThrough.clear();
  shop?.recommended.close();
  shop?.bestSellers.close();
  shop?.api.close();
  const session = await Session.open(customerId);
  localStorage.setItem(CUSTOMER_KEY, session.userId);
  fillPicker(session.userId);
  const api = new Api(config.gatewayUrl, session, setLiveState);
  const names = new NameBook();
  const tracker = new Tracker(api);
  const recentlyViewed = new RecentlyViewedWidget(byId('recently-viewed'), api);
  shop = {
    api,
    names,
    tracker,
    cart: new Cart(byId('cart'), tracker, session.userId),
    recommended: new RecommendedWidget(byId('recommended'), api, names),
    bestSellers: new BestSellersWidget(byId('best-sellers'), api, names),
    recentlyViewed,
  };
  tracker.onStored((events) => {
    if (events.some((event) => event.type === 'VIEW')) recentlyViewed.refresh();
  });
  shop.recommended.start();
  recentlyViewed.refresh();
  await Promise.all([loadCategories(shop), route()]);
}

async function loadCategories(current: Shop): Promise<void> {
  const { categories: list } = await current.api.query<{ categories: { id: string; name: string }[] }>('query Categories { categories { id name } }');
  for (const category of list) current.names.rememberCategory(category.id, category.name);
  categories.replaceChildren(
    h('li', {}, h('a', { href: '#/', 'data-category': '' }, 'All products')),
    ...list.map((category) =>
      h('li', {}, h('a', { href: catalogHash({ categoryId: category.id, search: '', after: null }), 'data-category': category.id }, category.name)),
    ),
  );
  markCategory(parseCatalogHash(location.hash).categoryId);
}

function markCategory(categoryId: string | null): void {
  for (const link of categories.querySelectorAll<HTMLAnchorElement>('a[data-category]')) {
    link.setAttribute('aria-current', String(link.dataset['category'] === (categoryId ?? '')));
  }
}

async function route(): Promise<void> {
  const current = shop;
  if (current === undefined) return;
  const turn = ++routing;
  try {
    const product = /^#\/product\/(.+)$/.exec(location.hash);
    if (product !== null) {
      const id = decodeURIComponent(product[1]!);
      const page = await renderProduct(main, current.api, current.names, id, (p) => current.cart.add(p, foundThrough.get(p.id)));
      if (page === null || turn !== routing) return;
      current.tracker.track({ productId: page.id, type: 'VIEW', ...(page.price === null ? {} : { price: page.price }) });
      current.bestSellers.show(page.category?.id ?? null);
      markCategory(page.category?.id ?? null);
      window.scrollTo({ top: 0 });
      return;
    }
    const catalog = parseCatalogHash(location.hash);
    if (search.value !== catalog.search && document.activeElement !== search) search.value = catalog.search;
    current.bestSellers.show(catalog.categoryId);
    markCategory(catalog.categoryId);
    await renderCatalog(main, current.api, current.names, catalog);
  } catch (error) {
    if (turn === routing) main.replaceChildren(h('p', { class: 'error' }, `Could not load this page: ${(error as Error).message}`));
  }
}

// every product link of the page is a tracked click, tagged with the list it was in
document.addEventListener('click', (event) => {
  const link = (event.target as Element | null)?.closest<HTMLAnchorElement>('a[data-source]');
  const match = link === null || link === undefined ? null : /^#\/product\/(.+)$/.exec(link.getAttribute('href') ?? '');
  if (match === null || shop === undefined) return;
  const productId = decodeURIComponent(match[1]!);
  const recommendationId =
    link!.dataset['source'] === 'recommended' ? link!.closest<HTMLElement>('[data-recommendation-id]')?.dataset['recommendationId'] : undefined;
  if (recommendationId !== undefined) {
    foundThrough.delete(productId);
    foundThrough.set(productId, recommendationId);
    // the tab's last hundred, at most
    if (foundThrough.size > 100) foundThrough.delete(foundThrough.keys().next().value!);
  }
  shop.tracker.track({
    productId,
    type: 'CLICK',
    metadata: { source: link!.dataset['source']! },
    ...(recommendationId === undefined ? {} : { recommendationId }),
  });
});

let typing: ReturnType<typeof setTimeout> | undefined;
search.addEventListener('input', () => {
  clearTimeout(typing);
  typing = setTimeout(() => {
    const current = parseCatalogHash(location.hash.startsWith('#/product/') ? '#/' : location.hash);
    location.hash = catalogHash({ categoryId: current.categoryId, search: search.value.trim(), after: null });
  }, 250);
});

picker.addEventListener('change', () => {
  void signIn(picker.value === '' ? undefined : picker.value).catch(showSignInError);
});
window.addEventListener('hashchange', () => void route());

function showSignInError(error: unknown): void {
  main.replaceChildren(h('p', { class: 'error' }, `Could not sign in: ${(error as Error).message}`));
}

// ?customer=17850 picks a customer (links to a given shopper's view); else the last one, else the first
const requested = new URLSearchParams(location.search).get('customer');
const started = signIn(requested ?? localStorage.getItem(CUSTOMER_KEY) ?? config.customers[0]?.id);
started
  .then(() => shop?.recommended.firstRender)
  .then(() => {
    // what the browser tests and the README's figure read: navigation start to the grid and the list shown
    document.documentElement.dataset['firstRenderMs'] = String(Math.round(performance.now()));
  })
  .catch(showSignInError);
