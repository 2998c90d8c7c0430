export * from './trainRanker.ts';
