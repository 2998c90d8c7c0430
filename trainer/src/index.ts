export * from './baskets.ts';
export * from './holdout.ts';
export * from './lightgbm.ts';
export * from './listScore.ts';
export * from './pythonEnv.ts';
export * from './trainingSet.ts';
export * from './trainAndJudge.ts';
