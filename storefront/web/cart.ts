import { formatPrice, h, productHref } from './dom.ts';
import type { Tracker } from './tracker.ts';

export interface CartLine {
  readonly productId: string;
  /** The recommendation the product was found through, if any: its purchase is attributed to it. */
  readonly recommendationId?: string;
  readonly name: string;
  readonly price: number | null;
  readonly currency: string;
  quantity: number;
}

/** Lines kept at most, and units of one line. */
const MAX_LINES = 50;
const MAX_QUANTITY = 99;

/** The shopper's basket, kept in this browser per shopper; every change is tracked. */
export class Cart {
  private readonly root: HTMLElement;
  private readonly tracker: Tracker;
  private readonly key: string;
  private lines: CartLine[];
  private notice = '';

  constructor(root: HTMLElement, tracker: Tracker, userId: string) {
    this.root = root;
    this.tracker = tracker;
    this.key = `recs-demo.cart.${userId}`;
    try {
      this.lines = (JSON.parse(localStorage.getItem(this.key) ?? '[]') as CartLine[]).slice(0, MAX_LINES);
    } catch {
      this.lines = [];
    }
    this.render();
  }

  add(product: { id: string; name: string; price: number | null; currency: string }, recommendationId?: string): void {
    const line = this.lines.find((l) => l.productId === product.id);
    const from = recommendationId === undefined ? {} : { recommendationId };
    if (line !== undefined) line.quantity = Math.min(line.quantity + 1, MAX_QUANTITY);
    else if (this.lines.length < MAX_LINES)
      this.lines.push({ productId: product.id, name: product.name, price: product.price, currency: product.currency, quantity: 1, ...from });
    else return;
    this.tracker.track({ productId: product.id, type: 'ADD_TO_CART', quantity: 1, ...(product.price === null ? {} : { price: product.price }), ...from });
    this.notice = '';
    this.save();
  }

  remove(productId: string): void {
    const line = this.lines.find((l) => l.productId === productId);
    if (line === undefined) return;
    this.lines = this.lines.filter((l) => l !== line);
    this.tracker.track({ productId, type: 'REMOVE_FROM_CART', quantity: line.quantity });
    this.save();
  }

  buy(): void {
    if (this.lines.length === 0) return;
    const orderId = `order-${crypto.randomUUID()}`;
    for (const line of this.lines) {
      this.tracker.track({
        productId: line.productId,
        type: 'PURCHASE',
        quantity: line.quantity,
        ...(line.price === null ? {} : { price: line.price }),
        ...(line.recommendationId === undefined ? {} : { recommendationId: line.recommendationId }),
        metadata: { orderId },
      });
    }
    this.notice = `Thank you! Order of ${this.lines.length} product${this.lines.length === 1 ? '' : 's'} placed.`;
    this.lines = [];
    this.save();
  }

  private save(): void {
    localStorage.setItem(this.key, JSON.stringify(this.lines));
    this.render();
  }

  private render(): void {
    const total = this.lines.reduce((sum, line) => sum + (line.price ?? 0) * line.quantity, 0);
    const currency = this.lines[0]?.currency ?? 'GBP';
    this.root.dataset['lines'] = String(this.lines.length);
    const parts: (HTMLElement | null)[] = [
      h('h2', {}, 'Your basket', h('small', {}, `${this.lines.reduce((n, l) => n + l.quantity, 0)} items`)),
      this.notice === '' ? null : h('p', { class: 'notice', 'data-testid': 'order-placed' }, this.notice),
      this.lines.length === 0
        ? h('p', { class: 'muted' }, 'Empty.')
        : h(
            'ul',
            {},
            ...this.lines.map((line, index) =>
              h(
                'li',
                { 'data-product-id': line.productId },
                h('span', { class: 'rank' }, index + 1),
                h('a', { href: productHref(line.productId) }, `${line.quantity} × ${line.name}`),
                h(
                  'span',
                  {},
                  formatPrice((line.price ?? 0) * line.quantity, line.currency),
                  h('button', { class: 'link', 'data-action': 'remove', 'aria-label': `Remove ${line.name}`, onclick: () => this.remove(line.productId) }, '✕'),
                ),
              ),
            ),
          ),
      this.lines.length === 0
        ? null
        : h(
            'div',
            { class: 'actions' },
            h('span', { class: 'total' }, formatPrice(total, currency)),
            h('button', { class: 'primary', 'data-action': 'buy', onclick: () => this.buy() }, 'Buy now'),
          ),
    ];
    this.root.replaceChildren(...parts.filter((part) => part !== null));
  }
}
