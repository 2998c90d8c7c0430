import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { composeSupergraph } from '../compose.ts';
import { SUPERGRAPH_FILE } from '../index.ts';

describe('supergraph', () => {
  it('composes from the subgraph SDL without errors', () => {
    const composed = composeSupergraph();
    expect('errors' in composed ? composed.errors : []).toEqual([]);
  });

  it('is checked in up to date (run `npm run compose` after editing schema/*.graphql)', () => {
    const composed = composeSupergraph();
    expect('sdl' in composed && composed.sdl === readFileSync(SUPERGRAPH_FILE, 'utf8')).toBe(true);
  });
});
