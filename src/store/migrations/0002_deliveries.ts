// The delivery queue, which is also the outbox: a row per chunk of notifications for one webhook,
// written in the transaction of the change it reports. Plus an index to find a space's webhooks by
// the event names they subscribe to, so matching never scans every webhook.
import { sql, type Kysely } from 'kysely';
import type { DialectName } from '../database.js';
import { fieldIndexKey } from './0001_initial.js';

export async function up(db: Kysely<unknown>, dialect: DialectName): Promise<void> {
  await db.schema
    .createTable('deliveries')
    .addColumn('id', 'text', (column) => column.primaryKey())
    .addColumn('space_id', 'text', (column) => column.notNull().references('spaces.id'))
    .addColumn('webhook_id', 'text', (column) => column.notNull())
    .addColumn('operation_id', 'text', (column) => column.notNull())
    .addColumn('chunk_index', 'integer', (column) => column.notNull())
    .addColumn('events', 'text', (column) => column.notNull())
    .addColumn('item_count', 'integer', (column) => column.notNull())
    .addColumn('body', 'text', (column) => column.notNull())
    .addColumn('status', 'text', (column) => column.notNull())
    .addColumn('due_at', 'bigint', (column) => column.notNull())
    .addColumn('attempts', 'integer', (column) => column.notNull().defaultTo(0))
    .addColumn('last_attempt_at', 'bigint')
    .addColumn('last_status', 'integer')
    .addColumn('last_error', 'text')
    .addColumn('locked_by', 'text')
    .addColumn('locked_until', 'bigint')
    .addColumn('created_at', 'bigint', (column) => column.notNull())
    .addColumn('finished_at', 'bigint')
    .execute();
  await db.schema.createIndex('deliveries_due').on('deliveries').columns(['status', 'due_at']).execute();
  await db.schema.createIndex('deliveries_by_webhook').on('deliveries').columns(['space_id', 'webhook_id', 'created_at']).execute();

  await sql`CREATE INDEX records_by_event ON records (space_id, entity, is_deleted, ${sql.raw(fieldIndexKey(dialect, 'event'))})`.execute(db);
}
