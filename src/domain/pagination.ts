// Cursor pagination in Pipeliner's form (reference §4.4–§4.5): `order-by` keys with `-` for descending,
// `first` (default 30, max 100), `last`, and cursors that are base64 of a JSON array holding the
// sort-key values and then the row id. `id` is the final tie-breaker, so every order is total.
import { isScalar, type EntityDef, type FieldType } from './catalogue.js';
import { textProblem } from './validation.js';

export const DEFAULT_PAGE_SIZE = 30;
export const MAX_PAGE_SIZE = 100;

export interface SortKey {
  readonly field: string;
  readonly type: FieldType;
  readonly descending: boolean;
}

export type CursorValue = string | number | boolean | null;

export class PaginationError extends Error {}

export function parseOrderBy(entity: EntityDef, orderBy: string | undefined): SortKey[] {
  if (!orderBy) return [];
  return orderBy
    .split(',')
    .map((part) => part.trim())
    .filter((part) => part !== '')
    .map((part) => {
      const descending = part.startsWith('-');
      const field = descending ? part.slice(1) : part;
      const definition = entity.fields[field];
      if (!definition) throw new PaginationError(`order-by: ${entity.name} has no field '${field}'.`);
      if (!isScalar(definition.type)) throw new PaginationError(`order-by: field '${field}' cannot be sorted.`);
      return { field, type: definition.type, descending };
    })
    .filter((key) => key.field !== 'id');
}

export const encodeCursor = (values: readonly CursorValue[]) =>
  Buffer.from(JSON.stringify(values), 'utf8').toString('base64');

/** Decodes a cursor made for `keys` (the sort keys, then the id). */
export function decodeCursor(cursor: string, keys: readonly SortKey[]): CursorValue[] {
  let values: unknown;
  try {
    values = JSON.parse(Buffer.from(cursor, 'base64').toString('utf8'));
  } catch {
    throw new PaginationError(`Cursor '${cursor}' is not valid; pass a start_cursor or end_cursor from page_info.`);
  }
  const valid =
    Array.isArray(values) &&
    values.length === keys.length + 1 &&
    typeof values[keys.length] === 'string' &&
    values.every((value) => value === null || ['number', 'boolean'].includes(typeof value) ||
      (typeof value === 'string' && textProblem(value) === null));
  if (!valid) {
    throw new PaginationError(
      `Cursor '${cursor}' does not fit this order-by; pass a cursor from a page listed with the same order-by.`,
    );
  }
  return values as CursorValue[];
}

export function parsePageSize(name: 'first' | 'last', raw: string | undefined): number | undefined {
  if (raw === undefined) return undefined;
  const size = Number(raw);
  if (!/^\d+$/.test(raw) || size < 1 || size > MAX_PAGE_SIZE) {
    throw new PaginationError(`'${name}' must be an integer from 1 to ${MAX_PAGE_SIZE}; got '${raw}'.`);
  }
  return size;
}

export interface PageInfo {
  start_cursor: string | null;
  end_cursor: string | null;
  has_previous_page: boolean;
  has_next_page: boolean;
}
