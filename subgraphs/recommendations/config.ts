import { baseEnv, jwtSecret, loadConfig, port } from '@recs/shared';

export function recommendationsConfig(env: NodeJS.ProcessEnv = process.env) {
  return loadConfig({ ...baseEnv, JWT_SECRET: jwtSecret, PORT: port(4003) }, env);
}
