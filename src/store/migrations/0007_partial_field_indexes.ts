// The field indexes of records hold only the records that have the field. Each was a full index, so
// every record written went into all fifteen, though most entities have two or three of the fields
// and the rest are null: for an Account, 15 of its 19 index entries were such nulls, each an insert
// and a page written to the WAL at every commit. Look-ups compare the field with a value (=, IN),
// which tells both databases the field is not null, so the partial index still serves them.
import { sql, type Kysely } from 'kysely';
import type { DialectName } from '../database.js';
import { fieldIndexKey, INDEXED_FIELDS } from './0001_initial.js';

export async function up(db: Kysely<unknown>, dialect: DialectName): Promise<void> {
  // `event` is WebhookEvent's, indexed since 0002 for matching writes to webhooks.
  for (const field of [...INDEXED_FIELDS, 'event']) {
    const name = sql.raw(`records_by_${field}`);
    const key = sql.raw(fieldIndexKey(dialect, field));
    await sql`DROP INDEX ${name}`.execute(db);
    await sql`CREATE INDEX ${name} ON records (space_id, entity, is_deleted, ${key}) WHERE ${key} IS NOT NULL`.execute(db);
  }
}
