// The DeliveryQueue port's implementation: the `deliveries` table as outbox and job queue. Claims are
// leases (locked_by / locked_until): a claimed row stays pending, and a worker that dies leaves a lease
// that simply runs out. One operation per method.
import { sql, type ExpressionBuilder } from 'kysely';
import type { Database, DeliveriesTable, Executor, Schema } from './database.js';
import { bindValue, fieldExpression } from './json-fields.js';
import { notifyDeliveriesEnqueued } from './wakeups.js';
import { healthOf } from './webhook-status.js';
import { isHalfOpen } from '../domain/circuit-breaker.js';
import { newId } from '../domain/ids.js';

export type NewDelivery = Omit<DeliveriesTable, 'attempts' | 'last_attempt_at' | 'last_status' | 'last_error' | 'locked_by' | 'locked_until' | 'finished_at' | 'status'> & {
  /** The records the delivery's items are about. */
  readonly recordIds: readonly string[];
  /** Orders the deliveries of one record for one webhook: increases with each commit in a space. */
  readonly sequence: number;
};

export type ClaimedDelivery = DeliveriesTable;

export interface ClaimResult {
  readonly rows: ClaimedDelivery[];
  /** Due deliveries exist that could not be taken now (held back, capped, breaker open). */
  readonly waiting: boolean;
}

/** Candidates read per claim, per row wanted: room to skip webhooks that reach their cap. */
const CANDIDATES_PER_CLAIM = 4;

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
   * Leases up to `limit` due deliveries to `workerId` until `now + leaseMs`, fairly:
   * - per record: a delivery waits while an earlier one of the same webhook about one of its records
   *   is still pending (commit order; a failing record holds back only its own later deliveries);
   * - per webhook: at most `perWebhook` of a webhook's deliveries are in flight at once, so a slow
   *   receiver cannot take every worker;
   * - a disabled webhook's deliveries wait, and so do those of a webhook whose breaker is open;
   *   a half-open breaker lets one through at a time.
   * In one transaction, the earliest due rows are read (an index range that stops early; on
   * PostgreSQL locked with SKIP LOCKED, so concurrent workers read disjoint windows), the two fairness
   * rules are applied to that window, and the chosen rows are leased.
   * A window full of one capped webhook's rows leaves the worker idle until an attempt ends; failed
   * attempts move their rows out of the window (their next attempt is due later).
   */
  async claimDue(
    workerId: string,
    now: number,
    limit: number,
    leaseMs: number,
    fairness: { perWebhook?: number; breakerThreshold?: number } = {},
  ): Promise<ClaimResult> {
    const perWebhook = fairness.perWebhook ?? limit;
    const { db, capabilities } = this.database;
    return db.transaction().execute(async (trx) => {
      let window = trx
        .selectFrom('deliveries')
        .select(['id', 'webhook_id'])
        .where('status', '=', 'pending')
        .where('due_at', '<=', now)
        .where((eb) => eb.or([eb('locked_until', 'is', null), eb('locked_until', '<', now)]))
        .where(this.webhookEnabled())
        .orderBy('due_at')
        .limit(limit * CANDIDATES_PER_CLAIM);
      // Concurrent workers read disjoint windows; rows not picked are free again at commit.
      if (capabilities.rowLocks) window = window.forUpdate().skipLocked();
      const candidates = await window.execute();
      if (candidates.length === 0) return { rows: [], waiting: false };
      const inFlight = await this.inFlightByWebhook(trx, now);
      const heldBack = await this.heldBackByEarlier(trx, candidates.map((row) => row.id));
      const health = await healthOf(trx, [...new Set(candidates.map((row) => row.webhook_id))]);
      // An open breaker pauses its webhook; a half-open one lets one probe through at a time.
      const capFor = (webhookId: string) => {
        const state = health.get(webhookId);
        if (state?.openUntil && state.openUntil > now) return 0;
        return fairness.breakerThreshold !== undefined && isHalfOpen(state, now, fairness.breakerThreshold) ? 1 : perWebhook;
      };
      const picked: string[] = [];
      for (const candidate of candidates) {
        const flying = inFlight.get(candidate.webhook_id) ?? 0;
        if (flying >= capFor(candidate.webhook_id) || heldBack.has(candidate.id)) continue;
        inFlight.set(candidate.webhook_id, flying + 1);
        picked.push(candidate.id);
        if (picked.length === limit) break;
      }
      if (picked.length === 0) return { rows: [], waiting: true };
      const rows = await trx
        .updateTable('deliveries')
        .set({ locked_by: workerId, locked_until: now + leaseMs })
        .where('id', 'in', picked)
        .returningAll()
        .execute();
      return { rows, waiting: false };
    });
  }

  /** Of these deliveries, those with an earlier pending delivery of their webhook about one of their records. */
  private async heldBackByEarlier(executor: Executor, ids: readonly string[]): Promise<Set<string>> {
    // Written from the candidates outwards (their records, then earlier rows by index, then each
    // one's status by primary key): joining `deliveries` by status instead let SQLite start from
    // every pending delivery.
    const rows = await executor
      .selectFrom('delivery_records as mine')
      .innerJoin('delivery_records as earlier', (join) =>
        join
          .onRef('earlier.webhook_id', '=', 'mine.webhook_id')
          .onRef('earlier.record_id', '=', 'mine.record_id')
          .onRef('earlier.sequence', '<', 'mine.sequence'),
      )
      .select('mine.delivery_id')
      .distinct()
      .where('mine.delivery_id', 'in', [...ids])
      .where(({ exists, selectFrom }) =>
        exists(
          selectFrom('deliveries as before')
            .select('before.id')
            .whereRef('before.id', '=', 'earlier.delivery_id')
            .where('before.status', '=', 'pending'),
        ),
      )
      .execute();
    return new Set(rows.map((row) => row.delivery_id));
  }

  /** Leased (in flight) deliveries per webhook. */
  private async inFlightByWebhook(executor: Executor, now: number): Promise<Map<string, number>> {
    const rows = await executor
      .selectFrom('deliveries')
      .select(['webhook_id', (eb) => eb.fn.countAll().as('in_flight')])
      .where('locked_until', '>', now)
      .where('status', '=', 'pending')
      .groupBy('webhook_id')
      .execute();
    return new Map(rows.map((row) => [row.webhook_id, Number(row.in_flight)]));
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
    // The update is guarded by the lease and says which attempt this was; then the attempt is logged.
    const finished = await db
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
      .returning('attempts')
      .executeTakeFirst();
    if (!finished) return;
    await db
      .insertInto('delivery_attempts')
      .values({
        id: newId(outcome.attemptedAt),
        delivery_id: id,
        attempt: finished.attempts,
        started_at: outcome.attemptedAt,
        duration_ms: outcome.durationMs,
        request_headers: JSON.stringify(outcome.requestHeaders),
        status: outcome.status,
        response_headers: outcome.responseHeaders === null ? null : JSON.stringify(outcome.responseHeaders),
        response_body: outcome.responseBody,
        error: outcome.error,
      })
      .execute();
  }
}
