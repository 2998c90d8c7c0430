import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { generate } from '@graphql-codegen/cli';
import { describe, expect, it } from 'vitest';
import config, { generatedFile } from '../../codegen.ts';
import { SUBGRAPHS } from '../index.ts';

const ROOT = join(import.meta.dirname, '..', '..');

describe('resolver types', () => {
  it('are generated for every subgraph and checked in up to date (run `npm run codegen` after editing schema/*.graphql)', async () => {
    // saveToFile false: generates in memory, writes nothing
    const files: readonly { filename: string; content: string }[] = await generate({ ...config, cwd: ROOT }, false);
    expect(files.map((file) => file.filename).sort()).toEqual(SUBGRAPHS.map(generatedFile).sort());
    const stale = files.filter((file) => readFileSync(join(ROOT, file.filename), 'utf8') !== file.content).map((file) => file.filename);
    expect(stale).toEqual([]);
  });
});
