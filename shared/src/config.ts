import { z } from 'zod';

/** Thrown when the environment is invalid; the message names every offending variable. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

const mongoUrl = z
  .string({ error: 'is required (e.g. mongodb://127.0.0.1:27017)' })
  .regex(/^mongodb(\+srv)?:\/\//, 'must start with mongodb:// or mongodb+srv://');
const redisUrl = z
  .string({ error: 'is required (e.g. redis://127.0.0.1:6379)' })
  .regex(/^rediss?:\/\//, 'must start with redis:// or rediss://');
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

export const jwtSecret = z
  .string({ error: 'is required: the HS256 key tokens are signed with' })
  .min(32, 'must be at least 32 characters');

export function port(defaultPort: number) {
  return z.coerce.number().int().min(0).max(65_535).default(defaultPort);
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
