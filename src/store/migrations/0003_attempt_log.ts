// The attempt log: one row per HTTP attempt of a delivery, and which records each delivery is about
// (to list a webhook's deliveries by record; `sequence` orders a record's deliveries by commit).
import type { Kysely } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('delivery_attempts')
    .addColumn('id', 'text', (column) => column.primaryKey())
    .addColumn('delivery_id', 'text', (column) => column.notNull())
    .addColumn('attempt', 'integer', (column) => column.notNull())
    .addColumn('started_at', 'bigint', (column) => column.notNull())
    .addColumn('duration_ms', 'integer', (column) => column.notNull())
    .addColumn('request_headers', 'text', (column) => column.notNull())
    .addColumn('status', 'integer')
    .addColumn('response_headers', 'text')
    .addColumn('response_body', 'text')
    .addColumn('error', 'text')
    .execute();
  await db.schema.createIndex('delivery_attempts_by_delivery').on('delivery_attempts').columns(['delivery_id', 'attempt']).execute();

  await db.schema
    .createTable('delivery_records')
    .addColumn('delivery_id', 'text', (column) => column.notNull())
    .addColumn('webhook_id', 'text', (column) => column.notNull())
    .addColumn('record_id', 'text', (column) => column.notNull())
    .addColumn('sequence', 'bigint', (column) => column.notNull())
    .addPrimaryKeyConstraint('delivery_records_pkey', ['delivery_id', 'record_id'])
    .execute();
  await db.schema.createIndex('delivery_records_by_record').on('delivery_records').columns(['webhook_id', 'record_id', 'sequence']).execute();
}
