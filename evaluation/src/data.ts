import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { catalogFromOnlineRetail, isProductPurchase, readCsvRows, RETAIL_COLUMNS, type RetailRow } from '@recs/products/catalog';
import { MemoryCatalog } from '@recs/engine';

const projectRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const DATA_NAME = 'online-retail/online-retail-2010-12-to-2011-10.csv.gz';

/** The Online Retail file the project ships (data/online-retail), or a checkout's shared copy. */
export function defaultDataFile(): string {
  const candidates = [join(projectRoot, 'data', DATA_NAME), join(projectRoot, '..', 'shared', 'data', DATA_NAME)];
  return candidates.find((file) => existsSync(file)) ?? candidates[0]!;
}

/** The distinct products one customer bought in one invoice. */
export interface Invoice {
  readonly invoiceNo: string;
  readonly customerId: string;
  /** InvoiceDate read as UTC, epoch ms. */
  readonly at: number;
  /** Distinct products, in the order of their first line. */
  readonly products: readonly string[];
  /** Every purchase line: [productId, quantity, unit price]. */
  readonly lines: readonly (readonly [string, number, number])[];
}

export class DataFileError extends Error {
  override readonly name = 'DataFileError';
}

/** `YYYY-MM-DD HH:MM:SS` (or `YYYY-MM-DD`) as UTC epoch ms; NaN when malformed. */
export function parseDate(text: string): number {
  const match = /^(\d{4})-(\d{2})-(\d{2})(?:[ T](\d{2}):(\d{2})(?::(\d{2}))?)?$/.exec(text.trim());
  if (match === null) return Number.NaN;
  const [, y, mo, d, h = '0', mi = '0', s = '0'] = match;
  const ms = Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s));
  return new Date(ms).getUTCDate() === Number(d) ? ms : Number.NaN;
}

/**
 * The evaluation protocol's purchases: a row with a CustomerID, an InvoiceNo not starting with
 * `C`, Quantity > 0 and a StockCode starting with five digits. An invoice is the set of its
 * distinct products. Invoices come back in time order (ties by invoice number).
 */
export async function readInvoices(file: string): Promise<{ invoices: Invoice[]; rows: number; purchases: number }> {
  if (!existsSync(file)) throw new DataFileError(`${file} does not exist (pass --data FILE: an Online Retail CSV, optionally .gz)`);
  const byNumber = new Map<string, { customerId: string; at: number; products: string[]; seen: Set<string>; lines: [string, number, number][] }>();
  let rows = 0;
  let purchases = 0;
  for await (const row of readCsvRows<RetailRow>(file)) {
    if (rows === 0) {
      const missing = RETAIL_COLUMNS.filter((column) => !(column in row));
      if (missing.length > 0) throw new DataFileError(`${file} is not an Online Retail CSV: no ${missing.join(', ')} column`);
    }
    rows++;
    const customer = row.CustomerID.trim();
    if (customer === '' || !isProductPurchase(row)) continue;
    const at = parseDate(row.InvoiceDate);
    if (Number.isNaN(at)) throw new DataFileError(`${file} row ${rows + 1}: InvoiceDate ${JSON.stringify(row.InvoiceDate)} is not YYYY-MM-DD HH:MM:SS`);
    purchases++;
    const customerId = customer.replace(/\.0+$/, '');
    let invoice = byNumber.get(row.InvoiceNo);
    if (invoice === undefined) byNumber.set(row.InvoiceNo, (invoice = { customerId, at, products: [], seen: new Set(), lines: [] }));
    if (!invoice.seen.has(row.StockCode)) {
      invoice.seen.add(row.StockCode);
      invoice.products.push(row.StockCode);
    }
    const price = Number(row.UnitPrice);
    invoice.lines.push([row.StockCode, Number(row.Quantity), Number.isFinite(price) ? price : 0]);
  }
  const invoices: Invoice[] = [...byNumber].map(([invoiceNo, { customerId, at, products, lines }]) => ({ invoiceNo, customerId, at, products, lines }));
  invoices.sort((a, b) => a.at - b.at || (a.invoiceNo < b.invoiceNo ? -1 : a.invoiceNo > b.invoiceNo ? 1 : 0));
  return { invoices, rows, purchases };
}

/** The catalog as `npm run import-catalog` builds it from the same file, for the engine. */
export async function readCatalog(file: string): Promise<{ catalog: MemoryCatalog; names: Map<string, string> }> {
  const records = await catalogFromOnlineRetail(file);
  const catalog = new MemoryCatalog(
    records.map((record) => [record.id, { ...(record.categoryId === undefined ? {} : { categoryId: record.categoryId }), inStock: record.inStock }] as const),
  );
  return { catalog, names: new Map(records.map((record) => [record.id, record.name])) };
}
