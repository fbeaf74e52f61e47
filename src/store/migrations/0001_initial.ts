// Spaces and records. Every CRM entity is a JSON document in `records` (JSONB on both databases); the
// indexes serve the default order (by id), relation look-ups (foreign keys of to-many relations),
// owner filters, and the common sort keys `name` and `modified`.
import { sql, type Kysely } from 'kysely';
import type { DialectName } from '../database.js';

/** Fields indexed per (space, entity): the to-many foreign keys of the catalogue, and `owner_id`. */
export const INDEXED_FIELDS = [
  'owner_id', 'account_id', 'contact_id', 'lead_oppty_id', 'activity_id', 'oppty_id', 'pipeline_id',
  'memo_id', 'message_id', 'project_id', 'quote_id', 'custom_entity_id', 'webhook_id', 'email',
];

/** Fields that lists are commonly ordered by. */
const SORTED_FIELDS = ['name', 'modified'];

/** A record field as the indexes key it: the expression the queries of store/json-fields.ts use. */
export const fieldIndexKey = (dialect: DialectName, field: string) =>
  dialect === 'postgres' ? `((data->>'${field}') COLLATE "C")` : `json_extract(data, '$.${field}')`;

export async function up(db: Kysely<unknown>, dialect: DialectName): Promise<void> {
  await db.schema
    .createTable('spaces')
    .addColumn('id', 'text', (column) => column.primaryKey())
    .addColumn('api_token', 'text', (column) => column.notNull())
    .addColumn('password_salt', 'text', (column) => column.notNull())
    .addColumn('password_hash', 'text', (column) => column.notNull())
    .addColumn('revision', 'bigint', (column) => column.notNull().defaultTo(0))
    .addColumn('created', 'text', (column) => column.notNull())
    .execute();

  await db.schema
    .createTable('records')
    .addColumn('space_id', 'text', (column) => column.notNull().references('spaces.id'))
    .addColumn('id', 'text', (column) => column.notNull())
    .addColumn('entity', 'text', (column) => column.notNull())
    .addColumn('data', dialect === 'postgres' ? 'jsonb' : 'blob', (column) => column.notNull())
    .addColumn('is_deleted', 'integer', (column) => column.notNull().defaultTo(0))
    .addPrimaryKeyConstraint('records_pkey', ['space_id', 'id'])
    .execute();

  // Text ids sort by code point on both databases, like every other text key. Live records of an
  // entity in id order are one index range, which also answers their count (`total`).
  const idKey = dialect === 'postgres' ? 'id COLLATE "C"' : 'id';
  await sql`CREATE INDEX records_by_entity ON records (space_id, entity, is_deleted, ${sql.raw(idKey)})`.execute(db);
  const fieldKey = (field: string) => fieldIndexKey(dialect, field);
  for (const field of INDEXED_FIELDS) {
    await sql`CREATE INDEX ${sql.raw(`records_by_${field}`)} ON records (space_id, entity, is_deleted, ${sql.raw(fieldKey(field))})`.execute(db);
  }
  // Sorted lists: ascending means NULLS FIRST (store/record-store.ts), which PostgreSQL must be told.
  const nullsFirst = dialect === 'postgres' ? ' NULLS FIRST' : '';
  for (const field of SORTED_FIELDS) {
    await sql`CREATE INDEX ${sql.raw(`records_sorted_by_${field}`)} ON records (space_id, entity, is_deleted, ${sql.raw(fieldKey(field) + nullsFirst)}, ${sql.raw(idKey)})`.execute(db);
  }
}
