// Field validation of a create or update (reference §1.5, §4.8), pure: types, enums, required fields,
// read-only fields. Relation existence needs the store; this returns the checks for the engine to run.
import { relationKey, systemFieldNames, type EntityDef, type FieldDef } from './catalogue.js';
import { parseDate, parseDateTime } from './dates.js';
import { ErrorKinds, fieldError, type FieldError } from './errors.js';

/** `validation-level` bits (reference §1.5). */
export const ValidationLevel = {
  changedFieldsOnly: 2,
  systemFieldsOnly: 4,
  overrideReadOnly: 8,
  allowDeletedRelations: 16,
} as const;

export const hasLevel = (level: number, bit: number) => (level & bit) !== 0;

const MAX_STRING_LENGTH = 1_000;
const MAX_TEXT_LENGTH = 100_000;
const uuidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** A space id: short, URL-safe (Pipeliner's look like `nv3_PipelinerDev`). */
export const spaceIdPattern = /^[A-Za-z0-9_-]{1,64}$/;

export const isUuid = (value: unknown): value is string => typeof value === 'string' && uuidPattern.test(value);

const unstorableText = /\u0000|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/**
 * What makes text unstorable, or null: PostgreSQL cannot hold NUL characters, and an unpaired UTF-16
 * surrogate is not valid Unicode. Both are refused up front on both databases.
 */
export function textProblem(text: string): string | null {
  const match = unstorableText.exec(text);
  if (!match) return null;
  return match[0] === '\u0000' ? 'a NUL character' : 'an unpaired UTF-16 surrogate';
}

/** The first unstorable text anywhere in a JSON value (keys included), or null. */
export function jsonTextProblem(value: unknown): string | null {
  if (typeof value === 'string') return textProblem(value);
  if (Array.isArray(value)) {
    for (const item of value) {
      const problem = jsonTextProblem(item);
      if (problem) return problem;
    }
  } else if (typeof value === 'object' && value !== null) {
    for (const [key, item] of Object.entries(value)) {
      const problem = textProblem(key) ?? jsonTextProblem(item);
      if (problem) return problem;
    }
  }
  return null;
}

export interface RelationCheck {
  readonly field: string;
  readonly id: string;
  readonly targets: readonly string[];
}

export interface ValidatedWrite {
  /** The normalised values of the fields the request sets. */
  readonly changes: Record<string, unknown>;
  readonly errors: FieldError[];
  /** Relations whose target must exist (and not be deleted, unless level bit 16). */
  readonly relationChecks: RelationCheck[];
}

/**
 * Validates the writable fields of `input` against `entity`. `existing` is null for a create.
 * Keys that only exist in the rendered form (relation URIs, to-many arrays, derived relations) are
 * ignored, so a record read with GET can be sent back as it is.
 */
export function validateWrite(
  entity: EntityDef,
  input: Readonly<Record<string, unknown>>,
  existing: Readonly<Record<string, unknown>> | null,
  level: number,
): ValidatedWrite {
  const errors: FieldError[] = [];
  const changes: Record<string, unknown> = {};
  const renderedOnly = new Set([
    ...Object.keys(entity.toMany),
    ...Object.keys(entity.derived),
    ...Object.entries(entity.fields).filter(([, def]) => def.relation).map(([field]) => relationKey(field)),
  ]);

  for (const [field, raw] of Object.entries(input)) {
    const definition = entity.fields[field]?.hidden ? undefined : entity.fields[field];
    if (!definition) {
      if (!renderedOnly.has(field)) {
        errors.push(fieldError(field, ErrorKinds.fieldValidation, `${entity.name} has no field '${field}'.`));
      }
      continue;
    }
    const normalised = normaliseValue(field, definition, raw);
    if ('error' in normalised) {
      errors.push(normalised.error);
      continue;
    }
    if (definition.readOnly) {
      const unchanged = existing !== null && JSON.stringify(existing[field] ?? null) === JSON.stringify(normalised.value);
      if (unchanged) continue;
      if (!isOverridable(field, existing) || !hasLevel(level, ValidationLevel.overrideReadOnly)) {
        errors.push(
          fieldError(field, ErrorKinds.fieldValidation, `Field '${field}' is read-only` +
            (isOverridable(field, existing) ? '; validation-level 8 allows overriding it.' : '.')),
        );
        continue;
      }
    }
    changes[field] = normalised.value;
  }

  const merged = { ...(existing ?? {}), ...changes };
  const checkAll = existing === null || !hasLevel(level, ValidationLevel.changedFieldsOnly);
  const fieldsToCheck = checkAll ? Object.keys(entity.fields) : Object.keys(changes);
  if (!hasLevel(level, ValidationLevel.systemFieldsOnly)) {
    for (const field of fieldsToCheck) {
      const definition = entity.fields[field];
      const alreadyWrong = errors.some((error) => error.field_name === field);
      if (definition?.required && isBlank(merged[field]) && !alreadyWrong) {
        errors.push(fieldError(field, ErrorKinds.parameterMissing, `Field '${field}' is required.`));
      }
    }
    for (const group of entity.requireOneOf) {
      const touched = checkAll || group.some((field) => field in changes);
      if (touched && group.every((field) => isBlank(merged[field]))) {
        errors.push(
          fieldError(group[0], ErrorKinds.parameterMissing, `At least one of ${group.map((f) => `'${f}'`).join(', ')} is required.`),
        );
      }
    }
  }

  const relationChecks: RelationCheck[] = [];
  for (const field of fieldsToCheck) {
    const definition = entity.fields[field];
    const value = merged[field];
    if (definition?.relation && typeof value === 'string' && !errors.some((error) => error.field_name === field)) {
      relationChecks.push({ field, id: value, targets: definition.relation });
    }
  }
  return { changes, errors, relationChecks };
}

// System fields other than `id` (on create) and `is_delete_protected` are always the engine's.
const isOverridable = (field: string, existing: unknown) =>
  !systemFieldNames.has(field) || field === 'is_delete_protected' || (field === 'id' && existing === null);

const isBlank = (value: unknown) =>
  value === undefined || value === null || (typeof value === 'string' && value.trim() === '') ||
  (Array.isArray(value) && value.length === 0);

type Normalised = { value: unknown } | { error: FieldError };

function normaliseValue(field: string, definition: FieldDef, raw: unknown): Normalised {
  const invalid = (expected: string): Normalised => ({
    error: fieldError(field, ErrorKinds.fieldValidation, `Field '${field}' must be ${expected}; got ${describe(raw)}.`),
  });
  if (raw === null) return { value: null };
  const problem = jsonTextProblem(raw);
  if (problem) return invalid(`text without ${problem}`);
  let value: unknown = raw;
  switch (definition.type) {
    case 'string':
    case 'text': {
      if (typeof raw !== 'string') return invalid('a string');
      const limit = definition.type === 'string' ? MAX_STRING_LENGTH : MAX_TEXT_LENGTH;
      if (raw.length > limit) return invalid(`at most ${limit} characters long`);
      break;
    }
    case 'integer':
      if (typeof raw !== 'number' || !Number.isSafeInteger(raw)) return invalid('an integer');
      break;
    case 'float':
      if (typeof raw !== 'number' || !Number.isFinite(raw)) return invalid('a number');
      break;
    case 'boolean':
      if (typeof raw !== 'boolean') return invalid('true or false');
      break;
    case 'date':
      value = typeof raw === 'string' ? parseDate(raw) : null;
      if (value === null) return invalid('a date (YYYY-MM-DD)');
      break;
    case 'datetime':
      value = typeof raw === 'string' ? parseDateTime(raw) : null;
      if (value === null) return invalid('an ISO-8601 date-time');
      break;
    case 'uuid':
      if (!isUuid(raw)) return invalid('a UUID');
      value = raw.toLowerCase();
      break;
    case 'string[]':
      if (!Array.isArray(raw) || !raw.every((item) => typeof item === 'string')) {
        return invalid('an array of strings');
      }
      break;
    case 'money': {
      if (typeof raw !== 'object' || Array.isArray(raw)) return invalid('an object {base_value, value_foreign, currency_id}');
      const [error] = validateMoney(field, raw as Record<string, unknown>);
      if (error) return { error };
      break;
    }
    case 'json':
      if (typeof raw !== 'object' || Array.isArray(raw)) {
        return invalid('a JSON object');
      }
      break;
  }
  if (definition.enum && !definition.enum.includes(value as number | string)) {
    return invalid(`one of ${definition.enum.join(', ')}`);
  }
  return { value };
}

function describe(value: unknown): string {
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

/** A money value `{base_value, value_foreign, currency_id}`: numbers and a UUID. */
function validateMoney(field: string, money: Record<string, unknown>): FieldError[] {
  const errors: FieldError[] = [];
  for (const key of Object.keys(money)) {
    if (!['base_value', 'value_foreign', 'currency_id'].includes(key)) {
      errors.push(fieldError(field, ErrorKinds.fieldValidation, `Field '${field}' has an unknown key '${key}'.`));
    }
  }
  for (const key of ['base_value', 'value_foreign']) {
    if (money[key] !== undefined && money[key] !== null && (typeof money[key] !== 'number' || !Number.isFinite(money[key]))) {
      errors.push(fieldError(field, ErrorKinds.fieldValidation, `${field}.${key} must be a number.`));
    }
  }
  if (money.currency_id !== undefined && money.currency_id !== null && !isUuid(money.currency_id)) {
    errors.push(fieldError(field, ErrorKinds.fieldValidation, `${field}.currency_id must be a UUID.`));
  }
  return errors;
}
