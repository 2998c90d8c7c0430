import { mergeConfig } from 'vitest/config';
import { testConfig } from '../vitest.shared.ts';

// unit tests of the page's pure parts and the browser tests (*.e2e.test.ts) of the whole shop
export default mergeConfig(testConfig('e2e'), { test: { include: ['test/**/*.test.ts'] } });
