/**
 * Composes schema/<subgraph>.graphql into schema/supergraph.graphql.
 *   node schema/compose.ts           write the supergraph
 *   node schema/compose.ts --check   fail when it does not compose or the file is stale
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { composeServices } from '@apollo/composition';
import { DEFAULT_SUBGRAPH_URLS, SUBGRAPHS, SUPERGRAPH_FILE, subgraphTypeDefs } from './index.ts';

export function composeSupergraph(): { sdl: string } | { errors: string[] } {
  const result = composeServices(SUBGRAPHS.map((name) => ({ name, typeDefs: subgraphTypeDefs(name), url: DEFAULT_SUBGRAPH_URLS[name] })));
  if (result.errors !== undefined) return { errors: result.errors.map((error) => error.message) };
  return { sdl: `${result.supergraphSdl.trimEnd()}\n` };
}

if (import.meta.main) {
  const composed = composeSupergraph();
  if ('errors' in composed) {
    console.error(`Composition failed:\n${composed.errors.map((e) => `  - ${e}`).join('\n')}`);
    process.exit(1);
  }
  if (process.argv.includes('--check')) {
    const current = readFileSync(SUPERGRAPH_FILE, 'utf8');
    if (current !== composed.sdl) {
      console.error('schema/supergraph.graphql is stale: run `npm run compose` and commit the result.');
      process.exit(1);
    }
    console.log('supergraph is up to date');
  } else {
    writeFileSync(SUPERGRAPH_FILE, composed.sdl);
    console.log(`wrote ${SUPERGRAPH_FILE}`);
  }
}
