import type { ServingControls } from '@recs/engine';

/**
 * How a variant serves a user's stored list: the model that ranked it and the serving controls
 * it adds to the client's. The table below is every variant an experiment (RECS_EXPERIMENT) may
 * name; a learned ranker is one more entry (its model version, and a ranking step when it has one).
 */
export interface ServingPolicy {
  /** What it is, for people. */
  readonly description: string;
  /** The version of the learned model that ranks its lists (`none`: the stored blend, no model). */
  readonly model: string;
  /**
   * The controls a list is served under, from the client's (already checked; undefined: none)
   * and the limit; undefined: none, so nothing more is read.
   */
  readonly controls: (client: ServingControls | undefined, limit: number) => ServingControls | undefined;
}

/** The diverse variant's cap on the items of one category. */
export const DIVERSE_MAX_PER_CATEGORY = 2;

export const SERVING_POLICIES = {
  blend: {
    description: "the stored list as the workers blended it, under the client's controls only",
    model: 'none',
    controls: (client) => client,
  },
  diverse: {
    description: `the stored list with at most ${DIVERSE_MAX_PER_CATEGORY} items of one category (the client's cap when lower)`,
    model: 'none',
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

/** The variant of everyone when no experiment runs. */
export const DEFAULT_VARIANT: VariantName = 'blend';

export function isVariantName(name: string): name is VariantName {
  return Object.hasOwn(SERVING_POLICIES, name);
}
