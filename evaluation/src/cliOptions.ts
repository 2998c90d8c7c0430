/** The options every evaluation walk takes (npm run evaluate, npm run train-offline), for node:util parseArgs. */
export const WALK_OPTIONS = {
  data: { type: 'string' },
  split: { type: 'string', default: '2011-09-01' },
  until: { type: 'string' },
  k: { type: 'string', default: '10' },
} as const;
