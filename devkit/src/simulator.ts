/**
 * A synthetic clickstream for demos and benchmarks; never presented as real data. Model:
 * - each shopper has two favourite categories (seeded); 80% of their sessions browse one of them,
 *   the rest a random category;
 * - within a category, product popularity follows a Zipf law (exponent 1) over a seeded order,
 *   so a few products are viewed and bought far more than the rest;
 * - a session views 3-8 products, clicks about a third of them, puts a view in the cart with
 *   probability 0.15, and buys each cart item with probability 0.5; a small share of cart items
 *   is removed instead.
 * The same seed gives the same shoppers and sessions. A new event type is not simulated until
 * this model says when a shopper does it.
 */
import { seededRandom, type EventType } from '@recs/engine';

export interface SimulatedEvent {
  readonly userId: string;
  readonly productId: string;
  readonly type: EventType;
  readonly sessionId: string;
  readonly quantity?: number;
  readonly price?: number;
}

export interface SimulatorProduct {
  readonly id: string;
  readonly categoryId: string;
  readonly price?: number;
}

export interface SimulatorOptions {
  readonly seed: number;
  readonly users: number;
  readonly products: readonly SimulatorProduct[];
  /** User ids are `${userPrefix}${n}`, n from 1. */
  readonly userPrefix?: string;
  /**
   * Given user ids that shop too (a store's real customers, e.g. CustomerIDs of imported
   * history, so buy-again has their past orders): shoppers `users + 1` to `users + length`, each
   * as likely as a synthetic one.
   */
  readonly userIds?: readonly string[];
}

export { seededRandom };

/** Samples indexes 0..n-1 with probability proportional to 1/(i+1). */
class Zipf {
  private readonly cumulative: number[];
  constructor(n: number) {
    this.cumulative = [];
    let total = 0;
    for (let i = 0; i < n; i++) this.cumulative.push((total += 1 / (i + 1)));
  }
  sample(random: () => number): number {
    const target = random() * this.cumulative.at(-1)!;
    let lo = 0;
    let hi = this.cumulative.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.cumulative[mid]! < target) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}

export class ClickstreamSimulator {
  private readonly random: () => number;
  private readonly categories: { id: string; products: SimulatorProduct[]; zipf: Zipf }[];
  private readonly favourites: number[][];
  private readonly prefix: string;
  private sessions = 0;
  private readonly userIds: readonly string[];
  readonly users: number;

  constructor(options: SimulatorOptions) {
    if (options.products.length === 0) throw new Error('the simulator needs at least one product');
    this.random = seededRandom(options.seed);
    this.users = options.users;
    this.prefix = options.userPrefix ?? 'shopper-';
    this.userIds = options.userIds ?? [];
    const byCategory = new Map<string, SimulatorProduct[]>();
    for (const product of [...options.products].sort((a, b) => (a.id < b.id ? -1 : 1))) {
      let list = byCategory.get(product.categoryId);
      if (list === undefined) byCategory.set(product.categoryId, (list = []));
      list.push(product);
    }
    this.categories = [...byCategory]
      .sort(([a], [b]) => (a < b ? -1 : 1))
      .map(([id, products]) => {
        // a seeded popularity order
        for (let i = products.length - 1; i > 0; i--) {
          const j = Math.floor(this.random() * (i + 1));
          [products[i], products[j]] = [products[j]!, products[i]!];
        }
        return { id, products, zipf: new Zipf(products.length) };
      });
    this.favourites = Array.from({ length: options.users }, () => [
      Math.floor(this.random() * this.categories.length),
      Math.floor(this.random() * this.categories.length),
    ]);
  }

  userId(n: number): string {
    return n > this.users && n <= this.users + this.userIds.length ? this.userIds[n - this.users - 1]! : `${this.prefix}${n}`;
  }

  /** One browsing session of the given shopper (1-based, given user ids after the synthetic ones), or of a random one. */
  session(user = 1 + Math.floor(this.random() * (this.users + this.userIds.length))): SimulatedEvent[] {
    const userId = this.userId(user);
    const sessionId = `sim-${++this.sessions}-${Math.floor(this.random() * 1e9).toString(36)}`;
    const favourite = this.favourites[(user - 1) % this.users]!;
    const category = this.categories[this.random() < 0.8 ? favourite[Math.floor(this.random() * 2)]! : Math.floor(this.random() * this.categories.length)]!;
    const events: SimulatedEvent[] = [];
    const views = 3 + Math.floor(this.random() * 6);
    const cart: SimulatorProduct[] = [];
    for (let i = 0; i < views; i++) {
      const product = category.products[category.zipf.sample(this.random)]!;
      events.push({ userId, productId: product.id, type: 'VIEW', sessionId });
      if (this.random() < 0.33) events.push({ userId, productId: product.id, type: 'CLICK', sessionId });
      if (this.random() < 0.15) {
        cart.push(product);
        events.push({ userId, productId: product.id, type: 'ADD_TO_CART', sessionId, quantity: 1 });
      }
    }
    for (const product of cart) {
      const roll = this.random();
      if (roll < 0.5) {
        const quantity = 1 + Math.floor(this.random() * 3);
        events.push({ userId, productId: product.id, type: 'PURCHASE', sessionId, quantity, ...(product.price === undefined ? {} : { price: product.price }) });
      } else if (roll < 0.6) {
        events.push({ userId, productId: product.id, type: 'REMOVE_FROM_CART', sessionId, quantity: 1 });
      }
    }
    return events;
  }
}
