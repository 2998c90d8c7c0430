import { isValidId } from '@recs/engine';

/** A catalog product as validated input (the shape of ProductInput). */
export interface ProductRecord {
  readonly id: string;
  readonly name: string;
  readonly categoryId?: string;
  readonly categoryName?: string;
  readonly price?: number;
  readonly currency: string;
  readonly description?: string;
  readonly imageUrl?: string;
  readonly inStock: boolean;
  readonly attributes?: Readonly<Record<string, unknown>>;
}

export const PRODUCT_LIMITS = {
  batch: 1_000,
  nameLength: 500,
  descriptionLength: 10_000,
  urlLength: 2_048,
  attributesBytes: 8_192,
  maxPrice: 10_000_000,
} as const;

export interface ProductInputLike {
  readonly id?: unknown;
  readonly name?: unknown;
  readonly categoryId?: unknown;
  readonly categoryName?: unknown;
  readonly price?: unknown;
  readonly currency?: unknown;
  readonly description?: unknown;
  readonly imageUrl?: unknown;
  readonly inStock?: unknown;
  readonly attributes?: unknown;
}

export class ProductValidationError extends Error {
  override readonly name = 'ProductValidationError';
  readonly field: string;
  constructor(field: string, message: string) {
    super(`${field}: ${message}`);
    this.field = field;
  }
}

function optionalString(value: unknown, field: string, max: number): string | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string') throw new ProductValidationError(field, 'must be a string');
  const trimmed = value.trim();
  if (trimmed.length > max) throw new ProductValidationError(field, `must be at most ${max} characters`);
  return trimmed === '' ? undefined : trimmed;
}

/** Validates one product; throws ProductValidationError naming the field. */
export function validateProduct(input: ProductInputLike): ProductRecord {
  if (!isValidId(input.id)) throw new ProductValidationError('id', 'must be 1-128 printable characters');
  const name = optionalString(input.name, 'name', PRODUCT_LIMITS.nameLength);
  if (name === undefined) throw new ProductValidationError('name', 'is required');
  let categoryId: string | undefined;
  if (input.categoryId !== undefined && input.categoryId !== null) {
    if (!isValidId(input.categoryId)) throw new ProductValidationError('categoryId', 'must be 1-128 printable characters');
    categoryId = input.categoryId;
  }
  const categoryName = optionalString(input.categoryName, 'categoryName', 200);
  let price: number | undefined;
  if (input.price !== undefined && input.price !== null) {
    if (typeof input.price !== 'number' || !Number.isFinite(input.price) || input.price < 0 || input.price > PRODUCT_LIMITS.maxPrice) {
      throw new ProductValidationError('price', `must be a number from 0 to ${PRODUCT_LIMITS.maxPrice}`);
    }
    price = input.price;
  }
  const currency = optionalString(input.currency, 'currency', 3) ?? 'GBP';
  if (!/^[A-Z]{3}$/.test(currency)) throw new ProductValidationError('currency', 'must be an ISO-4217 code such as GBP');
  const description = optionalString(input.description, 'description', PRODUCT_LIMITS.descriptionLength);
  const imageUrl = optionalString(input.imageUrl, 'imageUrl', PRODUCT_LIMITS.urlLength);
  if (imageUrl !== undefined && !/^https?:\/\/\S+$/.test(imageUrl)) throw new ProductValidationError('imageUrl', 'must be an http(s) URL');
  if (input.inStock !== undefined && input.inStock !== null && typeof input.inStock !== 'boolean') {
    throw new ProductValidationError('inStock', 'must be true or false');
  }
  let attributes: Record<string, unknown> | undefined;
  if (input.attributes !== undefined && input.attributes !== null) {
    if (typeof input.attributes !== 'object' || Array.isArray(input.attributes)) {
      throw new ProductValidationError('attributes', 'must be a JSON object');
    }
    if (Buffer.byteLength(JSON.stringify(input.attributes)) > PRODUCT_LIMITS.attributesBytes) {
      throw new ProductValidationError('attributes', `must be at most ${PRODUCT_LIMITS.attributesBytes} bytes of JSON`);
    }
    attributes = input.attributes as Record<string, unknown>;
  }
  return {
    id: input.id,
    name,
    currency,
    inStock: input.inStock ?? true,
    ...(categoryId === undefined ? {} : { categoryId }),
    ...(categoryName === undefined ? {} : { categoryName }),
    ...(price === undefined ? {} : { price }),
    ...(description === undefined ? {} : { description }),
    ...(imageUrl === undefined ? {} : { imageUrl }),
    ...(attributes === undefined ? {} : { attributes }),
  };
}
