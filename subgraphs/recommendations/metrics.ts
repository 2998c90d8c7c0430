import type { RecommendationStrategy } from '@recs/engine';
import { counterOn, METRIC_PREFIX, type Registry } from '@recs/shared';

const STRATEGIES: readonly RecommendationStrategy[] = ['PERSONALIZED', 'BEST_SELLERS'];

/**
 * The recommendations subgraph's own metrics (GraphQL, HTTP and store metrics come from shared):
 * - recs_recommendation_impressions_total{strategy,variant,model}: non-empty lists served (a
 *   query, an entity field or a subscription push), by the list's strategy, the serving
 *   variant and the model version. With the events subgraph's
 *   recs_recommendation_attributed_events_total (same labels) they give click-through and
 *   conversion per strategy, variant and model.
 */
export class ServingMetrics {
  private readonly impressions;

  /** `variants`: the variants this process serves (their series for the blend's lists, model `none`, start at 0). */
  constructor(registry: Registry, variants: readonly { readonly variant: string; readonly model: string }[]) {
    this.impressions = counterOn<'strategy' | 'variant' | 'model'>(registry, {
      name: `${METRIC_PREFIX}recommendation_impressions_total`,
      help: 'Non-empty recommendation lists served, by strategy, serving variant and model version.',
      labelNames: ['strategy', 'variant', 'model'],
    });
    for (const { variant, model } of variants) for (const strategy of STRATEGIES) this.impressions.inc({ strategy, variant, model }, 0);
  }

  impression(strategy: RecommendationStrategy, variant: string, model: string): void {
    this.impressions.inc({ strategy, variant, model });
  }
}
