import { EVENT_LIMITS, isValidId } from '@recs/engine';
import { badUserInput } from './errors.ts';

/** Ids a list argument (`products(ids:)`, …) may hold at most unless the field says otherwise. */
export const MAX_IDS_PER_ARGUMENT = 100;

const rule = `must be 1-${EVENT_LIMITS.idMaxLength} printable characters`;

/**
 * An id argument as the API accepts ids everywhere (the same rule as event ids): 1-128
 * printable characters. Anything else is refused before it reaches a query, a cache key or a
 * log line, so a client cannot make either grow by sending long ids.
 */
export function requireId(value: unknown, argName: string): string {
  if (!isValidId(value)) throw badUserInput(`${argName} ${rule}`, { argument: argName });
  return value;
}

/** `requireId` for an optional argument: null and undefined pass as they are. */
export function optionalId(value: unknown, argName: string): string | undefined {
  return value === null || value === undefined ? undefined : requireId(value, argName);
}

/** A list of ids: at most `max` of them, each a valid id. */
export function requireIds(values: readonly unknown[], argName: string, max = MAX_IDS_PER_ARGUMENT): string[] {
  if (values.length > max) throw badUserInput(`${argName} may hold at most ${max} ids; got ${values.length}`, { argument: argName });
  return values.map((value, index) => requireId(value, `${argName}[${index}]`));
}
