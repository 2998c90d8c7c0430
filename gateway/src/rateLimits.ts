import { isIP } from 'node:net';
import { HeaderMap, type ApolloServerPlugin } from '@apollo/server';
import { rateLimited, type Identity, type Logger, type RedisClient, type Role } from '@recs/shared';
import {
  GraphQLError,
  Kind,
  type ArgumentNode,
  type DocumentNode,
  type FragmentDefinitionNode,
  type OperationDefinitionNode,
  type SelectionSetNode,
} from 'graphql';
import { RateLimiterRedis, RateLimiterRes } from 'rate-limiter-flexible';
import type { GatewayConfig } from './config.ts';
import type { GatewayContext } from './identity.ts';

/**
 * Two budgets, so a shop's clickstream and its page views never starve each other:
 * - events: each event of trackEvent (1) and trackEvents (its `inputs`), counted per event rather
 *   than per call, so a batch costs what it asks of the pipeline;
 * - queries: every other operation (queries, the other mutations, subscribes), one each.
 */
export const BUDGETS = ['queries', 'events'] as const;
export type Budget = (typeof BUDGETS)[number];
export type Cost = Readonly<Record<Budget, number>>;

/** Whose budget a request spends: a token's role, or an anonymous caller (keyed by client IP). */
type Caller = 'anonymous' | Role;

/** The one table of settings: per caller and budget, the config key of its size per window. */
const BUDGET_SETTINGS = {
  anonymous: { queries: 'RATE_LIMIT_ANONYMOUS_QUERIES', events: 'RATE_LIMIT_ANONYMOUS_EVENTS' },
  user: { queries: 'RATE_LIMIT_USER_QUERIES', events: 'RATE_LIMIT_USER_EVENTS' },
  service: { queries: 'RATE_LIMIT_SERVICE_QUERIES', events: 'RATE_LIMIT_SERVICE_EVENTS' },
  admin: { queries: 'RATE_LIMIT_ADMIN_QUERIES', events: 'RATE_LIMIT_ADMIN_EVENTS' },
} as const satisfies Record<Caller, Record<Budget, keyof GatewayConfig>>;

/** A refused request: which budget ran out, its size, and when the window frees it. */
export interface Limited {
  readonly budget: Budget;
  readonly limit: number;
  readonly windowSeconds: number;
  readonly retryAfterSeconds: number;
}

/**
 * An IPv6 client usually holds a whole /64 and can pick any address in it: its anonymous budget
 * is the prefix's, not one address's. IPv4 addresses count one by one.
 */
function anonymousKey(ip: string): string {
  if (isIP(ip) !== 6) return `ip:${ip}`;
  const [head = '', tail] = ip.split('::');
  const left = head === '' ? [] : head.split(':');
  const right = tail === undefined || tail === '' ? [] : tail.split(':');
  const groups = [...left, ...Array<string>(Math.max(0, 8 - left.length - right.length)).fill('0'), ...right];
  return `ip6:${groups
    .slice(0, 4)
    .map((group) => Number.parseInt(group, 16).toString(16))
    .join(':')}::/64`;
}

/**
 * Budgets per fixed window in Redis (rate-limiter-flexible's RateLimiterRedis: one atomic
 * INCR-with-expiry script per check), so every gateway replica spends the same ones. Keys live
 * under `<QUEUE_PREFIX>:ratelimit:<budget>:<caller>:`, per token subject, or per client IP (an
 * IPv6 /64) for anonymous callers. Authenticated callers are not limited per IP as well: a
 * storefront's backend sends every shopper's token from one address.
 */
export class RateLimits {
  private readonly limiters = new Map<`${Caller}:${Budget}`, RateLimiterRedis>();
  private readonly windowSeconds: number;
  private readonly logger: Logger;
  /** Redis could not be asked; logged once, until it answers again. */
  private failing = false;

  constructor(redis: RedisClient, config: GatewayConfig, logger: Logger) {
    this.windowSeconds = config.RATE_LIMIT_WINDOW_SECONDS;
    this.logger = logger;
    for (const [caller, budgets] of Object.entries(BUDGET_SETTINGS) as [Caller, Record<Budget, keyof GatewayConfig>][]) {
      for (const budget of BUDGETS) {
        const points = Number(config[budgets[budget]]);
        if (points <= 0) continue;
        const limiter = new RateLimiterRedis({
          storeClient: redis,
          // the `redis` package (node-redis v4+), not ioredis: its command names and eval signature
          useRedisPackage: true,
          // node-redis queues commands while it reconnects: fail at once instead of holding requests
          rejectIfRedisNotReady: true,
          keyPrefix: `${config.QUEUE_PREFIX}:ratelimit:${budget}:${caller}`,
          points,
          duration: this.windowSeconds,
          // once over, this replica refuses the key until the window ends without asking Redis
          // (a flood costs the store nothing)
          inMemoryBlockOnConsumed: points + 1,
        });
        this.limiters.set(`${caller}:${budget}`, limiter);
      }
    }
  }

