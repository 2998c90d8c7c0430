/**
 * npm run services: only the MongoDB-wire and Redis servers (.data/dev), for running the
 * processes by hand. Prints the environment to use; Ctrl-C stops them.
 */
import { join } from 'node:path';
import { provisionServices } from '@recs/devkit';
import { clearDevEnv, DEV_DIR, devJwtSecret, writeDevEnv } from './lib/devProfile.ts';

const services = await provisionServices({ dataDir: join(DEV_DIR, 'services') });
const env = { MONGO_URL: services.mongoUrl, REDIS_URL: services.redisUrl, MONGO_DB: process.env['MONGO_DB'] ?? 'recs', JWT_SECRET: devJwtSecret() };
writeDevEnv(env);
console.log(`Services are running (${services.mongoKind}, ${services.redisKind}). In another shell:\n`);
for (const [key, value] of Object.entries(env)) console.log(`export ${key}=${value}`);
console.log('\nCtrl-C stops them.');
const stop = async () => {
  await services.stop();
  clearDevEnv();
  process.exit(0);
};
process.on('SIGINT', () => void stop());
process.on('SIGTERM', () => void stop());
