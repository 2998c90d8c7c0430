import type { Api, ApiError } from '../api.ts';
import { h, productHref } from '../dom.ts';
import { replaceAnimated } from '../flip.ts';
import type { NameBook } from '../names.ts';

interface Ranking {
  readonly categoryId: string | null;
  readonly changedAt: string;
  readonly items: readonly { rank: number; score: number; product: { id: string; name: string } }[];
}

const FIELDS = 'categoryId changedAt items { rank score product { id name } }';
const SNAPSHOT = `query BestSellers($categoryId: ID, $limit: Int) { bestSellersSnapshot(categoryId: $categoryId, limit: $limit) { ${FIELDS} } }`;
const LIVE = `subscription BestSellersLive($categoryId: ID, $limit: Int, $sinceChangedAt: DateTime) {
  bestSellersChanged(categoryId: $categoryId, limit: $limit, sinceChangedAt: $sinceChangedAt) { ${FIELDS} }
}`;
const LIMIT = 5;

/**
 * "Best sellers now": the 30-day best sellers of the category on screen (all products when
 * none), live. The snapshot query and the subscription start together; whichever ranking is
 * newer shows, and the subscription resumes from the last change shown.
 */
export class BestSellersWidget {
  private readonly root: HTMLElement;
  private readonly api: Api;
  private readonly names: NameBook;
  private readonly title = h('small', {});
  private readonly list = h('ol', { 'data-testid': 'best-sellers-items' });
  private readonly note = h('p', { class: 'muted' });
  private categoryId: string | null | undefined;
  private shown = 0;
  private stop: (() => void) | undefined;

  constructor(root: HTMLElement, api: Api, names: NameBook) {
    this.root = root;
    this.api = api;
    this.names = names;
    root.replaceChildren(h('h2', {}, 'Best sellers now', this.title), this.list, this.note);
  }

  show(categoryId: string | null): void {
    if (categoryId === this.categoryId) return;
    this.stop?.();
    this.categoryId = categoryId;
    this.shown = 0;
    this.root.dataset['category'] = categoryId ?? '';
    this.title.textContent = categoryId === null ? 'all products' : `in ${this.names.category(categoryId) ?? categoryId}`;
    this.list.replaceChildren();
    const variables = { categoryId, limit: LIMIT, sinceChangedAt: new Date(0).toISOString() };
    const accept = (ranking: Ranking) => {
      if (ranking.categoryId !== this.categoryId) return;
      const changed = Date.parse(ranking.changedAt);
      if (changed <= this.shown && this.list.childElementCount > 0) return;
      this.shown = changed;
      variables.sinceChangedAt = ranking.changedAt;
      this.render(ranking);
    };
    this.stop = this.api.subscribe<{ bestSellersChanged: Ranking }>(
      LIVE,
      variables,
      (data) => accept(data.bestSellersChanged),
      (error) => this.fail(error),
    );
    this.api.query<{ bestSellersSnapshot: Ranking }>(SNAPSHOT, { categoryId, limit: LIMIT }).then(
      (data) => accept(data.bestSellersSnapshot),
      (error: ApiError) => this.fail(error),
    );
  }

  close(): void {
    this.stop?.();
  }

  private render(ranking: Ranking): void {
    this.root.dataset['changedAt'] = ranking.changedAt;
    const items = ranking.items.map((item) => {
      this.names.rememberProduct(item.product);
      return h(
        'li',
        { 'data-key': item.product.id, 'data-product-id': item.product.id },
        h('span', { class: 'rank' }, item.rank),
        h('a', { href: productHref(item.product.id), 'data-source': 'best-sellers' }, item.product.name),
        h('span', { class: 'muted', title: 'distinct buyers in the last 30 days' }, `${item.score} buyers`),
      );
    });
    replaceAnimated(this.list, items);
    this.note.textContent = items.length === 0 ? 'No purchases in the last 30 days.' : '';
  }

  private fail(error: ApiError): void {
    this.note.replaceChildren(h('span', { class: 'error' }, `Best sellers unavailable (${error.code})`));
  }
}
