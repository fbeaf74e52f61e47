// `filter` / `filter-op` (reference §4.2): parsing into typed conditions, and the in-memory evaluator.
// The SQL compiler (store/sql-filter.ts) implements the very same semantics; a property test holds
// the two together. Rules that both follow:
// - several fields combine with AND; several values of one field mean "any of" (none-of for not-*);
// - `not-eq` / `not-ieq` match records where the field is null;
// - case-insensitive operators fold ASCII letters only (what SQLite's lower() does);
// - text orders by code point (SQLite BINARY, PostgreSQL COLLATE "C").
import { isScalar, type EntityDef, type FieldType } from './catalogue.js';
import { parseDate, parseDateTime } from './dates.js';
import { textProblem } from './validation.js';

export const filterOperators = [
  'eq', 'ieq', 'not-eq', 'not-ieq',
  'contains', 'starts', 'ends', 'icontains', 'istarts', 'iends',
  'null', 'not-null', 'empty', 'not-empty',
  'gt', 'gte', 'lt', 'lte', 'between',
] as const;
export type FilterOperator = (typeof filterOperators)[number];

export type FilterValue = string | number | boolean;

export interface FilterCondition {
  readonly field: string;
  readonly type: FieldType;
  readonly operator: FilterOperator;
  readonly values: readonly FilterValue[];
}

const textOnlyOperators = new Set<FilterOperator>([
  'ieq', 'not-ieq', 'contains', 'starts', 'ends', 'icontains', 'istarts', 'iends',
]);
const orderingOperators = new Set<FilterOperator>(['gt', 'gte', 'lt', 'lte', 'between']);
const valuelessOperators = new Set<FilterOperator>(['null', 'not-null', 'empty', 'not-empty']);

export const isFilterOperator = (value: unknown): value is FilterOperator =>
  typeof value === 'string' && (filterOperators as readonly string[]).includes(value);

/** Thrown for a filter the user must fix; callers turn it into a 400 (query) or a 422 (webhook options). */
export class FilterError extends Error {}

/**
 * Builds typed conditions from `filter` (field → value or values) and `filter-op` (field → operator).
 * `splitCommas` is true for query strings, where `a,b` means any of a and b.
 */
export function buildFilter(
  entity: EntityDef,
  filter: Readonly<Record<string, unknown>>,
  operators: Readonly<Record<string, unknown>> = {},
  splitCommas = false,
): FilterCondition[] {
  for (const field of Object.keys(operators)) {
    if (!(field in filter) && !valuelessOperators.has(operators[field] as FilterOperator)) {
      throw new FilterError(`filter-op[${field}] is given but filter[${field}] is not.`);
    }
  }
  const fields = new Set([...Object.keys(filter), ...Object.keys(operators)]);
  return [...fields].map((field) => {
    const definition = entity.fields[field];
    if (!definition) throw new FilterError(`${entity.name} has no field '${field}' to filter on.`);
    if (!isScalar(definition.type)) {
      throw new FilterError(`Field '${field}' of ${entity.name} is a list or an object and cannot be filtered.`);
    }
    const operator = operators[field] ?? 'eq';
    if (!isFilterOperator(operator)) {
      throw new FilterError(`'${String(operator)}' is not a filter operator; use one of ${filterOperators.join(', ')}.`);
    }
    if (textOnlyOperators.has(operator) && !isTextType(definition.type)) {
      throw new FilterError(`Operator '${operator}' applies to text fields; '${field}' is ${definition.type}.`);
    }
    if (orderingOperators.has(operator) && definition.type === 'boolean') {
      throw new FilterError(`Operator '${operator}' does not apply to the boolean field '${field}'.`);
    }
    const values = valuelessOperators.has(operator)
      ? []
      : rawValues(filter[field], splitCommas).map((raw) => convertValue(field, definition.type, raw));
    checkArity(field, operator, values.length);
    return { field, type: definition.type, operator, values };
  });
}

const isTextType = (type: FieldType) =>
  type === 'string' || type === 'text' || type === 'uuid' || type === 'date' || type === 'datetime';

function rawValues(raw: unknown, splitCommas: boolean): unknown[] {
  if (Array.isArray(raw)) return raw;
  if (splitCommas && typeof raw === 'string') return raw.split(',');
  return [raw];
}

function checkArity(field: string, operator: FilterOperator, count: number) {
  if (valuelessOperators.has(operator)) return;
  if (operator === 'between' && count !== 2) {
    throw new FilterError(`Operator 'between' on '${field}' needs two values, e.g. filter[${field}]=1,10.`);
  }
  if (['gt', 'gte', 'lt', 'lte'].includes(operator) && count !== 1) {
    throw new FilterError(`Operator '${operator}' on '${field}' needs exactly one value.`);
  }
  if (count === 0) throw new FilterError(`filter[${field}] needs at least one value.`);
}

