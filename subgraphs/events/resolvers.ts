import { browsingHistory, DEFAULT_ENGINE_CONFIG, hiddenOf, HISTORY_MAX_LIMIT } from '@recs/engine';
import { badUserInput, forbidden, requireId, requireUserAccess, unauthenticated, type Logger, type SubgraphContext } from '@recs/shared';
import type { Resolvers } from './generated/resolvers.ts';
import { MAX_BATCH, type Ingestor } from './ingest.ts';
import type { EventStore } from './store.ts';

export interface EventsContext extends SubgraphContext {
  readonly store: EventStore;
  readonly ingestor: Ingestor;
  readonly logger: Logger;
}

/** What the User resolvers receive as their parent (codegen's mapper for User). */
export interface UserRef {
  readonly id: string;
}

function requireIdentity(ctx: EventsContext): void {
  if (ctx.identity.kind === 'anonymous') throw unauthenticated('A token is required to track events');
}

export const resolvers = {
  Query: {
    user: (_, { id }, ctx): UserRef => {
      requireId(id, 'id');
      requireUserAccess(ctx.identity, id);
      return { id };
    },
  },

  Mutation: {
    trackEvent: async (_, { input }, ctx) => {
      requireIdentity(ctx);
      const result = await ctx.ingestor.track([input], ctx.identity);
      const rejection = result.rejected[0];
      if (rejection !== undefined) {
        if (rejection.code === 'FORBIDDEN') throw forbidden(rejection.message);
        throw badUserInput(rejection.message, { reason: rejection.code });
      }
      const accepted = result.accepted[0];
      // one event in, not rejected: it was accepted or is a duplicate
      return { eventId: accepted?.eventId ?? result.duplicates[0]!, duplicate: accepted === undefined };
    },

    trackEvents: async (_, { inputs }, ctx) => {
      requireIdentity(ctx);
      if (inputs.length > MAX_BATCH) throw badUserInput(`at most ${MAX_BATCH} events per call; got ${inputs.length}`);
      const result = await ctx.ingestor.track(inputs, ctx.identity);
      return { accepted: result.accepted.length, duplicates: result.duplicates.length, rejected: result.rejected };
    },

    removeFromHistory: async (_, { userId, productId }, ctx): Promise<UserRef> => {
      requireId(userId, 'userId');
      requireId(productId, 'productId');
      requireUserAccess(ctx.identity, userId);
      // stored before the answer: the history below reads it with the user's latest raw events
      await ctx.ingestor.trackControl(userId, 'HIDE_PRODUCT', productId);
      return { id: userId };
    },

    clearHistory: async (_, { userId }, ctx): Promise<UserRef> => {
      requireId(userId, 'userId');
      requireUserAccess(ctx.identity, userId);
      await ctx.ingestor.trackControl(userId, 'CLEAR_HISTORY', '*');
      return { id: userId };
    },
  },

  User: {
    __resolveReference: (ref): UserRef => ({ id: ref.id }),
    browsingHistory: async (user, { limit }, ctx) => {
      requireUserAccess(ctx.identity, user.id);
      if (!Number.isInteger(limit) || limit < 0 || limit > HISTORY_MAX_LIMIT) throw badUserInput(`limit must be from 0 to ${HISTORY_MAX_LIMIT}`);
      // with the views and removals just stored, applied or not yet
      const state = await ctx.store.userStateWithRecent(user.id, DEFAULT_ENGINE_CONFIG);
      return browsingHistory(state, hiddenOf(state), limit).map((entry) => ({
        product: { __typename: 'Product', id: entry.productId },
        lastViewedAt: new Date(entry.lastViewedAt),
        views: entry.views,
      }));
    },
  },
} satisfies Resolvers;
