// Reading and steering a webhook's deliveries: list them by status, event, record and time (newest
// first, with cursors), show one with its attempts, send again (one, or all that a query matches),
// and purge old delivered history. One operation per method.
import type { SelectQueryBuilder } from 'kysely';
import type { Database, DeliveriesTable, DeliveryAttemptsTable, DeliveryStatus, Schema } from './database.js';
import { dueAtFor } from './delivery-queue.js';

export interface DeliveryQuery {
  readonly status?: DeliveryStatus;
  /** A concrete event name the delivery carries. */
  readonly event?: string;
  readonly recordId?: string;
  /** Created at or after / before (epoch ms). */
  readonly since?: number;
  readonly until?: number;
}

export interface DeliveryPage {
  readonly rows: DeliveriesTable[];
  readonly total: number;
  readonly hasNext: boolean;
}

type DeliveriesQuery = SelectQueryBuilder<Schema, 'deliveries', object>;

export class DeliveryLog {
  constructor(private readonly database: Database) {}

  private matching(spaceId: string, webhookId: string, query: DeliveryQuery): DeliveriesQuery {
    let builder = this.database.db
      .selectFrom('deliveries')
      .where('space_id', '=', spaceId)
      .where('webhook_id', '=', webhookId) as DeliveriesQuery;
    if (query.status) builder = builder.where('status', '=', query.status);
    // `events` is a JSON array of names; a quoted name cannot match inside another one. Callers pass
    // only accepted event names, which hold no LIKE wildcards.
    if (query.event) builder = builder.where('events', 'like', `%${JSON.stringify(query.event)}%`);
    if (query.since !== undefined) builder = builder.where('created_at', '>=', query.since);
    if (query.until !== undefined) builder = builder.where('created_at', '<', query.until);
    if (query.recordId) {
      const recordId = query.recordId;
      builder = builder.where(({ exists, selectFrom }) =>
        exists(
          selectFrom('delivery_records')
            .select('delivery_records.delivery_id')
            .whereRef('delivery_records.delivery_id', '=', 'deliveries.id')
            .where('delivery_records.record_id', '=', recordId),
        ),
      );
    }
    return builder;
  }

  /** Newest first; `after` is the id of the last row of the previous page. */
  async list(spaceId: string, webhookId: string, query: DeliveryQuery, first: number, after?: string): Promise<DeliveryPage> {
    const base = this.matching(spaceId, webhookId, query);
    let page = base.selectAll();
    if (after) page = page.where('id', '<', after);
    const [rows, total] = await Promise.all([
      page.orderBy('id', 'desc').limit(first + 1).execute(),
      base.select((eb) => eb.fn.countAll().as('total')).executeTakeFirstOrThrow(),
    ]);
    return { rows: rows.slice(0, first), total: Number(total.total), hasNext: rows.length > first };
  }

  async find(spaceId: string, webhookId: string, deliveryId: string): Promise<{ delivery: DeliveriesTable; attempts: DeliveryAttemptsTable[] } | undefined> {
    const delivery = await this.database.db
      .selectFrom('deliveries')
      .selectAll()
      .where('space_id', '=', spaceId)
      .where('webhook_id', '=', webhookId)
      .where('id', '=', deliveryId)
      .executeTakeFirst();
    if (!delivery) return undefined;
    const attempts = await this.database.db
      .selectFrom('delivery_attempts')
      .selectAll()
      .where('delivery_id', '=', deliveryId)
      .orderBy('attempt')
      .execute();
    return { delivery, attempts };
  }

  async count(spaceId: string, webhookId: string, query: DeliveryQuery): Promise<number> {
    const row = await this.matching(spaceId, webhookId, query).select((eb) => eb.fn.countAll().as('total')).executeTakeFirstOrThrow();
    return Number(row.total);
  }

  /**
   * Sends the matching deliveries again, as soon as possible (a disabled webhook's once it is enabled),
   * with their own webhook-id and bytes. Deliveries being sent right now are left alone. Returns how
   * many were queued.
   */
  async requeue(
    spaceId: string,
    webhook: { readonly id: string; readonly is_disabled?: unknown },
    query: DeliveryQuery & { readonly ids?: readonly string[] },
    now: number,
  ): Promise<number> {
    const webhookId = webhook.id;
    let ids = this.matching(spaceId, webhookId, query)
      .select('id')
      .where((eb) => eb.or([eb('status', '<>', 'pending'), eb('locked_until', 'is', null), eb('locked_until', '<', now)]));
    if (query.ids) ids = ids.where('id', 'in', [...query.ids]);
    const result = await this.database.db
      .updateTable('deliveries')
      .set({ status: 'pending', due_at: dueAtFor(webhook, now), finished_at: null, locked_by: null, locked_until: null })
      .where('id', 'in', ids)
      .executeTakeFirst();
    return Number(result.numUpdatedRows);
  }

  /** Deletes delivered history finished before `before` (epoch ms); returns how many deliveries went. */
  async purgeDelivered(before: number): Promise<number> {
    const { db } = this.database;
    const old = db.selectFrom('deliveries').select('id').where('status', '=', 'delivered').where('finished_at', '<', before);
    await db.deleteFrom('delivery_attempts').where('delivery_id', 'in', old).execute();
    await db.deleteFrom('delivery_records').where('delivery_id', 'in', old).execute();
    const result = await db.deleteFrom('deliveries').where('id', 'in', old).executeTakeFirst();
    return Number(result.numDeletedRows);
  }
}
