import { BREAK, GraphQLError, type ASTVisitor, type ValidationContext } from 'graphql';

/**
 * How deep list and object literals may nest in a document. The deepest the API takes is
 * trackEvents' list of inputs, an input, and metadata (at most 5 levels, engine
 * EVENT_LIMITS.metadataMaxDepth): 7.
 */
export const MAX_LITERAL_DEPTH = 16;
/**
 * How many lists a literal may nest inside each other (objects between them count as nothing).
 * The API needs 4 at most (trackEvents' list, and metadata's arrays, which may not sit directly
 * inside arrays). Lower than MAX_LITERAL_DEPTH because each list level doubles the gateway's
 * work: @apollo/federation-internals' collectVariablesInValue (query planning, for every fetch)
 * walks an array both as an array and as an object, so a value under n lists is visited 2^n
 * times. 8 levels are at most 256 visits of each of the document's (at most 1,000) tokens.
 */
export const MAX_LITERAL_LIST_DEPTH = 8;

/**
 * Refuses a document whose list or object literals nest deeper than the limits above, anywhere
 * (arguments, input fields, variable defaults, directives): a 400 GRAPHQL_VALIDATION_FAILED
 * before the query planner sees it. Variables need no rule: the planner never walks their values.
 */
export function literalDepthRule(context: ValidationContext): ASTVisitor {
  let depth = 0;
  let lists = 0;
  const refuse = (node: never, message: string) => {
    context.reportError(new GraphQLError(message, { nodes: node }));
    // one error is enough; the rest of the document is not worth walking
    return BREAK;
  };
  return {
    ListValue: {
      enter(node) {
        depth++;
        lists++;
        if (lists > MAX_LITERAL_LIST_DEPTH) return refuse(node as never, `List literals nest more than ${MAX_LITERAL_LIST_DEPTH} levels deep`);
        if (depth > MAX_LITERAL_DEPTH) return refuse(node as never, `Literal values nest more than ${MAX_LITERAL_DEPTH} levels deep`);
        return undefined;
      },
      leave() {
        depth--;
        lists--;
      },
    },
    ObjectValue: {
      enter(node) {
        depth++;
        if (depth > MAX_LITERAL_DEPTH) return refuse(node as never, `Literal values nest more than ${MAX_LITERAL_DEPTH} levels deep`);
        return undefined;
      },
      leave() {
        depth--;
      },
    },
  };
}
