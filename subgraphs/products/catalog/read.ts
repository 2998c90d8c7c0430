import { readFile } from 'node:fs/promises';
import { catalogFromOnlineRetail, readCsvRows, RETAIL_COLUMNS } from './onlineRetail.ts';
import { ProductValidationError, validateProduct, type ProductInputLike, type ProductRecord } from './product.ts';

export type CatalogFormat = 'online-retail' | 'csv' | 'json';

/** Reads the first line of a (possibly gzipped) CSV to tell the Online Retail format apart. */
async function csvColumns(file: string): Promise<string[]> {
  for await (const row of readCsvRows<Record<string, string>>(file)) return Object.keys(row);
  return [];
}

export async function detectFormat(file: string): Promise<CatalogFormat> {
  if (/\.json$/i.test(file)) return 'json';
  const columns = await csvColumns(file);
  return RETAIL_COLUMNS.every((c) => columns.includes(c)) ? 'online-retail' : 'csv';
}

export class CatalogFileError extends Error {
  override readonly name = 'CatalogFileError';
}

function validateAll(inputs: readonly ProductInputLike[], where: (index: number) => string): ProductRecord[] {
  const errors: string[] = [];
  const records: ProductRecord[] = [];
  const seen = new Set<string>();
  inputs.forEach((input, index) => {
    try {
      const record = validateProduct(input);
      if (seen.has(record.id)) throw new ProductValidationError('id', `${record.id} appears more than once`);
      seen.add(record.id);
      records.push(record);
    } catch (error) {
      if (!(error instanceof ProductValidationError)) throw error;
      errors.push(`${where(index)}: ${error.message}`);
    }
  });
  if (errors.length > 0) {
    const shown = errors.slice(0, 20).join('\n  ');
    throw new CatalogFileError(`${errors.length} invalid product(s); nothing was imported:\n  ${shown}${errors.length > 20 ? '\n  ...' : ''}`);
  }
  return records;
}

/**
 * Products from a catalog file:
 * - online-retail: an Online Retail transactions CSV (optionally .gz), see catalogFromOnlineRetail;
 * - csv: a header row with ProductInput fields (id, name, categoryId, categoryName, price, currency,
 *   description, imageUrl, inStock);
 * - json: an array of ProductInput objects, or { "products": [...] }.
 * Every product is validated before any is returned.
 */
export async function readCatalog(file: string, format: CatalogFormat): Promise<ProductRecord[]> {
  if (format === 'online-retail') return catalogFromOnlineRetail(file);
  if (format === 'json') {
    let parsed: unknown;
    try {
      parsed = JSON.parse(await readFile(file, 'utf8'));
    } catch (error) {
      throw new CatalogFileError(`${file} is not valid JSON: ${(error as Error).message}`);
    }
    const list = Array.isArray(parsed) ? parsed : (parsed as { products?: unknown }).products;
    if (!Array.isArray(list)) throw new CatalogFileError(`${file} must hold an array of products or { "products": [...] }`);
    return validateAll(list as ProductInputLike[], (i) => `products[${i}]`);
  }
  const rows: ProductInputLike[] = [];
  for await (const row of readCsvRows<Record<string, string>>(file)) {
    const price = row['price']?.trim();
    const inStock = row['inStock']?.trim().toLowerCase();
    rows.push({
      ...row,
      ...(price === undefined || price === '' ? { price: undefined } : { price: Number(price) }),
      ...(inStock === undefined || inStock === '' ? { inStock: undefined } : { inStock: inStock === 'true' || inStock === '1' || inStock === 'yes' }),
    });
  }
  return validateAll(rows, (i) => `line ${i + 2}`);
}
