import { browsingHistory, HISTORY_MAX_LIMIT, isValidId, type EventInput } from '@recs/engine';
import {
  badUserInput,
  forbidden,
  listJob,
  requireUserAccess,
  unauthenticated,
  type ListsJob,
  type Logger,
  type Resolvers,
  type SubgraphContext,
} from '@recs/shared';
import type { Queue } from 'bullmq';
import { MAX_BATCH, type Ingestor } from './ingest.ts';
import type { EventStore } from './store.ts';

export interface EventsContext extends SubgraphContext {
  readonly store: EventStore;
  readonly ingestor: Ingestor;
  readonly lists: Queue<ListsJob>;
  readonly logger: Logger;
}

interface UserRef {
  readonly id: string;
}

function requireIdentity(ctx: EventsContext): void {
  if (ctx.identity.kind === 'anonymous') throw unauthenticated('A token is required to track events');
}

/** Recomputing the user's list is best effort: a list job is also queued by the next event. */
async function refreshList(ctx: EventsContext, userId: string): Promise<void> {
  const job = listJob(userId);
  await ctx.lists.add(job.name, job.data, job.opts).catch((error: unknown) => {
    ctx.logger.warn({ userId, err: (error as Error).message }, 'could not queue a list recomputation');
  });
}

export const resolvers: Resolvers<EventsContext> = {
  Query: {
    user: (_: unknown, { id }: { id: string }, ctx: EventsContext): UserRef => {
      requireUserAccess(ctx.identity, id);
      return { id };
    },
  },

  Mutation: {
    trackEvent: async (_: unknown, { input }: { input: EventInput }, ctx: EventsContext) => {
      requireIdentity(ctx);
      const result = await ctx.ingestor.track([input], ctx.identity);
      const rejection = result.rejected[0];
      if (rejection !== undefined) {
        if (rejection.code === 'FORBIDDEN') throw forbidden(rejection.message);
        throw badUserInput(rejection.message, { reason: rejection.code });
      }
      const accepted = result.accepted[0];
      return { eventId: accepted?.eventId ?? result.duplicates[0], duplicate: accepted === undefined };
    },

    trackEvents: async (_: unknown, { inputs }: { inputs: EventInput[] }, ctx: EventsContext) => {
      requireIdentity(ctx);
      if (inputs.length > MAX_BATCH) throw badUserInput(`at most ${MAX_BATCH} events per call; got ${inputs.length}`);
      const result = await ctx.ingestor.track(inputs, ctx.identity);
      return { accepted: result.accepted.length, duplicates: result.duplicates.length, rejected: result.rejected };
    },

    removeFromHistory: async (_: unknown, { userId, productId }: { userId: string; productId: string }, ctx: EventsContext): Promise<UserRef> => {
      requireUserAccess(ctx.identity, userId);
      if (!isValidId(productId)) throw badUserInput('productId must be 1-128 printable characters');
      await ctx.store.hide(userId, productId, Date.now());
      await refreshList(ctx, userId);
      return { id: userId };
    },

    clearHistory: async (_: unknown, { userId }: { userId: string }, ctx: EventsContext): Promise<UserRef> => {
      requireUserAccess(ctx.identity, userId);
      await ctx.store.clear(userId, Date.now());
      await refreshList(ctx, userId);
      return { id: userId };
    },
  },

  User: {
    __resolveReference: (ref: UserRef): UserRef => ({ id: ref.id }),
    browsingHistory: async (user: UserRef, { limit }: { limit: number }, ctx: EventsContext) => {
      requireUserAccess(ctx.identity, user.id);
      if (!Number.isInteger(limit) || limit < 0 || limit > HISTORY_MAX_LIMIT) throw badUserInput(`limit must be from 0 to ${HISTORY_MAX_LIMIT}`);
      const [state, hidden] = await Promise.all([ctx.store.userState(user.id), ctx.store.hiddenHistory(user.id)]);
      return browsingHistory(state, hidden, limit).map((entry) => ({
        product: { __typename: 'Product', id: entry.productId },
        lastViewedAt: new Date(entry.lastViewedAt),
        views: entry.views,
      }));
    },
  },
};
