// Runs before `npm start` and `npm test` (as prestart/pretest), with whatever Node the machine
// has: installs the project's dependencies, which include the Node 24 every script then runs on.
// Plain JavaScript on purpose: TypeScript needs Node >= 22.
import { spawnSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';

const root = join(import.meta.dirname, '..');
const marker = join(root, 'node_modules', '.package-lock.json');
const node = join(root, 'node_modules', '.bin', 'node');
const stale = !existsSync(node) || !existsSync(marker) || statSync(join(root, 'package-lock.json')).mtimeMs > statSync(marker).mtimeMs;

if (stale) {
  console.error('[setup] installing dependencies (npm ci), including Node 24 for the project scripts...');
  const result = spawnSync('npm', ['ci', '--no-audit', '--no-fund'], { cwd: root, stdio: 'inherit' });
  if (result.status !== 0) {
    console.error('[setup] npm ci failed; see the output above.');
    process.exit(result.status ?? 1);
  }
}
