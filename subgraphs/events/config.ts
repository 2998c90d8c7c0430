import { baseEnv, host, jwtSecret, loadConfig, port } from '@recs/shared';

export function eventsConfig(env: NodeJS.ProcessEnv = process.env) {
  return loadConfig({ ...baseEnv, JWT_SECRET: jwtSecret, HOST: host, PORT: port(4002) }, env);
}
