import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse, type DocumentNode } from 'graphql';

export const SUBGRAPHS = ['products', 'events', 'recommendations'] as const;
export type SubgraphName = (typeof SUBGRAPHS)[number];

/** Where each subgraph listens by default; baked into the supergraph, overridable in the gateway. */
export const DEFAULT_SUBGRAPH_URLS: Readonly<Record<SubgraphName, string>> = {
  products: 'http://127.0.0.1:4001/graphql',
  events: 'http://127.0.0.1:4002/graphql',
  recommendations: 'http://127.0.0.1:4003/graphql',
};

const dir = import.meta.dirname;

/** A subgraph's SDL (its own file plus the shared scalars), as text. */
export function subgraphSdl(name: SubgraphName): string {
  return `${readFileSync(join(dir, 'scalars.graphql'), 'utf8')}\n${readFileSync(join(dir, `${name}.graphql`), 'utf8')}`;
}

export function subgraphTypeDefs(name: SubgraphName): DocumentNode {
  return parse(subgraphSdl(name));
}

export const SUPERGRAPH_FILE = join(dir, 'supergraph.graphql');

/** The composed supergraph the gateway runs, checked in and kept fresh by `npm run compose`. */
export function supergraphSdl(): string {
  return readFileSync(SUPERGRAPH_FILE, 'utf8');
}
