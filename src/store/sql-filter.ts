// The filter conditions of domain/filter.ts compiled to SQL, with the same semantics as the in-memory
// evaluator there (see the rules at the top of that file). A property test runs both on random data.
import { sql, type RawBuilder } from 'kysely';
import { foldCase, type FilterCondition, type FilterValue } from '../domain/filter.js';
import type { DialectName } from './database.js';
import { bindValue, fieldExpression } from './json-fields.js';

type Sql = RawBuilder<unknown>;

const TRUE: Sql = sql`1 = 1`;
const anyOf = (parts: Sql[]): Sql => (parts.length === 1 ? parts[0] : sql`(${sql.join(parts, sql` OR `)})`);
const allOf = (parts: Sql[]): Sql => (parts.length === 0 ? TRUE : sql`(${sql.join(parts, sql` AND `)})`);

export function compileFilter(dialect: DialectName, conditions: readonly FilterCondition[]): Sql {
  return allOf(conditions.map((condition) => compileCondition(dialect, condition)));
}

function compileCondition(dialect: DialectName, condition: FilterCondition): Sql {
  const field = fieldExpression(dialect, condition.field, condition.type);
  const bind = (value: FilterValue) => bindValue(dialect, value);
  // PostgreSQL cannot infer a type for an untyped parameter of length(); text parameters say theirs.
  const textParameter = (value: string): Sql => (dialect === 'postgres' ? sql`${value}::text` : sql`${value}`);
  const text = (value: FilterValue) => textParameter(String(value));
  const folded = (value: FilterValue) => textParameter(foldCase(String(value)));
  const list = (values: readonly unknown[]) => sql.join(values.map((value) => sql`${value}`));
  const lower = sql`lower(${field})`;
  const { values } = condition;
  const isText = condition.type !== 'integer' && condition.type !== 'float' && condition.type !== 'boolean';

  const contains = (subject: Sql, needle: Sql) =>
    dialect === 'sqlite' ? sql`instr(${subject}, ${needle}) > 0` : sql`strpos(${subject}, ${needle}) > 0`;
  const starts = (subject: Sql, prefix: Sql) => sql`substr(${subject}, 1, length(${prefix})) = ${prefix}`;
  const ends = (subject: Sql, suffix: Sql) =>
    sql`(length(${subject}) >= length(${suffix}) AND substr(${subject}, length(${subject}) - length(${suffix}) + 1) = ${suffix})`;

  switch (condition.operator) {
    case 'null':
      return sql`${field} IS NULL`;
    case 'not-null':
      return sql`${field} IS NOT NULL`;
    case 'empty':
      return isText ? sql`(${field} IS NULL OR ${field} = '')` : sql`${field} IS NULL`;
    case 'not-empty':
      return isText ? sql`(${field} IS NOT NULL AND ${field} <> '')` : sql`${field} IS NOT NULL`;
    case 'eq':
      return sql`${field} IN (${list(values.map(bind))})`;
    case 'not-eq':
      return sql`(${field} IS NULL OR ${field} NOT IN (${list(values.map(bind))}))`;
    case 'ieq':
      return sql`${lower} IN (${list(values.map(folded))})`;
    case 'not-ieq':
      return sql`(${field} IS NULL OR ${lower} NOT IN (${list(values.map(folded))}))`;
    case 'contains':
      return anyOf(values.map((value) => contains(field, text(value))));
    case 'starts':
      return anyOf(values.map((value) => starts(field, text(value))));
    case 'ends':
      return anyOf(values.map((value) => ends(field, text(value))));
    case 'icontains':
      return anyOf(values.map((value) => contains(lower, folded(value))));
    case 'istarts':
      return anyOf(values.map((value) => starts(lower, folded(value))));
    case 'iends':
      return anyOf(values.map((value) => ends(lower, folded(value))));
    case 'gt':
      return sql`${field} > ${bind(values[0])}`;
    case 'gte':
      return sql`${field} >= ${bind(values[0])}`;
    case 'lt':
      return sql`${field} < ${bind(values[0])}`;
    case 'lte':
      return sql`${field} <= ${bind(values[0])}`;
    case 'between':
      return sql`(${field} >= ${bind(values[0])} AND ${field} <= ${bind(values[1])})`;
  }
}
