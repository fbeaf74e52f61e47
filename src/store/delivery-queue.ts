// The DeliveryQueue port's implementation: the `deliveries` table as outbox and job queue. Claims are
// leases (locked_by / locked_until): a claimed row stays pending, and a worker that dies leaves a lease
// that simply runs out. One operation per method.
import { sql, type ExpressionBuilder } from 'kysely';
import type { Database, DeliveriesTable, Executor, Schema } from './database.js';
import { bindValue, fieldExpression } from './json-fields.js';
import { notifyDeliveriesEnqueued } from './wakeups.js';
import { newId } from '../domain/ids.js';

export type NewDelivery = Omit<DeliveriesTable, 'attempts' | 'last_attempt_at' | 'last_status' | 'last_error' | 'locked_by' | 'locked_until' | 'finished_at' | 'status'> & {
  /** The records the delivery's items are about. */
  readonly recordIds: readonly string[];
  /** Orders the deliveries of one record for one webhook: increases with each commit in a space. */
  readonly sequence: number;
};

export type ClaimedDelivery = DeliveriesTable;

/** What one attempt came to, as the attempt log keeps it. */
export interface AttemptOutcome {
  readonly attemptedAt: number;
  readonly status: number | null;
  readonly error: string | null;
  readonly durationMs: number;
  /** Without the signature header. */
  readonly requestHeaders: Record<string, string>;
  readonly responseHeaders: Record<string, string | string[]> | null;
  readonly responseBody: string | null;
}

export class DeliveryQueue {
  constructor(private readonly database: Database) {}

  async enqueue(executor: Executor, deliveries: readonly NewDelivery[]): Promise<void> {
    if (deliveries.length === 0) return;
    await executor
      .insertInto('deliveries')
      .values(deliveries.map(({ recordIds: _recordIds, sequence: _sequence, ...delivery }) => ({ ...delivery, status: 'pending' as const, attempts: 0 })))
      .execute();
    const links = deliveries.flatMap((delivery) =>
      [...new Set(delivery.recordIds)].map((recordId) => ({
        delivery_id: delivery.id,
        webhook_id: delivery.webhook_id,
        record_id: recordId,
        sequence: delivery.sequence,
      })),
    );
    // Several hundred rows a statement keeps under SQLite's bound-parameter limit.
    for (let start = 0; start < links.length; start += 500) {
      await executor.insertInto('delivery_records').values(links.slice(start, start + 500)).execute();
    }
  }

  /** Wakes worker processes once the enqueuing transaction commits (see store/wakeups.ts). */
  async announceEnqueued(executor: Executor): Promise<void> {
    await notifyDeliveriesEnqueued(this.database, executor);
  }

  /**
   * Leases up to `limit` due deliveries to `workerId` until `now + leaseMs`. On PostgreSQL concurrent
   * workers skip each other's rows (FOR UPDATE SKIP LOCKED); SQLite has one writer.
   */
  async claimDue(workerId: string, now: number, limit: number, leaseMs: number): Promise<ClaimedDelivery[]> {
    const { db, capabilities } = this.database;
    let due = db
      .selectFrom('deliveries')
      .select('id')
      .where('status', '=', 'pending')
      .where('due_at', '<=', now)
      .where((eb) => eb.or([eb('locked_until', 'is', null), eb('locked_until', '<', now)]))
      .where(this.webhookEnabled())
      .orderBy('due_at')
      .limit(limit);
    if (capabilities.rowLocks) due = due.forUpdate().skipLocked();
    return db
      .updateTable('deliveries')
      .set({ locked_by: workerId, locked_until: now + leaseMs })
      .where('id', 'in', due)
      .returningAll()
      .execute();
  }

  /**
   * When the next pending delivery can be claimed (epoch ms): when it falls due, or when the lease on
   * it runs out. Null when none is waiting.
   */
  async nextDueAt(): Promise<number | null> {
    const claimableAt = sql<number>`CASE WHEN locked_until IS NOT NULL AND locked_until > due_at THEN locked_until ELSE due_at END`;
    const row = await this.database.db
      .selectFrom('deliveries')
      .select((eb) => eb.fn.min(claimableAt).as('next'))
      .where('status', '=', 'pending')
      .where(this.webhookEnabled())
      .executeTakeFirst();
    return row?.next === null || row?.next === undefined ? null : Number(row.next);
  }

  /** A disabled webhook's deliveries wait: they go out once it is enabled again. */
  private webhookEnabled() {
    const { dialect } = this.database;
    const disabled = sql<boolean>`${fieldExpression(dialect, 'is_disabled', 'boolean')} = ${bindValue(dialect, true)}`;
    return ({ not, exists, selectFrom }: ExpressionBuilder<Schema, 'deliveries'>) =>
      not(
        exists(
          selectFrom('records')
            .select('records.id')
            .whereRef('records.space_id', '=', 'deliveries.space_id')
            .whereRef('records.id', '=', 'deliveries.webhook_id')
            .where(disabled),
        ),
      );
  }

  async markDelivered(id: string, workerId: string, outcome: AttemptOutcome): Promise<void> {
    await this.finishAttempt(id, workerId, outcome, { status: 'delivered', finished_at: outcome.attemptedAt });
  }

  async reschedule(id: string, workerId: string, outcome: AttemptOutcome, dueAt: number): Promise<void> {
    await this.finishAttempt(id, workerId, outcome, { status: 'pending', due_at: dueAt });
  }

  async markFailed(id: string, workerId: string, outcome: AttemptOutcome): Promise<void> {
    await this.finishAttempt(id, workerId, outcome, { status: 'failed', finished_at: outcome.attemptedAt });
  }

  /** Gives a delivery up without an attempt (its webhook is gone). */
  async abandon(id: string, workerId: string, reason: string, at: number): Promise<void> {
    await this.database.db
      .updateTable('deliveries')
      .set({ status: 'failed', last_error: reason, finished_at: at, locked_by: null, locked_until: null })
      .where('id', '=', id)
      .where('locked_by', '=', workerId)
      .execute();
  }

  /**
   * Logs an attempt and releases the lease; only the lease holder may (a late worker whose lease ran
   * out changes nothing, and its attempt is not logged twice).
   */
  private async finishAttempt(
    id: string,
    workerId: string,
    outcome: AttemptOutcome,
    changes: Partial<Pick<DeliveriesTable, 'status' | 'due_at' | 'finished_at'>>,
  ): Promise<void> {
    const { db } = this.database;
    const holder = await db.selectFrom('deliveries').select('attempts').where('id', '=', id).where('locked_by', '=', workerId).executeTakeFirst();
    if (!holder) return;
    await db
      .insertInto('delivery_attempts')
      .values({
        id: newId(outcome.attemptedAt),
        delivery_id: id,
        attempt: holder.attempts + 1,
        started_at: outcome.attemptedAt,
        duration_ms: outcome.durationMs,
        request_headers: JSON.stringify(outcome.requestHeaders),
        status: outcome.status,
        response_headers: outcome.responseHeaders === null ? null : JSON.stringify(outcome.responseHeaders),
        response_body: outcome.responseBody,
        error: outcome.error,
      })
      .execute();
    await db
      .updateTable('deliveries')
      .set({
        ...changes,
        attempts: sql`attempts + 1`,
        last_attempt_at: outcome.attemptedAt,
        last_status: outcome.status,
        last_error: outcome.error,
        locked_by: null,
        locked_until: null,
      })
      .where('id', '=', id)
      .where('locked_by', '=', workerId)
      .execute();
  }
}
