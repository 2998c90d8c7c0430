/**
 * Replaces a list's items and animates the change (FLIP): items that were not there slide in
 * (data-change="entered"), items that moved glide from their old place (data-change="up" or
 * "down"); the others keep still. Items are matched by their data-key.
 */
export function replaceAnimated(list: HTMLElement, items: readonly HTMLElement[]): void {
  const before = new Map<string, number>();
  for (const child of list.children) {
    const key = (child as HTMLElement).dataset['key'];
    if (key !== undefined) before.set(key, child.getBoundingClientRect().top);
  }
  const oldOrder = [...before.keys()];
  list.replaceChildren(...items);
  const reduced = window.matchMedia('(prefers-reduced-motion: reduce)').matches;
  items.forEach((item, index) => {
    const key = item.dataset['key']!;
    const top = before.get(key);
    if (top === undefined) {
      if (before.size > 0) {
        item.dataset['change'] = 'entered';
        if (!reduced)
          item.animate(
            [
              { opacity: 0, transform: 'translateX(1rem)' },
              { opacity: 1, transform: 'none' },
            ],
            { duration: 450, easing: 'ease-out' },
          );
      }
      return;
    }
    const oldIndex = oldOrder.indexOf(key);
    if (oldIndex !== index) item.dataset['change'] = oldIndex > index ? 'up' : 'down';
    const dy = top - item.getBoundingClientRect().top;
    if (!reduced && Math.abs(dy) > 1) item.animate([{ transform: `translateY(${dy}px)` }, { transform: 'none' }], { duration: 450, easing: 'ease-in-out' });
  });
}
