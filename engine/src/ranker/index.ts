export * from './candidates.ts';
export * from './features.ts';
export * from './model.ts';
export * from './rank.ts';
