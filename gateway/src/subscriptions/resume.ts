import type { ExecutionResult, FieldNode } from 'graphql';
import { Kind } from 'graphql';

/*
 * A resuming subscriber (see LiveResume) first gets the current value, when it is newer than the
 * marker it names. Its first query reads the value's marker too, under a response key of its own
 * that the hub removes before delivery, so the subscriber gets exactly what it selected.
 */

/** The response key under which a resuming subscriber's first query reads the marker. */
export const RESUME_MARKER_KEY = '_recsResumeMarker';

/** The root field, also selecting the field that carries the marker, under RESUME_MARKER_KEY. */
export function withMarker(root: FieldNode, markerField: string): FieldNode {
  const marker: FieldNode = { kind: Kind.FIELD, alias: { kind: Kind.NAME, value: RESUME_MARKER_KEY }, name: { kind: Kind.NAME, value: markerField } };
  const selections = root.selectionSet?.selections ?? [];
  return { ...root, selectionSet: { kind: Kind.SELECTION_SET, selections: [...selections, marker] } };
}

/**
 * A resuming subscriber's result without the marker its query added (RESUME_MARKER_KEY), and the
 * marker it read.
 */
export function withoutMarker(
  result: ExecutionResult,
  responseKey: string,
  read: (value: unknown) => number | undefined,
): { value: ExecutionResult; marker: number | undefined } {
  const root = result.data?.[responseKey];
  if (typeof root !== 'object' || root === null) return { value: result, marker: undefined };
  const { [RESUME_MARKER_KEY]: raw, ...rest } = root as Record<string, unknown>;
  return { value: { ...result, data: { ...result.data, [responseKey]: rest } }, marker: read(raw) };
}
