import { baseEnv, experimentEnv, host, jwtSecret, loadConfig, port } from '@recs/shared';
import { VARIANT_NAMES } from './servingPolicies.ts';

export function recommendationsConfig(env: NodeJS.ProcessEnv = process.env) {
  return loadConfig(
    {
      ...baseEnv,
      JWT_SECRET: jwtSecret,
      HOST: host,
      PORT: port(4003),
      /** The online experiment: `name:variant=weight,...` over the serving policies (servingPolicies.ts); unset: none. */
      RECS_EXPERIMENT: experimentEnv(VARIANT_NAMES),
    },
    env,
  );
}
