/**
 * Runs a command against the services a running `npm start` uses (MONGO_URL, REDIS_URL, JWT_SECRET
 * from .data/dev/services.env), unless they are already set in the environment:
 *   node scripts/dev-env.ts -- node subgraphs/products/import.ts --file catalog.csv
 */
import { spawn } from 'node:child_process';
import { readDevEnv } from './lib/devProfile.ts';

const separator = process.argv.indexOf('--');
const command = separator === -1 ? [] : process.argv.slice(separator + 1);
if (command.length === 0) {
  console.error('usage: node scripts/dev-env.ts -- <command> [args...]');
  process.exit(2);
}
const env = { ...process.env };
if (env['MONGO_URL'] === undefined || env['REDIS_URL'] === undefined) {
  const dev = readDevEnv();
  if (dev === undefined) {
    console.error('No running development system: start it with `npm start` in another terminal, or set MONGO_URL and REDIS_URL.');
    process.exit(1);
  }
  for (const [key, value] of Object.entries(dev)) env[key] ??= value;
}
const child = spawn(command[0]!, command.slice(1), { stdio: 'inherit', env });
child.once('exit', (code) => process.exit(code ?? 1));
