import { GraphQLError, type ASTVisitor, type ValidationContext } from 'graphql';

/**
 * Refuses number literals too large for a double (`1e400`): graphql-js's Float accepts them as
 * Infinity, which nothing downstream can represent (the gateway fails building the subgraph
 * request, a 500). A validation error is a 400 GRAPHQL_VALIDATION_FAILED. Variables need no rule:
 * Float's parseValue already refuses Infinity.
 */
export function finiteNumbersRule(context: ValidationContext): ASTVisitor {
  const check = (node: { value: string; loc?: unknown }) => {
    if (!Number.isFinite(Number(node.value))) {
      context.reportError(new GraphQLError(`Number ${node.value} is out of range`, { nodes: node as never }));
    }
  };
  return { FloatValue: check, IntValue: check };
}
