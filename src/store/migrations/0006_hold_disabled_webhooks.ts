// Deliveries already waiting behind a disabled webhook are held like those it gets from now on (see
// HELD_UNTIL_ENABLED in store/delivery-queue.ts), so that no claim has to skip them one by one.
// Those in flight are left to their attempt.
import { sql, type Kysely } from 'kysely';
import type { DialectName } from '../database.js';
import { HELD_UNTIL_ENABLED } from '../delivery-queue.js';
import { bindValue, fieldExpression } from '../json-fields.js';

export async function up(db: Kysely<unknown>, dialect: DialectName): Promise<void> {
  const disabled = sql`${fieldExpression(dialect, 'is_disabled', 'boolean')} = ${bindValue(dialect, true)}`;
  await sql`
    UPDATE deliveries SET due_at = ${HELD_UNTIL_ENABLED}
    WHERE status = 'pending' AND locked_until IS NULL
      AND webhook_id IN (SELECT id FROM records WHERE entity = 'Webhook' AND ${disabled})`.execute(db);
}
