// Each failing webhook's health: its run of failures and its circuit breaker (absent when healthy).
import type { Kysely } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('webhook_health')
    .addColumn('webhook_id', 'text', (column) => column.primaryKey())
    .addColumn('space_id', 'text', (column) => column.notNull())
    .addColumn('consecutive_failures', 'integer', (column) => column.notNull())
    .addColumn('failing_since', 'bigint', (column) => column.notNull())
    .addColumn('open_until', 'bigint')
    .addColumn('warned', 'integer', (column) => column.notNull().defaultTo(0))
    .execute();
}