  /** Spends `cost` from the caller's budgets: undefined when served, else the budget that ran out. */
  async take(identity: Identity, clientIp: string, cost: Cost): Promise<Limited | undefined> {
    const caller: Caller = identity.kind === 'anonymous' ? 'anonymous' : identity.role;
    const key = identity.kind === 'anonymous' ? anonymousKey(clientIp) : `sub:${identity.subject}`;
    for (const budget of BUDGETS) {
      const limiter = this.limiters.get(`${caller}:${budget}`);
      if (limiter === undefined || cost[budget] <= 0) continue;
      try {
        await limiter.consume(key, cost[budget]);
        if (this.failing) this.logger.info('rate limits: Redis answers again; limits apply');
        this.failing = false;
      } catch (outcome) {
        if (outcome instanceof RateLimiterRes) {
          return {
            budget,
            limit: limiter.points,
            windowSeconds: this.windowSeconds,
            retryAfterSeconds: Math.max(1, Math.ceil(outcome.msBeforeNext / 1_000)),
          };
        }
        // Fail open: the limits protect capacity, not data (authorization does that), and the
        // API keeps accepting events while Redis is down (they are durable in MongoDB first).
        // Refusing every request because the limiter's store is gone would turn a Redis outage
        // into a full outage; the per-connection limits and query cost limits still hold.
        if (!this.failing) this.logger.warn({ err: (outcome as Error).message }, 'rate limits: Redis unreachable; serving without limits');
        this.failing = true;
      }
    }
    return undefined;
  }
}

/** The error a refused operation gets (over the websocket, as it is). */
export function rateLimitedError({ budget, limit, windowSeconds, retryAfterSeconds }: Limited): GraphQLError {
  return rateLimited(`Rate limit exceeded: at most ${limit} ${budget} per ${windowSeconds} s; retry in ${retryAfterSeconds} s`, retryAfterSeconds);
}

/** The same error over HTTP: status 429 and a Retry-After header (Apollo moves `http` off the body). */
function rateLimitedHttpError(limited: Limited): GraphQLError {
  const error = rateLimitedError(limited);
  const http = { status: 429, headers: new HeaderMap([['retry-after', String(limited.retryAfterSeconds)]]) };
  return new GraphQLError(error.message, { extensions: { ...error.extensions, http } });
}

/** How many events a trackEvents field sends: its `inputs` list, literal or a variable. */
function inputsCount(args: readonly ArgumentNode[], variables: Readonly<Record<string, unknown>>): number {
  const value = args.find((arg) => arg.name.value === 'inputs')?.value;
  if (value?.kind === Kind.LIST) return value.values.length;
  if (value?.kind === Kind.VARIABLE) {
    const given = variables[value.name.value];
    return Array.isArray(given) ? given.length : 1;
  }
  // one object where a list is expected is coerced to a list of one
  return 1;
}

/** What an operation spends (see BUDGETS); every operation spends something. */
export function operationCost(operation: OperationDefinitionNode, document: DocumentNode, variables: Readonly<Record<string, unknown>>): Cost {
  if (operation.operation !== 'mutation') return { queries: 1, events: 0 };
  const fragments = new Map<string, FragmentDefinitionNode>();
  for (const definition of document.definitions) if (definition.kind === Kind.FRAGMENT_DEFINITION) fragments.set(definition.name.value, definition);
  let events = 0;
  let other = false;
  const visit = (set: SelectionSetNode, seen: Set<string>) => {
    for (const selection of set.selections) {
      if (selection.kind === Kind.INLINE_FRAGMENT) visit(selection.selectionSet, seen);
      else if (selection.kind === Kind.FRAGMENT_SPREAD) {
        const fragment = fragments.get(selection.name.value);
        if (fragment !== undefined && !seen.has(fragment.name.value)) visit(fragment.selectionSet, new Set([...seen, fragment.name.value]));
      } else if (selection.name.value === 'trackEvent') events += 1;
      else if (selection.name.value === 'trackEvents') events += inputsCount(selection.arguments ?? [], variables);
      else if (selection.name.value !== '__typename') other = true;
    }
  };
  visit(operation.selectionSet, new Set());
  return { queries: other || events === 0 ? 1 : 0, events };
}

/**
 * Applies the limits to every client operation Apollo runs: HTTP requests and the queries and
 * mutations sent over the websocket (both carry `clientIp`); the gateway's own hydrations do not.
 * Checked once the operation is known, before any subgraph is asked.
 */
export function rateLimitPlugin(limits: RateLimits): ApolloServerPlugin<GatewayContext> {
  return {
    async requestDidStart({ contextValue }) {
      const { identity, clientIp } = contextValue;
      if (clientIp === undefined) return undefined;
      return {
        async didResolveOperation({ operation, document, request }) {
          if (operation === undefined) return; // operationChecks answers it
          const limited = await limits.take(identity, clientIp, operationCost(operation, document, request.variables ?? {}));
          if (limited !== undefined) throw rateLimitedHttpError(limited);
        },
      };
    },
  };
}
