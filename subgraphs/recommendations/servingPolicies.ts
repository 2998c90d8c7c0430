import type { RecommendationItem, ServingControls } from '@recs/engine';
import type { StoredList } from '@recs/shared';

/** The items a variant serves of a stored list, and the version of the model that ranked them (`none`: the blend). */
export interface PickedList {
  readonly items: readonly RecommendationItem[];
  readonly model: string;
}

/** The model label of the blend's lists (no learned model). */
export const NO_MODEL = 'none';

const blendOf = (list: StoredList): PickedList => ({ items: list.items, model: NO_MODEL });

/**
 * How a variant serves a user's stored list: which of its orders (the blend's, the serving
 * model's) and the serving controls it adds to the client's. The table below is every variant an
 * experiment (RECS_EXPERIMENT) may name.
 */
export interface ServingPolicy {
  /** What it is, for people. */
  readonly description: string;
  /** The order it serves of a stored list (the list workers save the model's beside the blend's). */
  readonly pick: (list: StoredList) => PickedList;
  /**
   * The controls a list is served under, from the client's (already checked; undefined: none)
   * and the limit; undefined: none, so nothing more is read.
   */
  readonly controls: (client: ServingControls | undefined, limit: number) => ServingControls | undefined;
}

/** The diverse variant's cap on the items of one category. */
export const DIVERSE_MAX_PER_CATEGORY = 2;

export const SERVING_POLICIES = {
  ranker: {
    description: "the serving ranking model's order of the user's candidates (the blend's where no model ranked the list), under the client's controls",
    pick: (list) => (list.ranked === undefined ? blendOf(list) : { items: list.ranked.items, model: list.ranked.model }),
    controls: (client) => client,
  },
  blend: {
    description: "the stored list as the workers blended it, under the client's controls only",
    pick: blendOf,
    controls: (client) => client,
  },
  diverse: {
    description: `the blended list with at most ${DIVERSE_MAX_PER_CATEGORY} items of one category (the client's cap when lower)`,
    pick: blendOf,
    controls: (client, limit) => {
      // a list this short cannot hold more of one category than the cap
      if (limit <= DIVERSE_MAX_PER_CATEGORY) return client;
      const cap = Math.min(client?.maxPerCategory ?? DIVERSE_MAX_PER_CATEGORY, DIVERSE_MAX_PER_CATEGORY);
      return { exclude: client?.exclude ?? new Set(), categoryId: client?.categoryId, maxPerCategory: cap };
    },
  },
} as const satisfies Record<string, ServingPolicy>;

export type VariantName = keyof typeof SERVING_POLICIES;

export const VARIANT_NAMES = Object.keys(SERVING_POLICIES) as VariantName[];

/** The variant of everyone when no experiment runs: the model's lists while one serves, else the blend's. */
export const DEFAULT_VARIANT: VariantName = 'ranker';

export function isVariantName(name: string): name is VariantName {
  return Object.hasOwn(SERVING_POLICIES, name);
}
