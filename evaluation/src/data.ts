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

/** One purchase line of an Online Retail file, as the evaluation protocol reads it. */
export interface PurchaseLine {
  /** The row's line in the file (the header is line 1). */
  readonly line: number;
  readonly invoiceNo: string;
  readonly stockCode: string;
  /** CustomerID without the `.0` some exports add. */
  readonly customerId: string;
  /** InvoiceDate read as UTC, epoch ms; NaN when malformed (the caller decides what that means). */
  readonly at: number;
  readonly quantity: number;
  /** UnitPrice; NaN when not a number. */
  readonly price: number;
}

/**
 * The evaluation protocol's purchase lines, in file order: a row with a CustomerID, an InvoiceNo
 * not starting with `C`, Quantity > 0 and a StockCode starting with five digits. `onRow` is told
 * of every row read (purchase or not), for counts and progress.
 */
export async function* readPurchaseLines(file: string, onRow?: (rows: number) => void): AsyncGenerator<PurchaseLine> {
  if (!existsSync(file)) throw new DataFileError(`${file} does not exist (pass --data FILE: an Online Retail CSV, optionally .gz)`);
  let rows = 0;
  for await (const row of readCsvRows<RetailRow>(file)) {
    if (rows === 0) {
      const missing = RETAIL_COLUMNS.filter((column) => !(column in row));
      if (missing.length > 0) throw new DataFileError(`${file} is not an Online Retail CSV: no ${missing.join(', ')} column`);
    }
    rows++;
    onRow?.(rows);
    const customer = row.CustomerID.trim();
    if (customer === '' || !isProductPurchase(row)) continue;
    yield {
      line: rows + 1,
      invoiceNo: row.InvoiceNo,
      stockCode: row.StockCode,
      customerId: customer.replace(/\.0+$/, ''),
      at: parseDate(row.InvoiceDate),
      quantity: Number(row.Quantity),
      price: Number(row.UnitPrice),
    };
  }
}

/**
 * The evaluation protocol's purchases (readPurchaseLines) grouped by invoice: an invoice is the
 * set of its distinct products. Invoices come back in time order (ties by invoice number).
 */
export async function readInvoices(file: string): Promise<{ invoices: Invoice[]; rows: number; purchases: number }> {
  const byNumber = new Map<string, { customerId: string; at: number; products: string[]; seen: Set<string>; lines: [string, number, number][] }>();
  let rows = 0;
  let purchases = 0;
  for await (const line of readPurchaseLines(file, (read) => (rows = read))) {
    if (Number.isNaN(line.at)) throw new DataFileError(`${file} row ${line.line}: InvoiceDate is not YYYY-MM-DD HH:MM:SS`);
    purchases++;
    let invoice = byNumber.get(line.invoiceNo);
    if (invoice === undefined) byNumber.set(line.invoiceNo, (invoice = { customerId: line.customerId, at: line.at, products: [], seen: new Set(), lines: [] }));
    if (!invoice.seen.has(line.stockCode)) {
      invoice.seen.add(line.stockCode);
      invoice.products.push(line.stockCode);
    }
    invoice.lines.push([line.stockCode, line.quantity, Number.isFinite(line.price) ? line.price : 0]);
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
