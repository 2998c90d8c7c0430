/**
 * An online experiment: its name and the variants users are split into, with their weights, as
 * RECS_EXPERIMENT sets them (`name:blend=50,diverse=50`), and the stable assignment of a user
 * to a variant.
 */
import { createHash } from 'node:crypto';
import { z } from 'zod';
import { EXPERIMENT_NAME, VARIANT_NAME } from './recommendationId.ts';

export interface ExperimentVariant {
  readonly name: string;
  /** Relative share of users: weight / the sum of the experiment's weights. */
  readonly weight: number;
}

export interface ExperimentSetting {
  readonly name: string;
  /** In the order given; the first is the control the others are compared with. */
  readonly variants: readonly ExperimentVariant[];
}

const MAX_WEIGHT = 10_000;

/**
 * Parses `name:variant=weight,variant=weight,...`: a name of 1-32 letters, digits, `_` or `-`,
 * and one or more distinct variants of `known`, each with a whole weight from 1 to 10,000.
 * Throws an Error saying what is wrong.
 */
export function parseExperimentSetting(text: string, known: readonly string[]): ExperimentSetting {
  const colon = text.indexOf(':');
  if (colon < 0) throw new Error('must be name:variant=weight,variant=weight (e.g. homepage:blend=50,diverse=50)');
  const name = text.slice(0, colon).trim();
  if (!EXPERIMENT_NAME.test(name)) throw new Error(`experiment name ${JSON.stringify(name)} must be 1-32 letters, digits, _ or -`);
  const variants: ExperimentVariant[] = [];
  for (const part of text.slice(colon + 1).split(',')) {
    const match = /^\s*([^=\s]+)\s*=\s*(\d+)\s*$/.exec(part);
    if (match === null) throw new Error(`${JSON.stringify(part.trim())} must be variant=weight`);
    const variant = match[1]!;
    const weightText = match[2]!;
    if (!VARIANT_NAME.test(variant) || !known.includes(variant)) {
      throw new Error(`unknown variant ${JSON.stringify(variant)} (known: ${known.join(', ')})`);
    }
    if (variants.some((v) => v.name === variant)) throw new Error(`variant ${variant} is listed twice`);
    const weight = Number(weightText);
    if (!Number.isInteger(weight) || weight < 1 || weight > MAX_WEIGHT) throw new Error(`weight of ${variant} must be a whole number from 1 to ${MAX_WEIGHT}`);
    variants.push({ name: variant, weight });
  }
  return { name, variants };
}

/** The RECS_EXPERIMENT variable for loadConfig: unset or empty is no experiment. */
export function experimentEnv(known: readonly string[]) {
  return z
    .string()
    .optional()
    .transform((value, ctx): ExperimentSetting | undefined => {
      if (value === undefined || value.trim() === '') return undefined;
      try {
        return parseExperimentSetting(value, known);
      } catch (error) {
        ctx.addIssue({ code: 'custom', message: (error as Error).message, input: value });
        return z.NEVER;
      }
    });
}

const SPAN = 2 ** 48;

/**
 * The user's variant: a stable hash of (experiment name, userId) placed on the weights, so a
 * user keeps their variant across requests and replicas, and two experiments split users
 * independently of each other.
 */
export function assignVariant(setting: ExperimentSetting, userId: string): string {
  const total = setting.variants.reduce((sum, variant) => sum + variant.weight, 0);
  const hash = createHash('sha256').update(`${setting.name}\u0000${userId}`).digest();
  let point = (hash.readUIntBE(0, 6) / SPAN) * total;
  for (const variant of setting.variants) {
    if (point < variant.weight) return variant.name;
    point -= variant.weight;
  }
  return setting.variants.at(-1)!.name;
}
