import { createRequire } from 'node:module';
import { postGraphQL } from '@recs/devkit';
import { parse } from 'graphql';
import { SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IDENTITY_HEADER, signInternalIdentity, type Identity } from '../src/auth.ts';
import { closeServer, createGraphQLHttpServer, listen } from '../src/http.ts';
import { createLogger } from '../src/logger.ts';
import { createSubgraphServer, requestIdentity, type SubgraphContext } from '../src/subgraph.ts';

const { PoolClearedOnNetworkError } = createRequire(import.meta.url)('mongodb/lib/cmap/errors.js') as {
  PoolClearedOnNetworkError: new (pool: { address: string }) => Error;
};

const secret = 'subgraph-test-secret-at-least-32-characters';
const typeDefs = parse(`
  enum Kind { ALPHA BETA }
  type Query {
    whoami: String
    scaled(factor: Float, kind: Kind): Float
    stored: String
  }
`);
const resolvers = {
  Query: {
    whoami: (_: unknown, __: unknown, { identity }: SubgraphContext) => (identity.kind === 'anonymous' ? 'anonymous' : `${identity.role}:${identity.subject}`),
    scaled: (_: unknown, { factor }: { factor?: number }) => (factor ?? 1) * 2,
    stored: () => {
      throw new PoolClearedOnNetworkError({ address: '127.0.0.1:27017' });
    },
  },
};

/** One subgraph over real HTTP, as a service would run it. */
async function start(production: boolean) {
  const apollo = createSubgraphServer<SubgraphContext>({ typeDefs, resolvers, logger: createLogger('subgraph-test', 'silent'), production });
  await apollo.start();
  const http = createGraphQLHttpServer({ server: apollo, context: async (req) => ({ identity: await requestIdentity(req, secret) }) });
  const url = `http://127.0.0.1:${await listen(http, 0)}/graphql`;
  return {
    url,
    stop: async () => {
      await closeServer(http);
      await apollo.stop();
    },
  };
}

let dev: Awaited<ReturnType<typeof start>>;
let prod: Awaited<ReturnType<typeof start>>;
const admin: Identity = { kind: 'authenticated', subject: 'root', role: 'admin' };

async function raw(url: string, query: string, headers: Record<string, string> = {}) {
  const response = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify({ query }) });
  return { status: response.status, body: (await response.json()) as { data?: any; errors?: { message: string; extensions: Record<string, unknown> }[] } };
}

beforeAll(async () => {
  dev = await start(false);
  prod = await start(true);
});

afterAll(async () => {
  await dev?.stop();
  await prod?.stop();
});

describe('subgraph identity', () => {
  it('trusts a header the gateway signed for this operation', async () => {
    const query = '{ whoami }';
    expect((await postGraphQL(dev.url, query, {}, { [IDENTITY_HEADER]: await signInternalIdentity(admin, secret, query) })).data).toEqual({
      whoami: 'admin:root',
    });
    expect((await postGraphQL(dev.url, query)).data).toEqual({ whoami: 'anonymous' });
  });

  it('answers a forged header with 401 UNAUTHENTICATED', async () => {
    const forged = await new SignJWT({ role: 'admin', op: 'x' })
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject('root')
      .setAudience('recs-subgraph')
      .setIssuedAt()
      .setExpirationTime('1m')
      .sign(new TextEncoder().encode(secret));
    const result = await raw(dev.url, '{ whoami }', { [IDENTITY_HEADER]: forged });
    expect(result.status).toBe(401);
    expect(result.body.errors?.[0]?.extensions['code']).toBe('UNAUTHENTICATED');
  });

  it('refuses a captured header replayed with another operation', async () => {
    const header = await signInternalIdentity(admin, secret, '{ scaled(factor: 1) }');
    const replayed = await raw(dev.url, '{ whoami }', { [IDENTITY_HEADER]: header });
    expect(replayed.status).toBe(401);
    expect(replayed.body.errors?.[0]).toMatchObject({
      message: 'identity header from the gateway was signed for another operation',
      extensions: { code: 'UNAUTHENTICATED' },
    });
    expect(replayed.body.data).toBeUndefined();
  });
});

describe('subgraph errors', () => {
  it('refuses an out-of-range number literal with 400', async () => {
    const result = await raw(dev.url, '{ scaled(factor: 1e400) }');
    expect(result.status).toBe(400);
    expect(result.body.errors?.[0]?.extensions['code']).toBe('GRAPHQL_VALIDATION_FAILED');
  });

  it('reports a pool cleared by a network failure as SERVICE_UNAVAILABLE', async () => {
    const result = await raw(prod.url, '{ stored }');
    expect(result.body.errors?.[0]?.extensions).toMatchObject({ code: 'SERVICE_UNAVAILABLE', retryable: true });
  });

  it('suggests no names in production', async () => {
    for (const query of ['{ scaled(kind: ALPH) }', '{ whoam }', '{ scaled(facter: 2) }']) {
      const result = await raw(prod.url, query);
      expect(result.status).toBe(400);
      expect(result.body.errors?.[0]?.message).not.toMatch(/did you mean/i);
      expect((await raw(dev.url, query)).body.errors?.[0]?.message).toMatch(/Did you mean/);
    }
  });
});
