type Child = Node | string | number | null | undefined | false;
type Attribute = string | number | boolean | undefined | ((event: Event) => void);

/**
 * Creates an element: `on*` keys are listeners, booleans toggle attributes, other values are set
 * as attributes (`class`, `data-*`, `aria-*`...). Text children are text nodes, never HTML.
 */
export function h<K extends keyof HTMLElementTagNameMap>(tag: K, attributes: Record<string, Attribute> = {}, ...children: Child[]): HTMLElementTagNameMap[K] {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === undefined || value === false) continue;
    if (typeof value === 'function') element.addEventListener(name.slice(2).toLowerCase(), value);
    else element.setAttribute(name, value === true ? '' : String(value));
  }
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    element.append(typeof child === 'object' ? child : String(child));
  }
  return element;
}

export function byId<T extends HTMLElement = HTMLElement>(id: string): T {
  const element = document.getElementById(id);
  if (element === null) throw new Error(`the page has no #${id}`);
  return element as T;
}

const prices = new Map<string, Intl.NumberFormat>();
export function formatPrice(price: number | null | undefined, currency: string): string {
  if (price === null || price === undefined) return '';
  let format = prices.get(currency);
  if (format === undefined) {
    format = new Intl.NumberFormat('en-GB', { style: 'currency', currency });
    prices.set(currency, format);
  }
  return format.format(price);
}

/** A product's picture: the dataset has none, so a tile coloured by its category with the name's initials. */
export function tile(name: string, categoryId: string | undefined, large = false): HTMLElement {
  const hash = (text: string) => {
    let h = 0;
    for (const char of text) h = (h * 31 + char.charCodeAt(0)) >>> 0;
    return h;
  };
  const initials = name
    .split(/\s+/)
    .filter((word) => /^[A-Za-z]/.test(word))
    .slice(0, 2)
    .map((word) => word[0]!.toUpperCase())
    .join('');
  const element = h('div', { class: large ? 'tile large' : 'tile', 'aria-hidden': 'true' }, initials);
  // a hue per category, a shade per product
  element.style.background = `hsl(${hash(categoryId ?? name) % 360} ${40 + (hash(name) % 25)}% ${38 + (hash(name) % 17)}%)`;
  return element;
}

export const productHref = (id: string) => `#/product/${encodeURIComponent(id)}`;
