// A lease (locked_by / locked_until) no longer touches an index, so on PostgreSQL leasing a delivery
// is a heap-only (HOT) update: no new entry in any of the deliveries' indexes. Only the attempt's end
// still rewrites them (its status is indexed). What the lease index answered is answered otherwise:
// - the half-open breaker's probe in flight: its webhook's health row names the probe, whose own
//   lease says whether it is still out (probe_delivery_id);
// - an idle worker's wake-up when another worker's lease runs out: its poll (at most a second).
// A HOT update needs room on the row's own page: new pages of deliveries are filled half, the room
// for each row's lease. In the queue's own loop (claims of 32 of 100,000 queued) a delivery took
// 141.8-152.7 µs against 176.7-189.5 µs with the index.
import { sql, type Kysely } from 'kysely';
import type { DialectName } from '../database.js';

export async function up(db: Kysely<unknown>, dialect: DialectName): Promise<void> {
  await db.schema.dropIndex('deliveries_leased').execute();
  await db.schema.alterTable('webhook_health').addColumn('probe_delivery_id', 'text').execute();
  if (dialect === 'postgres') await sql`ALTER TABLE deliveries SET (fillfactor = 50)`.execute(db);
}
