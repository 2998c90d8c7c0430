/** What the page knows to name the products and categories a reason points at. */
export interface Names {
  product(id: string): string | undefined;
  category(id: string): string | undefined;
}

/** Product ids the reasons point at (ALSO_BOUGHT:<id>, ALSO_VIEWED:<id>), to fetch their names. */
export function reasonProductIds(reasons: readonly string[]): string[] {
  const ids: string[] = [];
  for (const reason of reasons) {
    const colon = reason.indexOf(':');
    const kind = colon < 0 ? reason : reason.slice(0, colon);
    if ((kind === 'ALSO_BOUGHT' || kind === 'ALSO_VIEWED') && colon > 0) ids.push(reason.slice(colon + 1));
  }
  return ids;
}

/**
 * A recommendation's reasons in words, strongest first, at most `max`: "You bought this before",
 * "Bought with Blue teapot", "Viewed with …", "Popular in Kitchen", "Popular right now". A reason
 * whose product or category has no name (yet) says so generically; unknown kinds are left out.
 */
export function reasonsInWords(reasons: readonly string[], names: Names, max = 2): string[] {
  const words: string[] = [];
  for (const reason of reasons) {
    const colon = reason.indexOf(':');
    const kind = colon < 0 ? reason : reason.slice(0, colon);
    const target = colon < 0 ? '' : reason.slice(colon + 1);
    let text: string | undefined;
    switch (kind) {
      case 'BUY_AGAIN':
        text = 'You bought this before';
        break;
      case 'ALSO_BOUGHT':
        text = `Bought with ${names.product(target) ?? 'something you bought'}`;
        break;
      case 'ALSO_VIEWED':
        text = `Viewed with ${names.product(target) ?? 'something you viewed'}`;
        break;
      case 'TOP_IN_CATEGORY':
        text = `Popular in ${names.category(target) ?? 'a category you like'}`;
        break;
      case 'POPULAR':
        text = 'Popular right now';
        break;
    }
    if (text !== undefined && !words.includes(text)) words.push(text);
    if (words.length === max) break;
  }
  return words;
}
