export { provisionServices, type Services, type ProvisionOptions } from './services/provision.ts';
export { startRedis, ensureRedisServer, redisPing, type RedisServer } from './services/redis.ts';
export { startFerretdb, ensureFerretdb, mongoPing, type MongoServer, FERRETDB_VERSION } from './services/ferretdb.ts';
export {
  startPrometheus,
  ensurePrometheus,
  prometheusConfig,
  type PrometheusServer,
  type PrometheusConfigOptions,
  type PrometheusQueryResponse,
  type PrometheusSample,
  type ScrapeTargets,
} from './services/prometheus.ts';
export { startProcess, portAnswers, type ManagedProcess } from './services/process.ts';
export { freePort } from './services/ports.ts';
export * from './testing.ts';
export * from './scrape.ts';
export * from './simulator.ts';
export * from './children.ts';
