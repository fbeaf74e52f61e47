// A claim goes webhook by webhook (see DeliveryQueue.claimDue): it steps from one webhook's pending
// deliveries to the next, and reads each one's earliest due, all in the order of this index. It
// replaces the index in due order alone, whose range a claim had to read past every row of a webhook
// that could not go (a silent receiver's backlog, or one at its cap), one row at a time.
import { type Kysely } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.createIndex('deliveries_due_by_webhook').on('deliveries').columns(['status', 'webhook_id', 'due_at']).execute();
  await db.schema.dropIndex('deliveries_due').execute();
}
