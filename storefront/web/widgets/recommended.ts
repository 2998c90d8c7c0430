import type { Api, ApiError } from '../api.ts';
import { formatPrice, h, productHref } from '../dom.ts';
import { replaceAnimated } from '../flip.ts';
import type { NameBook } from '../names.ts';
import { reasonProductIds, reasonsInWords } from '../reasons.ts';

interface Recommendation {
  readonly score: number;
  readonly reasons: readonly string[];
  readonly product: { id: string; name: string; price: number | null; currency: string; category: { id: string; name: string } | null };
}
interface RecommendationList {
  readonly version: number;
  /** What was served, signed: sent back with the clicks, basket adds and purchases it leads to. */
  readonly recommendationId: string;
  readonly strategy: 'PERSONALIZED' | 'BEST_SELLERS';
  readonly generatedAt: string;
  readonly items: readonly Recommendation[];
}

const FIELDS = 'version recommendationId strategy generatedAt items { score reasons product { id name price currency category { id name } } }';
const QUERY = `query Recommended($userId: ID!, $limit: Int) { recommendations(userId: $userId, limit: $limit) { ${FIELDS} } }`;
const LIVE = `subscription RecommendedLive($userId: ID!, $limit: Int, $sinceVersion: Int) {
  recommendationsChanged(userId: $userId, limit: $limit, sinceVersion: $sinceVersion) { ${FIELDS} }
}`;
const LIMIT = 8;

/**
 * "Recommended for you": the list as a query first (a new visitor's list is the cold-start one,
 * version 0), then every change live. The subscription resumes from the last version shown, so
 * after a reconnection the widget gets the list at once when it changed meanwhile, and never an
 * older one.
 */
export class RecommendedWidget {
  private readonly root: HTMLElement;
  private readonly api: Api;
  private readonly names: NameBook;
  private readonly list = h('ol', { 'data-testid': 'recommended-items' });
  private readonly note = h('p', { class: 'muted' });
  private shown = -1;
  private updates = 0;
  private stop: (() => void) | undefined;
  readonly firstRender: Promise<void>;
  private rendered: () => void = () => undefined;

  constructor(root: HTMLElement, api: Api, names: NameBook) {
    this.root = root;
    this.api = api;
    this.names = names;
    this.firstRender = new Promise((resolve) => {
      this.rendered = resolve;
    });
    root.replaceChildren(h('h2', {}, 'Recommended for you', h('small', { 'data-testid': 'recommended-strategy' })), this.list, this.note);
  }

  start(): void {
    const variables = { userId: this.api.session.userId, limit: LIMIT, sinceVersion: 0 };
    this.stop = this.api.subscribe<{ recommendationsChanged: RecommendationList }>(
      LIVE,
      variables,
      (data) => {
        void this.show(data.recommendationsChanged).then(() => {
          // sent as it is on the next reconnection: the catch-up is only what is newer
          variables.sinceVersion = Math.max(variables.sinceVersion, this.shown);
        });
      },
      (error) => this.fail(error),
    );
    this.api.query<{ recommendations: RecommendationList }>(QUERY, { userId: this.api.session.userId, limit: LIMIT }).then(
      (data) => this.show(data.recommendations),
      (error: ApiError) => this.fail(error),
    );
  }

  close(): void {
    this.stop?.();
  }

  private async show(list: RecommendationList): Promise<void> {
    // the query and the subscription race at start; a reconnection never sends an older list either
    if (list.version <= this.shown) return;
    await this.names
      .ensure(
        this.api,
        list.items.flatMap((item) => reasonProductIds(item.reasons)),
      )
      .catch(() => undefined);
    if (list.version <= this.shown) return;
    this.shown = list.version;
    if (list.version > 0) this.updates++;
    for (const item of list.items) this.names.rememberProduct(item.product);
    this.root.dataset['version'] = String(list.version);
    this.root.dataset['recommendationId'] = list.recommendationId;
    this.root.dataset['updates'] = String(this.updates);
    this.root.dataset['strategy'] = list.strategy;
    this.root.querySelector('[data-testid="recommended-strategy"]')!.textContent = list.strategy === 'PERSONALIZED' ? 'for you' : 'popular picks';
    const items = list.items.map((item, index) =>
      h(
        'li',
        { 'data-key': item.product.id, 'data-product-id': item.product.id },
        h('span', { class: 'rank' }, index + 1),
        h(
          'span',
          {},
          h('a', { href: productHref(item.product.id), 'data-source': 'recommended' }, item.product.name),
          ...reasonsInWords(item.reasons, this.names).map((words) => h('span', { class: 'why' }, words)),
        ),
        h('span', { class: 'price' }, formatPrice(item.product.price, item.product.currency)),
      ),
    );
    replaceAnimated(this.list, items);
    this.note.textContent = list.items.length === 0 ? 'Nothing to recommend yet: browse a little.' : '';
    this.rendered();
  }

  private fail(error: ApiError): void {
    this.note.replaceChildren(h('span', { class: 'error' }, `Recommendations unavailable (${error.code})`));
  }
}
