import { baseEnv, host, jwtSecret, loadConfig, port } from '@recs/shared';

export function productsConfig(env: NodeJS.ProcessEnv = process.env) {
  return loadConfig({ ...baseEnv, JWT_SECRET: jwtSecret, HOST: host, PORT: port(4001) }, env);
}

export type ProductsConfig = ReturnType<typeof productsConfig>;

/** The import CLI needs no HTTP port or JWT secret. */
export function importConfig(env: NodeJS.ProcessEnv = process.env) {
  return loadConfig(baseEnv, env);
}
