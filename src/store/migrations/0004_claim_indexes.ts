// An index for finding the deliveries in flight (leased) quickly: few rows among many pending ones.
import type { Kysely } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.createIndex('deliveries_leased').on('deliveries').column('locked_until').execute();
}
