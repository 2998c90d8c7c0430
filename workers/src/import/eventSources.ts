/**
 * The rows of a backfill file as event inputs, in file order, each with its line number: the
 * Online Retail export (its purchases, read by the evaluator's parser), NDJSON or CSV of
 * TrackEventInput fields (docs/events-format.md). Ids come from the rows, never from their
 * times, so a re-import (shifted or not) finds the same ids: an Online Retail purchase is
 * `or-{InvoiceNo}-{StockCode}-{n}` (its n-th purchase line in the invoice); an NDJSON/CSV row
 * without an eventId gets `h-{hash of the row's text}`.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { createGunzip } from 'node:zlib';
import type { EventInput } from '@recs/engine';
import { readPurchaseLines } from '@recs/evaluation';
import { readCsvRows } from '@recs/products/catalog';

export const EVENT_FORMATS = ['online-retail', 'ndjson', 'csv'] as const;
export type EventFormat = (typeof EVENT_FORMATS)[number];

/** Why a row is not an event before validation: the engine's codes cover the rest. */
export type RowErrorCode = 'INVALID_JSON' | 'INVALID_ROW' | 'INVALID_TIMESTAMP' | 'INVALID_NUMBER' | 'INVALID_METADATA';

export type SourceRow =
  | { readonly line: number; readonly input: EventInput & { readonly eventId: string } }
  | { readonly line: number; readonly error: { readonly code: RowErrorCode; readonly message: string } };

/** The format a file's name suggests: .ndjson/.jsonl, Online Retail for the shipped .csv.gz, else csv. */
export function guessFormat(file: string): EventFormat {
  if (/\.(ndjson|jsonl)(\.gz)?$/i.test(file)) return 'ndjson';
  if (/online-retail/i.test(file)) return 'online-retail';
  return 'csv';
}

const hashId = (text: string) => `h-${createHash('sha256').update(text).digest('hex').slice(0, 24)}`;

async function* onlineRetail(file: string): AsyncGenerator<SourceRow> {
  // purchase lines per invoice so far: the n in the id
  const positions = new Map<string, number>();
  for await (const purchase of readPurchaseLines(file)) {
    const n = (positions.get(purchase.invoiceNo) ?? 0) + 1;
    positions.set(purchase.invoiceNo, n);
    if (Number.isNaN(purchase.at)) {
      yield { line: purchase.line, error: { code: 'INVALID_TIMESTAMP', message: 'InvoiceDate is not YYYY-MM-DD HH:MM:SS' } };
      continue;
    }
    yield {
      line: purchase.line,
      input: {
        eventId: `or-${purchase.invoiceNo}-${purchase.stockCode}-${n}`,
        userId: purchase.customerId,
        productId: purchase.stockCode,
        type: 'PURCHASE',
        occurredAt: purchase.at,
        quantity: purchase.quantity,
        ...(Number.isFinite(purchase.price) ? { price: purchase.price } : {}),
      },
    };
  }
}

function lines(file: string): AsyncIterable<string> {
  const input = createReadStream(file);
  return createInterface({ input: file.endsWith('.gz') ? input.pipe(createGunzip()) : input, crlfDelay: Number.POSITIVE_INFINITY });
}

/** A row's fields as an event input; the engine validates the values. */
function toInput(row: Record<string, unknown>, text: string): EventInput & { eventId: string } {
  const eventId = typeof row['eventId'] === 'string' && row['eventId'] !== '' ? row['eventId'] : hashId(text);
  return {
    eventId,
    userId: row['userId'] as string,
    productId: row['productId'] as string,
    type: row['type'] as string,
    occurredAt: (row['occurredAt'] as EventInput['occurredAt']) ?? null,
    sessionId: (row['sessionId'] as string | null | undefined) ?? null,
    quantity: (row['quantity'] as number | null | undefined) ?? null,
    price: (row['price'] as number | null | undefined) ?? null,
    metadata: row['metadata'],
  };
}

async function* ndjson(file: string): AsyncGenerator<SourceRow> {
  let line = 0;
  for await (const text of lines(file)) {
    line++;
    if (text.trim() === '') continue;
    let row: unknown;
    try {
      row = JSON.parse(text);
    } catch (error) {
      yield { line, error: { code: 'INVALID_JSON', message: (error as Error).message } };
      continue;
    }
    if (typeof row !== 'object' || row === null || Array.isArray(row)) {
      yield { line, error: { code: 'INVALID_ROW', message: 'a line must be a JSON object' } };
      continue;
    }
    yield { line, input: toInput(row as Record<string, unknown>, text) };
  }
}

const number = (text: string | undefined) => (text === undefined || text.trim() === '' ? undefined : Number(text));

async function* csv(file: string): AsyncGenerator<SourceRow> {
  let line = 1;
  for await (const row of readCsvRows<Record<string, string | undefined>>(file)) {
    line++;
    const quantity = number(row['quantity']);
    const price = number(row['price']);
    if ((quantity !== undefined && Number.isNaN(quantity)) || (price !== undefined && Number.isNaN(price))) {
      yield { line, error: { code: 'INVALID_NUMBER', message: 'quantity and price must be numbers' } };
      continue;
    }
    let metadata: unknown;
    if (row['metadata'] !== undefined && row['metadata'].trim() !== '') {
      try {
        metadata = JSON.parse(row['metadata']);
      } catch (error) {
        yield { line, error: { code: 'INVALID_METADATA', message: `metadata is not JSON: ${(error as Error).message}` } };
        continue;
      }
    }
    const blank = (value: string | undefined) => (value === undefined || value === '' ? undefined : value);
    yield {
      line,
      input: toInput(
        { ...row, sessionId: blank(row['sessionId']), occurredAt: blank(row['occurredAt']), quantity, price, metadata },
        Object.values(row).join('\u0000'),
      ),
    };
  }
}

export function readEventRows(file: string, format: EventFormat): AsyncIterable<SourceRow> {
  return format === 'online-retail' ? onlineRetail(file) : format === 'ndjson' ? ndjson(file) : csv(file);
}
