/**
 * Runs a command with MONGO_URL and REDIS_URL pointing at provisioned servers, then stops them:
 *   node scripts/with-services.ts -- turbo run test
 * Servers from the environment are used as they are; local ones live in a fresh folder under
 * .data/ that is removed afterwards.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { provisionServices } from '@recs/devkit';

const separator = process.argv.indexOf('--');
const command = separator === -1 ? [] : process.argv.slice(separator + 1);
if (command.length === 0) {
  console.error('usage: node scripts/with-services.ts -- <command> [args...]');
  process.exit(2);
}

const root = join(import.meta.dirname, '..');
const services = await provisionServices({ dataDir: join(root, '.data', `run-${process.pid}`), ephemeral: true });
console.error(`[services] MongoDB-wire: ${services.mongoUrl} (${services.mongoKind}), Redis: ${services.redisUrl} (${services.redisKind})`);

const child = spawn(command[0]!, command.slice(1), {
  stdio: 'inherit',
  env: { ...process.env, MONGO_URL: services.mongoUrl, REDIS_URL: services.redisUrl },
});
const forward = (signal: NodeJS.Signals) => () => child.kill(signal);
process.on('SIGINT', forward('SIGINT'));
process.on('SIGTERM', forward('SIGTERM'));
const code = await new Promise<number>((resolve) => child.once('exit', (c, s) => resolve(c ?? (s === null ? 1 : 128 + 1))));
await services.stop();
process.exit(code);
