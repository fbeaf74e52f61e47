// Query parameters of the REST API (reference §1.5, §1.6, §4), parsed into what the engine takes.
// Any mistake is a 400 ERROR_PARAMETER_INVALID that names the parameter.
import type { Catalogue, EntityDef } from '../domain/catalogue.js';
import { invalidParameter } from '../domain/errors.js';
import { buildFilter, FilterError } from '../domain/filter.js';
import { decodeCursor, PaginationError, parseOrderBy, parsePageSize } from '../domain/pagination.js';
import { parseProjection, ProjectionError, type ProjectionNode } from '../domain/projection.js';
import type { BatchRequest, ListRequest, WriteRequest } from '../engine/entity-engine.js';

export type RawQuery = Readonly<Record<string, string | string[] | undefined>>;

const LIST_PARAMETERS = new Set([
  'first', 'last', 'after', 'before', 'order-by', 'include-deleted', 'include_deleted', 'expand', 'load-only',
]);
const PROJECTION_PARAMETERS = new Set(['expand', 'load-only']);
const WRITE_PARAMETERS = new Set(['validation-level', 'expand', 'load-only']);
const BATCH_PARAMETERS = new Set(['validation-level', 'rollback-method']);

/** One value of a parameter; a repeated parameter is an error. */
function single(query: RawQuery, name: string): string | undefined {
  const value = query[name];
  if (Array.isArray(value)) throw invalidParameter(`Query parameter '${name}' is given more than once.`);
  return value;
}

/** A comma list, from one parameter or several of the same name. */
function list(query: RawQuery, name: string): string[] {
  const value = query[name];
  const parts = (Array.isArray(value) ? value : value === undefined ? [] : [value]).flatMap((part) => part.split(','));
  return parts.map((part) => part.trim()).filter((part) => part !== '');
}

function rejectUnknown(query: RawQuery, known: ReadonlySet<string>, allowFilters = false) {
  for (const name of Object.keys(query)) {
    if (known.has(name)) continue;
    if (allowFilters && /^filter(-op)?\[[^\]]+\]$/.test(name)) continue;
    const hint = /^filter/.test(name) ? " Use filter[<field>]=value and filter-op[<field>]=operator." : '';
    throw invalidParameter(`Unknown query parameter '${name}'.${hint}`);
  }
}

/** Turns the domain's parse errors into a 400 that says what to fix. */
function asParameterError<T>(parse: () => T): T {
  try {
    return parse();
  } catch (error) {
    if (error instanceof FilterError || error instanceof PaginationError || error instanceof ProjectionError) {
      throw invalidParameter(error.message);
    }
    throw error;
  }
}

export function parseProjectionQuery(catalogue: Catalogue, entity: EntityDef, query: RawQuery): ProjectionNode {
  return asParameterError(() => parseProjection(catalogue, entity, list(query, 'expand'), list(query, 'load-only'), true));
}

function parseBoolean(name: string, value: string | undefined): boolean {
  if (value === undefined || value === 'false' || value === '0') return false;
  if (value === 'true' || value === '1') return true;
  throw invalidParameter(`Query parameter '${name}' must be true or false; got '${value}'.`);
}

export function parseListQuery(catalogue: Catalogue, entity: EntityDef, query: RawQuery): ListRequest {
  rejectUnknown(query, LIST_PARAMETERS, true);
  const filter: Record<string, unknown> = {};
  const operators: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(query)) {
    const match = /^(filter|filter-op)\[([^\]]+)\]$/.exec(name);
    if (!match) continue;
    const target = match[1] === 'filter' ? filter : operators;
    target[match[2]] = match[1] === 'filter' ? (Array.isArray(value) ? value.join(',') : value) : single(query, name);
  }
  return asParameterError(() => {
    const sortKeys = parseOrderBy(entity, single(query, 'order-by'));
    const after = single(query, 'after');
    const before = single(query, 'before');
    const includeDeletedName = 'include-deleted' in query ? 'include-deleted' : 'include_deleted';
    return {
      conditions: buildFilter(entity, filter, operators, true),
      sortKeys,
      includeDeleted: parseBoolean(includeDeletedName, single(query, includeDeletedName)),
      first: parsePageSize('first', single(query, 'first')),
      last: parsePageSize('last', single(query, 'last')),
      after: after === undefined ? undefined : decodeCursor(after, sortKeys),
      before: before === undefined ? undefined : decodeCursor(before, sortKeys),
      projection: parseProjection(catalogue, entity, list(query, 'expand'), list(query, 'load-only'), true),
    };
  });
}

export function parseGetQuery(catalogue: Catalogue, entity: EntityDef, query: RawQuery): ProjectionNode {
  rejectUnknown(query, PROJECTION_PARAMETERS);
  return parseProjectionQuery(catalogue, entity, query);
}

function parseValidationLevel(query: RawQuery): number {
  const raw = single(query, 'validation-level');
  if (raw === undefined) return 0;
  const level = Number(raw);
  if (!/^\d+$/.test(raw) || level > 31) {
    throw invalidParameter(`'validation-level' must be a bit mask from 0 to 31 (2, 4, 8, 16 combined); got '${raw}'.`);
  }
  return level;
}

export type RawHeaders = Readonly<Record<string, string | string[] | undefined>>;

/** `Webhook-Skip-Key`: one key, a comma-separated list, or the header repeated (reference §3.7). */
function parseSkipKeys(headers: RawHeaders): string[] {
  const raw = headers['webhook-skip-key'];
  const values = Array.isArray(raw) ? raw : raw === undefined ? [] : [raw];
  return values.flatMap((value) => value.split(',')).map((key) => key.trim()).filter((key) => key !== '');
}

export function parseWriteQuery(query: RawQuery, headers: RawHeaders): WriteRequest {
  rejectUnknown(query, WRITE_PARAMETERS);
  return { validationLevel: parseValidationLevel(query), skipKeys: parseSkipKeys(headers) };
}

export function parseBatchQuery(query: RawQuery, headers: RawHeaders): BatchRequest {
  rejectUnknown(query, BATCH_PARAMETERS);
  const raw = single(query, 'rollback-method') ?? '0';
  if (raw !== '0' && raw !== '1') {
    throw invalidParameter(`'rollback-method' must be 0 (all or nothing) or 1 (skip invalid items); got '${raw}'.`);
  }
  return { validationLevel: parseValidationLevel(query), rollbackMethod: raw === '1' ? 1 : 0, skipKeys: parseSkipKeys(headers) };
}
