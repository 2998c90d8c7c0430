import { createReadStream } from 'node:fs';
import { createGunzip } from 'node:zlib';
import { parse } from 'csv-parse';
import { categoryForName } from './categories.ts';
import type { ProductRecord } from './product.ts';

/** One row of the Online Retail CSV. */
export interface RetailRow {
  readonly InvoiceNo: string;
  readonly StockCode: string;
  readonly Description: string;
  readonly Quantity: string;
  readonly InvoiceDate: string;
  readonly UnitPrice: string;
  readonly CustomerID: string;
  readonly Country: string;
}

export const RETAIL_COLUMNS = ['InvoiceNo', 'StockCode', 'Description', 'Quantity', 'InvoiceDate', 'UnitPrice', 'CustomerID', 'Country'];

/** Rows of a CSV file, gzip-compressed when the name ends in .gz. */
export function readCsvRows<Row>(file: string): AsyncIterable<Row> {
  const input = createReadStream(file);
  const source = file.endsWith('.gz') ? input.pipe(createGunzip()) : input;
  return source.pipe(parse({ columns: true, skip_empty_lines: true, trim: false, relax_column_count: true }));
}

/**
 * A purchase line of a real product: not a cancellation (InvoiceNo starting with C), a positive
 * quantity, and a StockCode that starts with five digits (POST, M, DOT, BANK CHARGES... are fees).
 */
export function isProductPurchase(row: RetailRow): boolean {
  return !row.InvoiceNo.startsWith('C') && Number(row.Quantity) > 0 && /^\d{5}/.test(row.StockCode);
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/**
 * The catalog in an Online Retail file: every product purchased at least once, named by its
 * most frequent description, priced at the median unit price paid (GBP), categorized by name.
 */
export async function catalogFromOnlineRetail(file: string): Promise<ProductRecord[]> {
  const products = new Map<string, { names: Map<string, number>; prices: number[] }>();
  for await (const row of readCsvRows<RetailRow>(file)) {
    if (!isProductPurchase(row)) continue;
    let product = products.get(row.StockCode);
    if (product === undefined) products.set(row.StockCode, (product = { names: new Map(), prices: [] }));
    const name = row.Description.trim();
    if (name !== '') product.names.set(name, (product.names.get(name) ?? 0) + 1);
    const price = Number(row.UnitPrice);
    if (Number.isFinite(price) && price > 0) product.prices.push(price);
  }
  const records: ProductRecord[] = [];
  for (const [id, { names, prices }] of products) {
    let name = id;
    let best = 0;
    for (const [candidate, count] of names) {
      if (count > best) {
        name = candidate;
        best = count;
      }
    }
    const category = categoryForName(name);
    records.push({
      id,
      name,
      categoryId: category.id,
      categoryName: category.name,
      ...(prices.length === 0 ? {} : { price: Math.round(median(prices) * 100) / 100 }),
      currency: 'GBP',
      inStock: true,
      attributes: { source: 'UCI Online Retail (CC BY 4.0)' },
    });
  }
  return records.sort((a, b) => (a.id < b.id ? -1 : 1));
}
