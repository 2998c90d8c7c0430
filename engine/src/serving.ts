import type { CatalogView } from './catalog.ts';
import type { EngineConfig } from './config.ts';
import { hiddenOf, userSignals, type RecommendationItem } from './recommend.ts';
import type { UserState } from './userState.ts';

/**
 * What a shop asks of one served list, applied after ranking: products to leave out, only one
 * category, and at most so many items of one category (diversity).
 */
export interface ServingControls {
  readonly exclude: ReadonlySet<string>;
  /** Only products of this category; undefined: any. */
  readonly categoryId: string | undefined;
  /** At most this many items of one category; undefined: no cap. Products without a category are not capped. */
  readonly maxPerCategory: number | undefined;
}

/**
 * A served list being filled under controls: candidates are offered best first (the stored
 * list, then whatever fills it), and each is taken when the controls allow it and the list is
 * not full. A product is considered once: offered again (a best seller that was in the stored
 * list), it is not taken.
 */
export class ControlledList {
  readonly items: RecommendationItem[] = [];
  private readonly controls: ServingControls;
  private readonly limit: number;
  private readonly offered = new Set<string>();
  private readonly perCategory = new Map<string, number>();

  constructor(controls: ServingControls, limit: number) {
    this.controls = controls;
    this.limit = limit;
  }

  get full(): boolean {
    return this.items.length >= this.limit;
  }

  /** Whether the product was offered already (taken or not). */
  hasSeen(productId: string): boolean {
    return this.offered.has(productId);
  }

  /** Offers the next candidate, with its category (undefined: none, or not in the catalog); true when taken. */
  offer(item: RecommendationItem, categoryId: string | undefined): boolean {
    if (this.full || this.offered.has(item.productId)) return false;
    this.offered.add(item.productId);
    const { exclude, categoryId: only, maxPerCategory } = this.controls;
    if (exclude.has(item.productId)) return false;
    if (only !== undefined && categoryId !== only) return false;
    if (maxPerCategory !== undefined && categoryId !== undefined) {
      const taken = this.perCategory.get(categoryId) ?? 0;
      if (taken >= maxPerCategory) return false;
      this.perCategory.set(categoryId, taken + 1);
    }
    this.items.push(item);
    return true;
  }
}

const NO_CATALOG: CatalogView = { product: () => undefined, productsIn: () => [], categories: () => [] };

/**
 * The products recommend() leaves out of this user's list whatever their score: in the cart
 * now, or removed from the history with no interaction since. A list filled from outside the
 * stored list (best sellers) leaves them out too.
 */
export function leftOutFor(state: UserState | undefined, now: number, config: EngineConfig): Set<string> {
  const out = new Set<string>();
  if (state === undefined) return out;
  const hidden = hiddenOf(state);
  // the cart as recommend() reads it (the catalog only weighs categories, not needed here)
  for (const [productId, inCart] of userSignals(state, hidden, now, NO_CATALOG, config).cart) if (inCart === 1) out.add(productId);
  for (const [productId, removedAt] of hidden.removed) {
    if (!state.events.some(([, id, , at]) => id === productId && at > removedAt)) out.add(productId);
  }
  return out;
}
