export * from './pythonEnv.ts';
export * from './trainingSet.ts';
export * from './trainRanker.ts';