function convertValue(field: string, type: FieldType, raw: unknown): FilterValue {
  const fail = (): never => {
    throw new FilterError(`Value ${JSON.stringify(raw)} of filter[${field}] is not a valid ${type}.`);
  };
  const problem = typeof raw === 'string' ? textProblem(raw) : null;
  if (problem) throw new FilterError(`Value of filter[${field}] contains ${problem}.`);
  switch (type) {
    case 'integer':
    case 'float': {
      const value = typeof raw === 'string' && raw.trim() !== '' ? Number(raw) : raw;
      if (typeof value !== 'number' || !Number.isFinite(value)) return fail();
      if (type === 'integer' && !Number.isInteger(value)) return fail();
      return value;
    }
    case 'boolean':
      if (raw === true || raw === 'true' || raw === 1 || raw === '1') return true;
      if (raw === false || raw === 'false' || raw === 0 || raw === '0') return false;
      return fail();
    case 'date':
      return (typeof raw === 'string' && parseDate(raw)) || fail();
    case 'datetime':
      return (typeof raw === 'string' && parseDateTime(raw)) || fail();
    case 'uuid':
      return typeof raw === 'string' ? raw.toLowerCase() : fail();
    default:
      if (typeof raw === 'string') return raw;
      if (typeof raw === 'number' || typeof raw === 'boolean') return String(raw);
      return fail();
  }
}

/** ASCII-only case folding: the same as SQLite's lower() and PostgreSQL's lower() under COLLATE "C". */
export const foldCase = (text: string) => text.replace(/[A-Z]/g, (letter) => letter.toLowerCase());

/** Code-point order, which is UTF-8 byte order: SQLite BINARY and PostgreSQL COLLATE "C" agree. */
export function compareValues(left: FilterValue, right: FilterValue): number {
  if (typeof left === 'number' && typeof right === 'number') return left < right ? -1 : left > right ? 1 : 0;
  const a = [...String(left)];
  const b = [...String(right)];
  for (let index = 0; index < Math.min(a.length, b.length); index++) {
    const difference = a[index].codePointAt(0)! - b[index].codePointAt(0)!;
    if (difference !== 0) return difference;
  }
  return a.length - b.length;
}

export function matchesCondition(record: Readonly<Record<string, unknown>>, condition: FilterCondition): boolean {
  const raw = record[condition.field];
  const value = raw === undefined || raw === null ? null : (raw as FilterValue);
  const { operator, values } = condition;
  const text = value === null ? null : String(value);
  const some = (test: (candidate: FilterValue) => boolean) => values.some(test);
  switch (operator) {
    case 'null':
      return value === null;
    case 'not-null':
      return value !== null;
    case 'empty':
      return value === null || value === '';
    case 'not-empty':
      return value !== null && value !== '';
    case 'eq':
      return value !== null && some((candidate) => compareValues(value, candidate) === 0);
    case 'not-eq':
      return value === null || !some((candidate) => compareValues(value, candidate) === 0);
    case 'ieq':
      return text !== null && some((candidate) => foldCase(text) === foldCase(String(candidate)));
    case 'not-ieq':
      return text === null || !some((candidate) => foldCase(text) === foldCase(String(candidate)));
    case 'contains':
      return text !== null && some((candidate) => text.includes(String(candidate)));
    case 'starts':
      return text !== null && some((candidate) => text.startsWith(String(candidate)));
    case 'ends':
      return text !== null && some((candidate) => text.endsWith(String(candidate)));
    case 'icontains':
      return text !== null && some((candidate) => foldCase(text).includes(foldCase(String(candidate))));
    case 'istarts':
      return text !== null && some((candidate) => foldCase(text).startsWith(foldCase(String(candidate))));
    case 'iends':
      return text !== null && some((candidate) => foldCase(text).endsWith(foldCase(String(candidate))));
    case 'gt':
      return value !== null && compareValues(value, values[0]) > 0;
    case 'gte':
      return value !== null && compareValues(value, values[0]) >= 0;
    case 'lt':
      return value !== null && compareValues(value, values[0]) < 0;
    case 'lte':
      return value !== null && compareValues(value, values[0]) <= 0;
    case 'between':
      return value !== null && compareValues(value, values[0]) >= 0 && compareValues(value, values[1]) <= 0;
  }
}

/** True when the record matches every condition (AND across fields). */
export const matchesFilter = (record: Readonly<Record<string, unknown>>, conditions: readonly FilterCondition[]) =>
  conditions.every((condition) => matchesCondition(record, condition));
