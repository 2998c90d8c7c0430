import { buildSchema, parse, specifiedRules, validate } from 'graphql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { closeServer, createGraphQLHttpServer, listen } from '../src/http.ts';
import { literalDepthRule, MAX_LITERAL_DEPTH, MAX_LITERAL_LIST_DEPTH } from '../src/literalDepth.ts';
import { createLogger } from '../src/logger.ts';
import { createSubgraphServer, type SubgraphContext } from '../src/subgraph.ts';

const schema = buildSchema(`
  scalar JSON
  input Filter { any: JSON, ids: [ID!], nested: Filter }
  type Query { find(value: JSON, filter: Filter, ids: [ID!]): Int }
`);

const messages = (query: string) => validate(schema, parse(query), [...specifiedRules, literalDepthRule]).map((error) => error.message);
const lists = (n: number, inner = '1') => `${'['.repeat(n)}${inner}${']'.repeat(n)}`;
const objects = (n: number, inner = '1') => `${'{ a: '.repeat(n)}${inner}${' }'.repeat(n)}`;
const TOO_MANY_LISTS = `List literals nest more than ${MAX_LITERAL_LIST_DEPTH} levels deep`;
const TOO_DEEP = `Literal values nest more than ${MAX_LITERAL_DEPTH} levels deep`;

describe('literalDepthRule', () => {
  it('lets lists nest up to the list limit, and refuses one more', () => {
    expect(messages(`{ find(value: ${lists(MAX_LITERAL_LIST_DEPTH)}) }`)).toEqual([]);
    expect(messages(`{ find(value: ${lists(MAX_LITERAL_LIST_DEPTH + 1)}) }`)).toEqual([TOO_MANY_LISTS]);
  });

  it('counts lists with objects between them', () => {
    const alternating = (n: number) => `${'[{ a: '.repeat(n)}1${' }]'.repeat(n)}`;
    expect(messages(`{ find(value: ${alternating(MAX_LITERAL_LIST_DEPTH)}) }`)).toEqual([]);
    expect(messages(`{ find(value: ${alternating(MAX_LITERAL_LIST_DEPTH + 1)}) }`)).toEqual([TOO_MANY_LISTS]);
  });

  it('lets objects nest up to the depth limit, and refuses one more', () => {
    expect(messages(`{ find(value: ${objects(MAX_LITERAL_DEPTH)}) }`)).toEqual([]);
    expect(messages(`{ find(value: ${objects(MAX_LITERAL_DEPTH + 1)}) }`)).toEqual([TOO_DEEP]);
  });

  it('counts input objects and the values inside them', () => {
    const filters = (n: number) => `${'{ nested: '.repeat(n - 1)}{ any: ${lists(1)} }${' }'.repeat(n - 1)}`;
    expect(messages(`{ find(filter: ${filters(MAX_LITERAL_DEPTH - 1)}) }`)).toEqual([]);
    expect(messages(`{ find(filter: ${filters(MAX_LITERAL_DEPTH)}) }`)).toEqual([TOO_DEEP]);
  });

  it('checks every literal: other arguments, variable defaults, several fields', () => {
    expect(messages(`{ find(ids: ${lists(MAX_LITERAL_LIST_DEPTH + 1, '"x"')}) }`)).toContain(TOO_MANY_LISTS);
    expect(messages(`query ($v: JSON = ${lists(MAX_LITERAL_LIST_DEPTH + 1)}) { find(value: $v) }`)).toEqual([TOO_MANY_LISTS]);
    expect(messages(`{ a: find(value: ${lists(MAX_LITERAL_LIST_DEPTH)}) b: find(value: ${lists(MAX_LITERAL_LIST_DEPTH + 1)}) }`)).toEqual([TOO_MANY_LISTS]);
  });

  it('does not add up siblings: wide literals at the limits pass', () => {
    const wide = `[${Array.from({ length: 50 }, () => lists(MAX_LITERAL_LIST_DEPTH - 1)).join(', ')}]`;
    expect(messages(`{ find(value: ${wide}) }`)).toEqual([]);
  });

  it('reports one error for a document however deep it goes', () => {
    expect(messages(`{ a: find(value: ${lists(400)}) b: find(value: ${objects(400)}) }`)).toEqual([TOO_MANY_LISTS]);
  });
});

describe('subgraphs', () => {
  let url: string;
  let stop: () => Promise<void>;

  beforeAll(async () => {
    const apollo = createSubgraphServer<SubgraphContext>({
      typeDefs: parse('scalar JSON\ntype Query { echo(value: JSON): JSON }'),
      resolvers: { Query: { echo: (_: unknown, { value }: { value: unknown }) => value } },
      logger: createLogger('literal-depth-test', 'silent'),
      production: false,
    });
    await apollo.start();
    const http = createGraphQLHttpServer({ server: apollo, context: async () => ({ identity: { kind: 'anonymous' } }) as SubgraphContext });
    url = `http://127.0.0.1:${await listen(http, 0)}/graphql`;
    stop = async () => {
      await closeServer(http);
      await apollo.stop();
    };
  });

  afterAll(async () => {
    await stop?.();
  });

  const post = async (query: string) => {
    const response = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query }) });
    return {
      status: response.status,
      body: (await response.json()) as { data?: unknown; errors?: { message: string; extensions: Record<string, unknown> }[] },
    };
  };

  it('refuse a too deep literal with 400 GRAPHQL_VALIDATION_FAILED, and answer one at the limit', async () => {
    const refused = await post(`{ echo(value: ${lists(MAX_LITERAL_LIST_DEPTH + 1)}) }`);
    expect(refused.status).toBe(400);
    expect(refused.body.errors).toEqual([
      expect.objectContaining({ message: TOO_MANY_LISTS, extensions: expect.objectContaining({ code: 'GRAPHQL_VALIDATION_FAILED' }) }),
    ]);
    const answered = await post(`{ echo(value: ${lists(MAX_LITERAL_LIST_DEPTH)}) }`);
    expect(answered.body).toEqual({ data: { echo: JSON.parse(lists(MAX_LITERAL_LIST_DEPTH)) } });
  });
});
