// How a record field is read in SQL. Records are JSON documents; these expressions are also the
// expressions of the indexes in migrations/0001_initial.ts, so they must stay textually in step.
import { sql, type RawBuilder } from 'kysely';
import type { FieldType } from '../domain/catalogue.js';
import type { DialectName } from './database.js';

const safeName = /^[a-z][a-z0-9_]*$/;

/**
 * The typed value of `field`. Text compares by code point on both databases (SQLite BINARY,
 * PostgreSQL COLLATE "C"), numbers numerically, booleans as booleans (1/0 on SQLite).
 */
export function fieldExpression(dialect: DialectName, field: string, type: FieldType): RawBuilder<unknown> {
  if (!safeName.test(field)) throw new Error(`unsafe field name ${field}`);
  if (dialect === 'sqlite') return sql.raw(`json_extract(data, '$.${field}')`);
  switch (type) {
    case 'integer':
    case 'float':
      return sql.raw(`((data->>'${field}')::double precision)`);
    case 'boolean':
      return sql.raw(`((data->>'${field}')::boolean)`);
    default:
      return sql.raw(`((data->>'${field}') COLLATE "C")`);
  }
}

/** A value bound against a field expression: SQLite cannot bind booleans. */
export const bindValue = (dialect: DialectName, value: string | number | boolean | null) =>
  dialect === 'sqlite' && typeof value === 'boolean' ? Number(value) : value;
