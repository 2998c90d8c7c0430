import { liveFieldOf, type AnyLiveField } from '@recs/shared';
import { withMarker } from './resume.ts';
import {
  getArgumentValues,
  getOperationAST,
  GraphQLError,
  Kind,
  print,
  visit,
  type DocumentNode,
  type FieldNode,
  type FragmentDefinitionNode,
  type GraphQLSchema,
  type SelectionSetNode,
} from 'graphql';

/*
 * Each subscription field has a query "twin" with the same arguments and return type that reads
 * the stream's current value (LIVE_FIELDS names it). A change message makes the gateway run the
 * subscriber's own selection set on the twin, through the normal federated query plan, so
 * subscribers select fields of every subgraph, with their variables, fragments and aliases.
 */

export interface LiveOperation {
  /** The subscription field, e.g. recommendationsChanged. */
  readonly field: string;
  /** Its entry in LIVE_FIELDS. */
  readonly descriptor: AnyLiveField;
  /** Its arguments, with variables and defaults applied. */
  readonly args: Readonly<Record<string, unknown>>;
  /** The stream the arguments select (e.g. `{ userId }`), its ids checked. */
  readonly stream: object;
  /** The query that produces one result for this subscriber. */
  readonly query: DocumentNode;
  readonly variables: Readonly<Record<string, unknown>>;
  /** Subscribers with the same key get the same result: it is computed once per change. */
  readonly key: string;
  /**
   * The marker the subscriber resumes from (its resume argument, see LiveResume), and the query
   * that reads the current value with its marker (under RESUME_MARKER_KEY, which the hub removes
   * before delivery); undefined when the subscriber did not ask to resume.
   */
  readonly resume: { readonly since: number; readonly query: DocumentNode; readonly responseKey: string } | undefined;
  /**
   * The twin query that also reads the value's marker (under RESUME_MARKER_KEY, removed before
   * delivery): what a change's hydration runs, so a read older than the change announced (a
   * cache or a replica that has not caught up yet) is told apart and not delivered.
   */
  readonly marked: { readonly query: DocumentNode; readonly responseKey: string };
}

function stableJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map(stableJson).join(',')}]`;
  const entries = Object.entries(value as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : 1));
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${stableJson(v)}`).join(',')}}`;
}

/** The root field of a subscription, looking through fragments on the Subscription type. */
function rootField(selectionSet: SelectionSetNode, fragments: ReadonlyMap<string, FragmentDefinitionNode>): FieldNode[] {
  const fields: FieldNode[] = [];
  for (const selection of selectionSet.selections) {
    if (selection.kind === Kind.FIELD) {
      if (selection.name.value !== '__typename') fields.push(selection);
    } else if (selection.kind === Kind.INLINE_FRAGMENT) {
      fields.push(...rootField(selection.selectionSet, fragments));
    } else {
      const fragment = fragments.get(selection.name.value);
      if (fragment !== undefined) fields.push(...rootField(fragment.selectionSet, fragments));
    }
  }
  return fields;
}

/** Turns a validated subscription into its live operation, or explains why it cannot be served. */
export function liveOperation(
  schema: GraphQLSchema,
  document: DocumentNode,
  operationName: string | null | undefined,
  variables: Readonly<Record<string, unknown>> = {},
): LiveOperation {
  const operation = getOperationAST(document, operationName);
  if (operation == null || operation.operation !== 'subscription') throw new GraphQLError('Not a subscription operation');
  const fragments = new Map<string, FragmentDefinitionNode>();
  for (const definition of document.definitions) {
    if (definition.kind === Kind.FRAGMENT_DEFINITION) fragments.set(definition.name.value, definition);
  }
  const fields = rootField(operation.selectionSet, fragments);
  const field = fields[0];
  if (field === undefined || fields.length > 1) throw new GraphQLError('A subscription must select exactly one field');
  const name = field.name.value;
  const descriptor = liveFieldOf(name);
  const definition = schema.getSubscriptionType()?.getFields()[name];
  if (descriptor === undefined || definition === undefined) throw new GraphQLError(`Subscription field ${name} is not served`);
  const args = getArgumentValues(definition, field, variables as Record<string, unknown>);
  // a bad id is refused here, before it names a channel or a hub entry
  const stream = descriptor.stream(args);

  const since = descriptor.resume.since(args[descriptor.resume.argument]);

  // the twin has no resume argument: it goes, and so do the variables only it used (the key then
  // groups resuming subscribers with the others of the same selection)
  const responseKey = field.alias ?? { kind: Kind.NAME, value: name };
  const twinField: FieldNode = {
    ...field,
    name: { kind: Kind.NAME, value: descriptor.twin },
    alias: responseKey,
    arguments: (field.arguments ?? []).filter((argument) => argument.name.value !== descriptor.resume.argument),
  };
  const subscriptionType = schema.getSubscriptionType()!.name;
  const otherFragments = [...fragments.values()].filter((fragment) => fragment.typeCondition.name.value !== subscriptionType);
  const build = (root: FieldNode, keep: ReadonlySet<string> | undefined): DocumentNode => ({
    kind: Kind.DOCUMENT,
    definitions: [
      {
        kind: Kind.OPERATION_DEFINITION,
        operation: 'query' as never,
        ...(operation.name === undefined ? {} : { name: operation.name }),
        variableDefinitions: (operation.variableDefinitions ?? []).filter((definition) => keep === undefined || keep.has(definition.variable.name.value)),
        directives: [],
        selectionSet: { kind: Kind.SELECTION_SET, selections: [root] },
      },
      ...otherFragments,
    ],
  });
  const used = usedVariables(build(twinField, undefined));
  const query = build(twinField, used);
  const twinVariables = Object.fromEntries(Object.entries(variables).filter(([variable]) => used.has(variable)));
  const marked = { responseKey: responseKey.value, query: build(withMarker(twinField, descriptor.resume.field), used) };
  const resume = since === undefined ? undefined : { since, ...marked };
  return { field: name, descriptor, args, stream, query, marked, variables: twinVariables, key: `${print(query)}\n${stableJson(twinVariables)}`, resume };
}

/** The variables a document's selections and directives use (not those it only defines). */
function usedVariables(document: DocumentNode): Set<string> {
  const used = new Set<string>();
  visit(document, {
    VariableDefinition: () => false,
    Variable: (node) => {
      used.add(node.name.value);
    },
  });
  return used;
}
