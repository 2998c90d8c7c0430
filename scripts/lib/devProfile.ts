import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

export const ROOT = join(import.meta.dirname, '..', '..');
/**
 * The development profile's folder (data servers' files, the dev signing key, services.env):
 * RECS_DATA_DIR when set (a test's own folder, or a second system beside the usual one), else
 * .data/dev.
 */
export const DEV_DIR = resolve(process.env['RECS_DATA_DIR'] || join(ROOT, '.data', 'dev'));
const ENV_FILE = join(DEV_DIR, 'services.env');

/**
 * The development signing key: JWT_SECRET when set, else one generated on first use and kept in
 * .data/dev (git-ignored). It is for local development only; production sets JWT_SECRET.
 */
export function devJwtSecret(): string {
  const configured = process.env['JWT_SECRET'];
  if (configured !== undefined && configured !== '') return configured;
  const file = join(DEV_DIR, 'jwt-secret.dev-only');
  if (existsSync(file)) return readFileSync(file, 'utf8').trim();
  mkdirSync(DEV_DIR, { recursive: true });
  const secret = randomBytes(32).toString('hex');
  writeFileSync(file, `${secret}\n`, { mode: 0o600 });
  return secret;
}

/** Published while `npm start` runs, so commands in other terminals reach the same services. */
export function writeDevEnv(env: Record<string, string>): void {
  mkdirSync(DEV_DIR, { recursive: true });
  writeFileSync(
    ENV_FILE,
    `${Object.entries(env)
      .map(([k, v]) => `${k}=${v}`)
      .join('\n')}\n`,
    { mode: 0o600 },
  );
}

export function clearDevEnv(): void {
  rmSync(ENV_FILE, { force: true });
}

export function readDevEnv(): Record<string, string> | undefined {
  if (!existsSync(ENV_FILE)) return undefined;
  return Object.fromEntries(
    readFileSync(ENV_FILE, 'utf8')
      .split('\n')
      .filter((line) => line.includes('='))
      .map((line) => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)]),
  );
}
