import { z } from 'zod';
import { DEFAULT_TOKEN_POLICY, type TokenPolicy } from './auth.ts';

/** Thrown when the environment is invalid; the message names every offending variable. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

const mongoUrl = z
  .string({ error: 'is required (e.g. mongodb://127.0.0.1:27017)' })
  .regex(/^mongodb(\+srv)?:\/\//, 'must start with mongodb:// or mongodb+srv://');
const redisUrl = z.string({ error: 'is required (e.g. redis://127.0.0.1:6379)' }).regex(/^rediss?:\/\//, 'must start with redis:// or rediss://');
const name = z.string().regex(/^[A-Za-z0-9_-]{1,48}$/, 'must be 1-48 letters, digits, _ or -');

/** Variables every process reads. */
export const baseEnv = {
  MONGO_URL: mongoUrl,
  MONGO_DB: name.default('recs'),
  REDIS_URL: redisUrl,
  /** Namespace of queues and pub/sub channels in Redis; lets several deployments (or test files) share one Redis. */
  QUEUE_PREFIX: name.default('recs'),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  NODE_ENV: z.enum(['development', 'production', 'test']).default('development'),
} as const;

export const jwtSecret = z.string({ error: 'is required: the HS256 key tokens are signed with' }).min(32, 'must be at least 32 characters');

export function port(defaultPort: number) {
  return z.coerce.number().int().min(0).max(65_535).default(defaultPort);
}

/**
 * The interface a server listens on: loopback unless the deployment opens it (containers set
 * 0.0.0.0), so a subgraph is not reachable from the network by accident.
 */
export const host = z.string().min(1).default('127.0.0.1');

const DURATION = /^(\d+)(s|m|h|d)?$/;
const UNIT_SECONDS = { s: 1, m: 60, h: 3_600, d: 86_400 } as const;

/** '90s', '15m', '24h', '30d' or bare seconds, in seconds. */
export const duration = z
  .string()
  .regex(DURATION, 'must be a duration such as 30s, 15m, 24h or 7d')
  .transform((value) => {
    const [, amount, unit] = DURATION.exec(value)!;
    return Number(amount) * UNIT_SECONDS[(unit ?? 's') as keyof typeof UNIT_SECONDS];
  });

/**
 * What client tokens must satisfy (read by the processes that verify them: the gateway). Unset
 * variables keep DEFAULT_TOKEN_POLICY's values: issuer `recs`, no audience, lifetimes of 24 h for
 * users and admins and 30 days for services, 30 s of clock skew.
 */
export const tokenEnv = {
  JWT_ISSUER: z.string().min(1).optional(),
  JWT_AUDIENCE: z.string().min(1).optional(),
  JWT_MAX_LIFETIME: duration.optional(),
  JWT_SERVICE_MAX_LIFETIME: duration.optional(),
  JWT_CLOCK_TOLERANCE: duration.optional(),
} as const;

export type TokenConfig = Partial<z.infer<z.ZodObject<typeof tokenEnv>>>;

export function tokenPolicy(config: TokenConfig): TokenPolicy {
  const people = config.JWT_MAX_LIFETIME;
  const services = config.JWT_SERVICE_MAX_LIFETIME ?? DEFAULT_TOKEN_POLICY.maxLifetimeSeconds.service;
  return {
    issuer: config.JWT_ISSUER ?? DEFAULT_TOKEN_POLICY.issuer,
    audience: config.JWT_AUDIENCE,
    maxLifetimeSeconds: {
      user: people ?? DEFAULT_TOKEN_POLICY.maxLifetimeSeconds.user,
      admin: people ?? DEFAULT_TOKEN_POLICY.maxLifetimeSeconds.admin,
      service: services,
    },
    clockToleranceSeconds: config.JWT_CLOCK_TOLERANCE ?? DEFAULT_TOKEN_POLICY.clockToleranceSeconds,
  };
}

export const httpUrl = z.string().regex(/^https?:\/\//, 'must be an http(s) URL');

/**
 * Reads and validates the environment once, at start-up. Each process calls this from its
 * entry point and passes the typed result on; nothing else reads process.env.
 */
export function loadConfig<Shape extends z.ZodRawShape>(shape: Shape, env: NodeJS.ProcessEnv = process.env): z.infer<z.ZodObject<Shape>> {
  const result = z.object(shape).safeParse(env);
  if (result.success) return result.data;
  const problems = result.error.issues.map((issue) => `  ${issue.path.join('.')}: ${issue.message}`);
  throw new ConfigError(`Invalid configuration:\n${problems.join('\n')}`);
}

export type BaseConfig = z.infer<z.ZodObject<typeof baseEnv>>;
