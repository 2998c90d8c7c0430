import { EVENT_TYPE_NAMES } from '@recs/engine';
import { Kind, type EnumTypeDefinitionNode } from 'graphql';
import { describe, expect, it } from 'vitest';
import { subgraphTypeDefs } from '../index.ts';

/*
 * The SDL's `enum EventType` and the engine's EVENT_TYPES table are the two places an event type
 * is written; this keeps them the same, so a type added to one and not the other fails here
 * rather than being refused by the API or accepted and never counted.
 */
const definition = subgraphTypeDefs('events').definitions.find(
  (node): node is EnumTypeDefinitionNode => node.kind === Kind.ENUM_TYPE_DEFINITION && node.name.value === 'EventType',
);

describe('enum EventType', () => {
  it('has exactly the event types of the engine descriptor table, in its order', () => {
    expect(definition?.values?.map((value) => value.name.value)).toEqual(EVENT_TYPE_NAMES);
  });

  it('describes every value', () => {
    for (const value of definition?.values ?? []) expect(value.description?.value.trim(), value.name.value).toBeTruthy();
  });
});
