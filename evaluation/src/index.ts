export * from './data.ts';
export * from './metrics.ts';
export * from './strategies.ts';
export * from './evaluate.ts';
export * from './report.ts';
export * from './leads.ts';
