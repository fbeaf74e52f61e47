// Spaces and records. Every CRM entity is a JSON document in `records`; the indexes serve the
// default order (by id), relation look-ups (foreign keys of to-many relations) and owner filters.
import { sql, type Kysely } from 'kysely';
import type { DialectName } from '../database.js';

/** Fields indexed per (space, entity): the to-many foreign keys of the catalogue, and `owner_id`. */
const INDEXED_FIELDS = [
  'owner_id', 'account_id', 'contact_id', 'lead_oppty_id', 'activity_id', 'oppty_id', 'pipeline_id',
  'memo_id', 'message_id', 'project_id', 'quote_id', 'custom_entity_id', 'webhook_id', 'email',
];

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
    .addColumn('data', dialect === 'postgres' ? 'jsonb' : 'text', (column) => column.notNull())
    .addColumn('is_deleted', 'integer', (column) => column.notNull().defaultTo(0))
    .addPrimaryKeyConstraint('records_pkey', ['space_id', 'id'])
    .execute();

  // Text ids sort by code point on both databases, like every other text key.
  const idKey = dialect === 'postgres' ? 'id COLLATE "C"' : 'id';
  await sql`CREATE INDEX records_by_entity ON records (space_id, entity, ${sql.raw(idKey)})`.execute(db);
  for (const field of INDEXED_FIELDS) {
    const expression =
      dialect === 'postgres' ? `((data->>'${field}') COLLATE "C")` : `json_extract(data, '$.${field}')`;
    await sql`CREATE INDEX ${sql.raw(`records_by_${field}`)} ON records (space_id, entity, ${sql.raw(expression)})`.execute(db);
  }
}
