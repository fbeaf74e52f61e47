// How a record field is read in SQL. Records are JSON documents; these expressions are also the
// expressions of the indexes in migrations/0001_initial.ts, so they must stay textually in step.
import { sql, type RawBuilder } from 'kysely';
import type { FieldType } from '../domain/catalogue.js';
import type { DialectName } from './database.js';

const safeName = /^[a-z][a-z0-9_]*$/;

/** `field`'s text as stored, without the casts and collation of fieldExpression. */
const textOf = (dialect: DialectName, field: string) => {
  if (!safeName.test(field)) throw new Error(`unsafe field name ${field}`);
  return dialect === 'sqlite' ? `json_extract(data, '$.${field}')` : `(data->>'${field}')`;
};

/**
 * The typed value of `field`. Text compares by code point on both databases (SQLite BINARY,
 * PostgreSQL COLLATE "C"), numbers numerically, booleans as booleans (1/0 on SQLite).
 */
export function fieldExpression(dialect: DialectName, field: string, type: FieldType): RawBuilder<unknown> {
  const text = textOf(dialect, field);
  if (dialect === 'sqlite') return sql.raw(text);
  switch (type) {
    case 'integer':
    case 'float':
      return sql.raw(`(${text}::double precision)`);
    case 'boolean':
      return sql.raw(`(${text}::boolean)`);
    default:
      return sql.raw(`(${text} COLLATE "C")`);
  }
}

/**
 * `field` (a record's id) matched against a column of ids: its text as stored, which the column's
 * own index answers (PostgreSQL uses an index only for a comparison in the index's collation).
 */
export const fieldReference = (dialect: DialectName, field: string): RawBuilder<string> => sql.raw(textOf(dialect, field));

/** A value bound against a field expression: SQLite cannot bind booleans. */
export const bindValue = (dialect: DialectName, value: string | number | boolean | null) =>
  dialect === 'sqlite' && typeof value === 'boolean' ? Number(value) : value;
