import type { Api, ApiError } from '../api.ts';
import { formatPrice, h, productHref } from '../dom.ts';

interface Entry {
  readonly lastViewedAt: string;
  readonly views: number;
  readonly product: { id: string; name: string; price: number | null; currency: string };
}

const FIELDS = 'browsingHistory(limit: 6) { lastViewedAt views product { id name price currency } }';
const QUERY = `query RecentlyViewed($userId: ID!) { user(id: $userId) { ${FIELDS} } }`;
const REMOVE = `mutation RemoveViewed($userId: ID!, $productId: ID!) { removeFromHistory(userId: $userId, productId: $productId) { ${FIELDS} } }`;
const CLEAR = `mutation ClearViewed($userId: ID!) { clearHistory(userId: $userId) { ${FIELDS} } }`;

/** "Recently viewed": the shopper's browsing history, refreshed after each view is stored, with remove and clear. */
export class RecentlyViewedWidget {
  private readonly api: Api;
  private readonly list = h('ul', { 'data-testid': 'recently-viewed-items' });
  private readonly note = h('p', { class: 'muted' });
  private readonly clear: HTMLButtonElement;
  private generation = 0;

  constructor(root: HTMLElement, api: Api) {
    this.api = api;
    this.clear = h('button', { class: 'link', 'data-action': 'clear', onclick: () => void this.run(CLEAR, {}, 'clearHistory') }, 'Clear');
    root.replaceChildren(h('h2', {}, 'Recently viewed', this.clear), this.list, this.note);
  }

  refresh(): void {
    void this.run(QUERY, {}, 'user');
  }

  private async run(query: string, variables: Record<string, unknown>, field: 'user' | 'removeFromHistory' | 'clearHistory'): Promise<void> {
    // answers may come out of order: only the last request's shows
    const generation = ++this.generation;
    try {
      const data = await this.api.query<Record<string, { browsingHistory: Entry[] }>>(query, { userId: this.api.session.userId, ...variables });
      if (generation === this.generation) this.render(data[field]!.browsingHistory);
    } catch (error) {
      if (generation === this.generation) this.note.replaceChildren(h('span', { class: 'error' }, `History unavailable (${(error as ApiError).code})`));
    }
  }

  private render(entries: readonly Entry[]): void {
    this.list.replaceChildren(
      ...entries.map((entry, index) =>
        h(
          'li',
          { 'data-key': entry.product.id, 'data-product-id': entry.product.id },
          h('span', { class: 'rank' }, index + 1),
          h('a', { href: productHref(entry.product.id), 'data-source': 'recently-viewed' }, entry.product.name),
          h(
            'span',
            {},
            formatPrice(entry.product.price, entry.product.currency),
            h(
              'button',
              {
                class: 'link',
                'data-action': 'remove',
                'aria-label': `Remove ${entry.product.name} from recently viewed`,
                onclick: () => void this.run(REMOVE, { productId: entry.product.id }, 'removeFromHistory'),
              },
              '✕',
            ),
          ),
        ),
      ),
    );
    this.clear.disabled = entries.length === 0;
    this.note.textContent = entries.length === 0 ? 'Products you look at show here.' : '';
  }
}
