import { randomUUID } from 'node:crypto';
import { MongoClient, type Db } from 'mongodb';

/** A development-only signing key for tests; never used outside them. */
export const TEST_JWT_SECRET = 'test-only-jwt-secret-not-for-production-0123456789';

export interface TestServices {
  readonly mongoUrl: string;
  readonly redisUrl: string;
}

/** The servers `npm test` provisioned (scripts/with-services.ts sets MONGO_URL and REDIS_URL). */
export function testServices(): TestServices {
  const mongoUrl = process.env['MONGO_URL'];
  const redisUrl = process.env['REDIS_URL'];
  if (mongoUrl === undefined || redisUrl === undefined) {
    throw new Error('MONGO_URL and REDIS_URL are not set: run the tests with `npm test` (it starts the servers), or set them.');
  }
  return { mongoUrl, redisUrl };
}

/** A name no other test file uses, for a database or a queue prefix. */
export function uniqueName(label: string): string {
  return `t_${label}_${randomUUID().slice(0, 8)}`;
}

export interface TestDatabase {
  readonly client: MongoClient;
  readonly db: Db;
  readonly name: string;
  /** Drops the database and closes the connection. */
  drop(): Promise<void>;
}

/** A database of its own for one test file, dropped afterwards. */
export async function testDatabase(label: string, options: { monitorCommands?: boolean; mongoUrl?: string } = {}): Promise<TestDatabase> {
  const mongoUrl = options.mongoUrl ?? testServices().mongoUrl;
  const name = uniqueName(label);
  const client = new MongoClient(mongoUrl, { monitorCommands: options.monitorCommands ?? false });
  await client.connect();
  const db = client.db(name);
  return {
    client,
    db,
    name,
    async drop() {
      await db.dropDatabase().catch(() => undefined);
      await client.close();
    },
  };
}

export interface GraphQLResponse<TData = Record<string, unknown>> {
  readonly data?: TData | null;
  readonly errors?: readonly { message: string; path?: readonly (string | number)[]; extensions?: Record<string, unknown> }[];
}

/** POSTs a GraphQL operation over real HTTP. */
export async function postGraphQL<TData = Record<string, any>>(
  url: string,
  query: string,
  variables: Record<string, unknown> = {},
  headers: Record<string, string> = {},
): Promise<GraphQLResponse<TData>> {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'apollo-require-preflight': 'true', ...headers },
    body: JSON.stringify({ query, variables }),
  });
  const text = await response.text();
  try {
    return JSON.parse(text) as GraphQLResponse<TData>;
  } catch {
    throw new Error(`HTTP ${response.status} from ${url}: ${text.slice(0, 300)}`);
  }
}

/** A promise with its resolve function exposed: tests await the event instead of sleeping. */
export function deferred<T = void>(): { promise: Promise<T>; resolve: (value: T) => void; reject: (error: unknown) => void } {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}
