import { createRequire } from 'node:module';
import { defineConfig } from 'vitest/config';

const require = createRequire(import.meta.url);

/**
 * Settings every package's tests share.
 * - graphql: Node resolves `graphql` to its CommonJS build (the package has no exports map),
 *   and so do the Apollo packages; Vite would pick the ESM build from the `module` field for
 *   test code, giving two copies of GraphQLSchema that refuse each other. Pin the CommonJS one.
 * - Integration tests talk to real servers; allow for a slow machine.
 */
export function testConfig(kind: 'unit-and-integration' | 'e2e' = 'unit-and-integration') {
  return defineConfig({
    resolve: { alias: [{ find: /^graphql$/, replacement: require.resolve('graphql') }] },
    test: {
      testTimeout: kind === 'e2e' ? 60_000 : 30_000,
      hookTimeout: 120_000,
      include: kind === 'e2e' ? ['**/*.e2e.test.ts'] : ['**/*.test.ts'],
      exclude: kind === 'e2e' ? ['**/node_modules/**'] : ['**/node_modules/**', '**/*.e2e.test.ts'],
    },
  });
}

export default testConfig();
