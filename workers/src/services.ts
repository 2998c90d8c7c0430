/** The workers' building blocks, for the composition root (index.ts) and whole-system tests. */
export { AggregatorService, type AggregatorServiceOptions } from './aggregate/service.ts';
export { CatalogCache } from './catalog.ts';
export { createWorkersHttpServer } from './http.ts';
export { ListService } from './lists/service.ts';
export { ListStore } from './lists/store.ts';
export { MaintenanceService } from './maintenance/service.ts';
export { WorkersMetrics } from './metrics.ts';
export { MongoAggregateStore } from './mongoStore.ts';
export { Publisher } from './publisher.ts';
export { compareAggregates, dumpAggregator, readStoredAggregates, recomputeAggregates } from './verify.ts';
