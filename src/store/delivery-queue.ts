// The DeliveryQueue port's implementation: the `deliveries` table as outbox and job queue. Claims are
// leases (locked_by / locked_until): a claimed row stays pending, and a worker that dies leaves a lease
// that simply runs out. One operation per method.
import { sql, type ExpressionBuilder, type RawBuilder, type Transaction } from 'kysely';
import type { Database, DeliveriesTable, Executor, Schema } from './database.js';
import { bindValue, fieldExpression } from './json-fields.js';
import { notifyDeliveriesEnqueued } from './wakeups.js';
import { trippedBreakers } from './webhook-status.js';
import { isHalfOpen, type Health } from '../domain/circuit-breaker.js';
import { newId } from '../domain/ids.js';

export type NewDelivery = Omit<DeliveriesTable, 'attempts' | 'last_attempt_at' | 'last_status' | 'last_error' | 'locked_by' | 'locked_until' | 'finished_at' | 'status'> & {
  /** The records the delivery's items are about. */
  readonly recordIds: readonly string[];
  /** Orders the deliveries of one record for one webhook: increases with each commit in a space. */
  readonly sequence: number;
};

/**
 * What a worker needs of a claimed delivery. A claim reads no more: converting every column of the
 * claimed rows cost 350 µs of a claim's 800 in the drain (16 rows, timed in the process).
 */
const CLAIMED_COLUMNS = ['id', 'space_id', 'webhook_id', 'body', 'attempts', 'due_at'] as const;
export type ClaimedDelivery = Pick<DeliveriesTable, (typeof CLAIMED_COLUMNS)[number]>;

export interface ClaimResult {
  readonly rows: ClaimedDelivery[];
  /** Due deliveries may exist that could not be taken now (their webhook capped, or paused). */
  readonly waiting: boolean;
}

/** Finished attempts per statement: 7 parameters each, well under SQLite's limit. */
const FINISHED_PER_STATEMENT = 200;

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

/** An attempt that has ended, and what becomes of its delivery. */
export interface FinishedAttempt {
  readonly id: string;
  readonly outcome: AttemptOutcome;
  /** Delivered, failed for good, or pending again until `dueAt` (a retry). */
  readonly next: { status: 'delivered' } | { status: 'failed' } | { status: 'pending'; dueAt: number };
}

/**
 * The due time of a disabled webhook's deliveries: beyond any claim's reach, so they cost nothing
 * until the webhook is enabled, when they fall due at once. Its backlog grows with every matching
 * write; left due, it was skipped row by row by every claim that read in due order (with 4,000 of
 * them an API write on SQLite cost 6.0 ms of CPU instead of 2.4), and it kept idle workers waking.
 */
export const HELD_UNTIL_ENABLED = Number.MAX_SAFE_INTEGER;

/** When a delivery of `webhook` meant for `at` falls due: then, or once it is enabled if it is disabled. */
export const dueAtFor = (webhook: Readonly<Record<string, unknown>>, at: number) => (webhook.is_disabled === true ? HELD_UNTIL_ENABLED : at);

/** An update of a webhook's deliveries that wait to be sent: pending, and not in flight. */
const updateWaiting = (executor: Executor, webhookId: string, now: number) =>
  executor
    .updateTable('deliveries')
    .where('webhook_id', '=', webhookId)
    .where('status', '=', 'pending')
    .where((eb) => eb.or([eb('locked_until', 'is', null), eb('locked_until', '<', now)]));

/** The webhook was disabled: its waiting deliveries are held. */
export async function holdDeliveries(executor: Executor, webhookId: string, now: number): Promise<void> {
  await updateWaiting(executor, webhookId, now).set({ due_at: HELD_UNTIL_ENABLED }).execute();
}

/** The webhook was enabled again: its held deliveries are due now. */
export async function releaseDeliveries(executor: Executor, webhookId: string, now: number): Promise<void> {
  await executor
    .updateTable('deliveries')
    .set({ due_at: now })
    .where('webhook_id', '=', webhookId)
    .where('status', '=', 'pending')
    .where('due_at', '=', HELD_UNTIL_ENABLED)
    .execute();
}

/** The webhook was deleted: its waiting deliveries, held or not, are given up. */
export async function giveUpWaitingDeliveries(executor: Executor, webhookId: string, reason: string, now: number): Promise<void> {
  await updateWaiting(executor, webhookId, now).set({ status: 'failed', last_error: reason, finished_at: now }).execute();
}

/**
 * A recursive query's step, named `name`: each webhook whose id is after `after` (and at most `upTo`)
 * that has pending deliveries not leased, or whose lease ended by `leasesEndedBy`; as its earliest
 * such delivery's id, space_id, webhook_id and due_at. It steps from one webhook to the next along
 * the index on (status, webhook_id, due_at): one seek each, however long each one's backlog.
 */
function webhooksWithPending(name: string, leasesEndedBy: number | null, after: string, upTo: string | null) {
  const earliestAfter = (previous: unknown) => sql`
    SELECT id FROM deliveries
    WHERE status = 'pending' AND webhook_id > ${previous} ${upTo === null ? sql`` : sql`AND webhook_id <= ${upTo}`}
      AND ${leasesEndedBy === null ? sql`locked_until IS NULL` : sql`(locked_until IS NULL OR locked_until < ${leasesEndedBy})`}
    ORDER BY webhook_id, due_at LIMIT 1`;
  const step = sql.table(name);
  return sql`${step} (id, space_id, webhook_id, due_at) AS (
    SELECT id, space_id, webhook_id, due_at FROM deliveries WHERE id = (${earliestAfter(after)})
    UNION ALL
    SELECT next.id, next.space_id, next.webhook_id, next.due_at
    FROM ${step} JOIN deliveries AS next ON next.id = (${earliestAfter(sql.ref(`${name}.webhook_id`))})
  )`;
}

/** How many more of a webhook's deliveries a claim may put in flight: `perWebhook`, or less as `rooms` says. */
interface Rooms {
  readonly rooms: ReadonlyMap<string, number>;
  readonly perWebhook: number;
}
const roomOf = ({ rooms, perWebhook }: Rooms, webhookId: string) => rooms.get(webhookId) ?? perWebhook;

/** A webhook asked, in a round of a claim, for up to `share` rows (its `room` is before them). */
interface Ask {
  readonly webhookId: string;
  readonly room: number;
  readonly share: number;
}

/** A round of a claim: who was asked, and what they gave (leased to the claiming worker). */
interface Round {
  readonly asks: readonly Ask[];
  readonly leased: readonly ClaimedDelivery[];
}

/** The lease a claim gives: to whom, until when. */
interface Lease {
  readonly workerId: string;
  readonly until: number;
}

/** Of `wanted` rows shared equally among `asked` webhooks (the first few one more), the one at `turn`'s (from 0). */
const equalShare = (wanted: number, asked: number, turn: number) => Math.floor(wanted / asked) + (turn < wanted % asked ? 1 : 0);

/** `wanted` rows shared equally among `webhooks`, each within its room. */
const shares = (webhooks: readonly Omit<Ask, 'share'>[], wanted: number): Ask[] =>
  webhooks.map((webhook, turn) => ({ ...webhook, share: Math.min(webhook.room, equalShare(wanted, webhooks.length, turn)) }));

export class DeliveryQueue {
  /** Where the last claim's turn of webhooks ended: the next one starts after it. */
  private lastWebhookClaimed = '';

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
   * Records the `finished` attempts of `workerId` (see finishAttempts), then leases it up to `limit`
   * due deliveries until `now + leaseMs`, all in one transaction (a worker's one commit per batch),
   * fairly:
   * - per record: a delivery waits while an earlier one of the same webhook about one of its records
   *   is still pending (commit order; a failing record holds back only its own later deliveries);
   * - per webhook: the worker has at most `perWebhook` of a webhook's deliveries in flight at once
   *   (`sending` counts its attempts in flight), so a slow receiver cannot take all its slots;
   * - across webhooks: each webhook that can go gets an equal share of the claim, and takes turns
   *   when more of them have work than the claim has rows;
   * - a disabled webhook's deliveries wait, and so do those of a webhook whose breaker is open;
   *   a half-open breaker lets one through at a time, across all workers.
   * Steps: read the tripped breakers (and what is in flight to the half-open ones); find the webhooks
   * that can go (webhooksThatCanGo); read and lease each one's earliest due rows up to its share
   * (firstRound); share out again what some could not fill (shareOut). A webhook that cannot go is
   * never read past: a silent receiver's backlog, or a capped webhook's, costs a claim nothing. (The
   * window in due order this replaced read past each such row: on PostgreSQL 4.2 ms a claim beside a
   * silent webhook against 0.86 ms; on SQLite overloaded, 71 % of claims read the backlog for nothing.)
   * What it costs instead: when fewer webhooks can go than the claim has rows, finding them steps
   * through every webhook with pending deliveries, due or not (see webhooksThatCanGo).
   */
  async claimDue(
    workerId: string,
    now: number,
    limit: number,
    leaseMs: number,
    fairness: { perWebhook?: number; sending?: ReadonlyMap<string, number>; breakerThreshold?: number } = {},
    finished: readonly FinishedAttempt[] = [],
  ): Promise<ClaimResult> {
    const perWebhook = fairness.perWebhook ?? limit;
    return this.database.db.transaction().execute(async (trx) => {
      await this.finishIn(trx, workerId, finished);
      if (limit <= 0) return { rows: [], waiting: false };
      const tripped = fairness.breakerThreshold === undefined ? new Map<string, Health>() : await trippedBreakers(trx, fairness.breakerThreshold);
      const threshold = fairness.breakerThreshold ?? 0;
      const halfOpen = new Set([...tripped.keys()].filter((webhookId) => isHalfOpen(tripped.get(webhookId), now, threshold)));
      // A half-open breaker lets one probe through across all workers: the lease index tells what is
      // in flight to these few webhooks; every other webhook's cap counts this worker's attempts.
      const probesInFlight = await this.leasedOf(trx, [...halfOpen], now);
      // Room for more in flight, where it is less than `perWebhook`.
      const rooms = new Map<string, number>();
      for (const webhookId of halfOpen) rooms.set(webhookId, 1 - (probesInFlight.get(webhookId) ?? 0));
      for (const [webhookId, sending] of fairness.sending ?? []) if (!halfOpen.has(webhookId)) rooms.set(webhookId, perWebhook - sending);
      const cannotGo = new Set<string>();
      for (const [webhookId, health] of tripped) if (health.openUntil !== null && health.openUntil > now) cannotGo.add(webhookId);
      for (const [webhookId, room] of rooms) if (room <= 0) cannotGo.add(webhookId);
      const lease = { workerId, until: now + leaseMs };
      const rows = await this.shareOut(trx, await this.firstRound(trx, now, limit, cannotGo, { rooms, perWebhook }, lease), now, limit, lease);
      return { rows, waiting: cannotGo.size > 0 };
    });
  }

  /**
   * A claim's first round: the webhooks that can go (see webhooksThatCanGo), each asked for its
   * share, and what they gave, leased. On PostgreSQL one statement does it all (the window and the
   * lease before it were two round trips); its rows say which webhooks gave and each one's turn, from
   * which the shares are worked out again as the statement did.
   */
  private async firstRound(trx: Transaction<Schema>, now: number, limit: number, cannotGo: ReadonlySet<string>, rooms: Rooms, lease: Lease): Promise<Round> {
    const canGo = this.webhooksThatCanGo(now, limit, cannotGo);
    if (!this.database.capabilities.rowLocks) {
      const found = await sql<{ webhook_id: string }>`WITH RECURSIVE ${canGo} SELECT webhook_id FROM can_go`.execute(trx);
      const webhookIds = found.rows.map((row) => row.webhook_id);
      if (webhookIds.length === 0) return { asks: [], leased: [] };
      this.lastWebhookClaimed = webhookIds[webhookIds.length - 1]!;
      const asks = shares(webhookIds.map((webhookId) => ({ webhookId, room: roomOf(rooms, webhookId) })), limit);
      return { asks, leased: await this.leaseEarliest(trx, asks, now, lease) };
    }
    const leased = await sql<ClaimedDelivery & { turn: number; asked: number }>`
      WITH RECURSIVE ${canGo},
      numbered AS (SELECT webhook_id, row_number() OVER () AS turn, count(*) OVER () AS asked FROM can_go),
      ask AS (
        SELECT numbered.webhook_id, turn, asked, LEAST(
          COALESCE(room.room, CAST(${rooms.perWebhook} AS INTEGER)),
          CAST(${limit} AS INTEGER) / asked + CASE WHEN turn <= CAST(${limit} AS INTEGER) % asked THEN 1 ELSE 0 END) AS wanted
        FROM numbered
        LEFT JOIN unnest(CAST(${[...rooms.rooms.keys()]} AS TEXT[]), CAST(${[...rooms.rooms.values()]} AS INTEGER[])) AS room (webhook_id, room)
          ON room.webhook_id = numbered.webhook_id),
      ${this.pickedAndLeased(sql`ask`, now, lease, ['turn', 'asked'])}`.execute(trx);
    if (leased.rows.length === 0) return { asks: [], leased: [] };
    const asked = Number(leased.rows[0]!.asked);
    const turns = [...new Map(leased.rows.map((row) => [row.webhook_id, Number(row.turn)]))].sort(([, one], [, other]) => one - other);
    this.lastWebhookClaimed = turns[turns.length - 1]![0];
    const asks = turns.map(([webhookId, turn]) => {
      const room = roomOf(rooms, webhookId);
      return { webhookId, room, share: Math.min(room, equalShare(limit, asked, turn - 1)) };
    });
    return { asks, leased: leased.rows.map(({ turn: _turn, asked: _asked, ...row }) => row) };
  }

  /**
   * Up to `limit` due deliveries, leased: the first round's, then again and again among the webhooks
   * that filled their share, for what the others left. Most claims need only the first round.
   */
  private async shareOut(trx: Transaction<Schema>, firstRound: Round, now: number, limit: number, lease: Lease) {
    const claimed: ClaimedDelivery[] = [];
    let { asks, leased } = firstRound;
    for (;;) {
      claimed.push(...leased);
      const leasedOf = new Map<string, number>();
      for (const row of leased) leasedOf.set(row.webhook_id, (leasedOf.get(row.webhook_id) ?? 0) + 1);
      // A webhook that gave all it was asked for may have more; one that gave less has no more now.
      const open = asks.flatMap(({ webhookId, room, share }) =>
        share === 0 || ((leasedOf.get(webhookId) ?? 0) === share && room > share) ? [{ webhookId, room: room - share }] : [],
      );
      if (claimed.length >= limit || open.length === 0) return claimed;
      asks = shares(open, limit - claimed.length);
      leased = await this.leaseEarliest(trx, asks, now, lease);
    }
  }

  /** Leases each asked webhook's earliest deliveries that can go now, up to its share. */
  private async leaseEarliest(trx: Transaction<Schema>, asks: readonly Ask[], now: number, lease: Lease): Promise<ClaimedDelivery[]> {
    const asked = asks.filter((ask) => ask.share > 0);
    if (this.database.capabilities.rowLocks) {
      // One statement however many webhooks are asked, parsed and planned once per connection.
      const leased = await sql<ClaimedDelivery>`
        WITH ${this.pickedAndLeased(sql`unnest(CAST(${asked.map((ask) => ask.webhookId)} AS TEXT[]), CAST(${asked.map((ask) => ask.share)} AS INTEGER[])) AS ask (webhook_id, wanted)`, now, lease)}`.execute(trx);
      return leased.rows;
    }
    // SQLite has no LATERAL: one arm per webhook.
    const arms = asked.map(({ webhookId, share }) => trx.selectFrom(this.earliestDue(webhookId, now, share).as('earliest')).select(CLAIMED_COLUMNS));
    const found = await arms.slice(1).reduce((all, arm) => all.unionAll(arm), arms[0]!).execute();
    // Not RETURNING the leased rows: the claim already read what the worker needs, and SQLite's
    // RETURNING cost more than the rest of the update (737 µs of 890 for 32 rows).
    if (found.length > 0) {
      await trx.updateTable('deliveries').set({ locked_by: lease.workerId, locked_until: lease.until }).where('id', 'in', found.map((row) => row.id)).execute();
    }
    return found;
  }

  /**
   * PostgreSQL: the common table expression `picked`, each webhook of `ask` (columns webhook_id,
   * wanted, and any of `alsoReturned`) with its earliest rows up to `wanted`, locked with SKIP LOCKED
   * so that concurrent workers read disjoint rows; then the update that leases them, returning the
   * claimed columns and `alsoReturned`.
   */
  private pickedAndLeased(ask: RawBuilder<unknown>, now: number, lease: Lease, alsoReturned: readonly string[] = []) {
    const earliest = this.earliestDue(sql.ref<string>('ask.webhook_id'), now, sql.ref<number>('ask.wanted')).forUpdate().skipLocked();
    const returned = [...CLAIMED_COLUMNS, ...alsoReturned].map((column) => sql.ref(`picked.${column}`));
    return sql`picked AS (SELECT earliest.*${sql.join(alsoReturned.map((column) => sql`, ${sql.ref(`ask.${column}`)}`), sql``)} FROM ${ask} CROSS JOIN LATERAL (${earliest}) AS earliest)
      UPDATE deliveries SET locked_by = ${lease.workerId}, locked_until = ${lease.until}
      FROM picked WHERE deliveries.id = picked.id
      RETURNING ${sql.join(returned)}`;
  }

  /** Up to `count` of the webhook's earliest deliveries that can go now, in due order. */
  private earliestDue(webhookId: string | RawBuilder<string>, now: number, count: number | RawBuilder<number>) {
    return this.database.db
      .selectFrom('deliveries')
      .select(CLAIMED_COLUMNS)
      .where('status', '=', 'pending')
      .where(sql.ref('webhook_id'), '=', webhookId)
      .where('due_at', '<=', now)
      .where((eb) => eb.or([eb('locked_until', 'is', null), eb('locked_until', '<', now)]))
      .where((eb) => eb(this.earlierPending()(eb), 'is', null))
      .orderBy('due_at')
      .limit(typeof count === 'number' ? this.limitOf(count) : count);
  }

  /**
   * A LIMIT: on SQLite written into the statement, as a bound parameter made the claim's statements
   * slower (one webhook's window of 16: 93-123 µs against 55; the webhooks-that-can-go step: 89 µs
   * against 12). On PostgreSQL a parameter, so that one prepared statement serves every count.
   */
  private limitOf(count: number) {
    return this.database.dialect === 'sqlite' ? sql.lit(count) : sql<number>`${count}`;
  }

  /**
   * Common table expressions, the last named `can_go`: up to `count` webhooks that can go now, whose
   * earliest claimable delivery is due, that are enabled, and not in `excluded`. In id order from just
   * after the last claim's last webhook, round to it again: however many webhooks have work, each
   * gets its turn. Finding fewer than `count` means stepping through every webhook with pending
   * deliveries: with 1,000 whose deliveries all wait for a retry, a claim took 25.6 ms on PostgreSQL
   * (2.5 ms with the window in due order before) and 3.6 ms on SQLite (1.7 ms), and so did the
   * idle worker's nextDueAt (26.8 and 1.9 ms, against 1.5 and 0.6).
   */
  private webhooksThatCanGo(now: number, count: number, excluded: ReadonlySet<string>) {
    const after = this.lastWebhookClaimed;
    return sql`${webhooksWithPending('later', now, after, null)}, ${webhooksWithPending('earlier', now, '', after)},
      can_go AS (
        SELECT webhook_id FROM (SELECT * FROM later UNION ALL SELECT * FROM earlier) AS head
        WHERE due_at <= ${now}
          ${excluded.size > 0 ? sql`AND webhook_id NOT IN (${sql.join([...excluded])})` : sql``}
          AND ${this.webhookEnabled(sql.ref('head.space_id'), sql.ref('head.webhook_id'))}
        LIMIT ${this.limitOf(count)})`;
  }

  /**
   * For the delivery in the outer query: an earlier pending delivery of its webhook about one of its
   * records, which it must wait for (null when there is none). Read from the delivery outwards: its
   * records, then earlier rows by index, then each one's status by primary key. Written as a scalar
   * subquery with a scalar status lookup, never a join: as NOT EXISTS, PostgreSQL turned it into an
   * anti-join over every pending delivery whenever its statistics lagged a queue that had just grown
   * (680 ms a claim at 100,000 queued); as it is, both databases look it up per candidate row.
   */
  private earlierPending() {
    return ({ selectFrom }: ExpressionBuilder<Schema, 'deliveries'>) =>
      selectFrom('delivery_records as mine')
        .innerJoin('delivery_records as earlier', (join) =>
          join
            .onRef('earlier.webhook_id', '=', 'mine.webhook_id')
            .onRef('earlier.record_id', '=', 'mine.record_id')
            .onRef('earlier.sequence', '<', 'mine.sequence'),
        )
        .select('earlier.delivery_id')
        .whereRef('mine.delivery_id', '=', 'deliveries.id')
        .where(
          (eb) => eb.selectFrom('deliveries as before').select('before.status').whereRef('before.id', '=', 'earlier.delivery_id'),
          '=',
          'pending',
        )
        .limit(1);
  }

  /** Of `webhookIds`, how many deliveries each has leased (in flight) now; absent when none. */
  private async leasedOf(executor: Executor, webhookIds: readonly string[], now: number): Promise<Map<string, number>> {
    if (webhookIds.length === 0) return new Map();
    // Only pending rows are leased (an attempt's end clears its lease), so the lease index alone
    // answers this: few rows, however long the queue.
    const rows = await executor
      .selectFrom('deliveries')
      .select(['webhook_id', (eb) => eb.fn.countAll().as('in_flight')])
      .where('locked_until', '>', now)
      .where('webhook_id', 'in', [...webhookIds])
      .groupBy('webhook_id')
      .execute();
    return new Map(rows.map((row) => [row.webhook_id, Number(row.in_flight)]));
  }

  /**
   * When the next pending delivery can be claimed (epoch ms): when the earliest one not leased falls
   * due, or when the earliest lease runs out. Null when none is waiting. Read webhook by webhook and
   * in index order, one row each: a worker asks whenever it goes idle.
   */
  async nextDueAt(): Promise<number | null> {
    const { db } = this.database;
    const [due, leaseEnd] = await Promise.all([
      sql<{ at: number | null }>`
        WITH RECURSIVE ${webhooksWithPending('head', null, '', null)}
        SELECT min(due_at) AS at FROM head
        WHERE due_at < ${HELD_UNTIL_ENABLED} AND ${this.webhookEnabled(sql.ref('head.space_id'), sql.ref('head.webhook_id'))}`.execute(db),
      // Only pending rows are leased (an attempt's end clears its lease).
      db.selectFrom('deliveries').select('locked_until as at').where('locked_until', 'is not', null).orderBy('locked_until').limit(1).executeTakeFirst(),
    ]);
    const times = [due.rows[0]?.at, leaseEnd?.at].filter((at): at is number => at !== null && at !== undefined).map(Number);
    return times.length === 0 ? null : Math.min(...times);
  }

  /** A disabled webhook's deliveries wait: they go out once it is enabled again. */
  private webhookEnabled(spaceId: RawBuilder<unknown>, webhookId: RawBuilder<unknown>) {
    const { dialect } = this.database;
    const disabled = sql`${fieldExpression(dialect, 'is_disabled', 'boolean')} = ${bindValue(dialect, true)}`;
    return sql`NOT EXISTS (SELECT 1 FROM records WHERE records.space_id = ${spaceId} AND records.id = ${webhookId} AND ${disabled})`;
  }

  /**
   * A webhook's breaker opened: its due deliveries that are not in flight wait until `until`. Moved
   * out of the due range once, none of them is due while it is paused, so idle workers sleep.
   */
  async postpone(spaceId: string, webhookId: string, until: number, now: number): Promise<void> {
    await this.database.db
      .updateTable('deliveries')
      .set({ due_at: until })
      .where('space_id', '=', spaceId)
      .where('webhook_id', '=', webhookId)
      .where('status', '=', 'pending')
      .where('due_at', '<', until)
      .where((eb) => eb.or([eb('locked_until', 'is', null), eb('locked_until', '<', now)]))
      .execute();
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
   * Records finished attempts and releases their leases, in one transaction (one statement for the
   * deliveries and one for the attempt log per batch). Only the lease holder may:
   * a late worker whose lease ran out changes nothing, and its attempt is not logged twice.
   */
  async finishAttempts(workerId: string, finished: readonly FinishedAttempt[]): Promise<void> {
    if (finished.length === 0) return;
    await this.database.db.transaction().execute((trx) => this.finishIn(trx, workerId, finished));
  }

  private async finishIn(trx: Executor, workerId: string, finished: readonly FinishedAttempt[]): Promise<void> {
    for (let start = 0; start < finished.length; start += FINISHED_PER_STATEMENT) {
      await this.finishChunk(trx, workerId, finished.slice(start, start + FINISHED_PER_STATEMENT));
    }
  }

  private async finishChunk(trx: Executor, workerId: string, finished: readonly FinishedAttempt[]): Promise<void> {
    if (this.database.dialect === 'postgres') return this.finishInOneStatement(trx, workerId, finished);
    // One UPDATE … FROM (VALUES …) for the whole chunk (VALUES columns are named column1…), then the
    // attempt log's rows for those the worker still held.
    const values = finished.map(({ id, outcome, next }) => sql`(
      CAST(${id} AS TEXT), CAST(${next.status} AS TEXT), CAST(${next.status === 'pending' ? next.dueAt : null} AS BIGINT),
      CAST(${next.status === 'pending' ? null : outcome.attemptedAt} AS BIGINT), CAST(${outcome.attemptedAt} AS BIGINT),
      CAST(${outcome.status} AS INTEGER), CAST(${outcome.error} AS TEXT))`);
    const updated = await sql<{ id: string; attempts: number }>`
      UPDATE deliveries SET
        status = v.column2, due_at = COALESCE(v.column3, deliveries.due_at), finished_at = v.column4,
        attempts = deliveries.attempts + 1, last_attempt_at = v.column5, last_status = v.column6, last_error = v.column7,
        locked_by = NULL, locked_until = NULL
      FROM (VALUES ${sql.join(values)}) AS v
      WHERE deliveries.id = v.column1 AND deliveries.locked_by = ${workerId}
      RETURNING deliveries.id, deliveries.attempts`.execute(trx);
    const attemptNumbers = new Map(updated.rows.map((row) => [row.id, Number(row.attempts)]));
    const logged = finished.filter(({ id }) => attemptNumbers.has(id));
    if (logged.length === 0) return;
    await trx
      .insertInto('delivery_attempts')
      .values(logged.map(({ id, outcome }) => attemptLogRow(id, outcome, attemptNumbers.get(id)!)))
      .execute();
  }

  /**
   * PostgreSQL: the deliveries' update and the attempt log's insert in one statement (a WITH that
   * updates), one round trip where there were two; the chunk's columns go as arrays, so the text, and
   * its prepared statement, is the same however many attempts ended.
   */
  private async finishInOneStatement(trx: Executor, workerId: string, finished: readonly FinishedAttempt[]): Promise<void> {
    // The statement numbers the attempts itself, from the updated deliveries.
    const logRows = finished.map(({ id, outcome }) => attemptLogRow(id, outcome, null));
    const array = (values: readonly unknown[], type: 'TEXT' | 'BIGINT' | 'INTEGER') => sql`CAST(${values} AS ${sql.raw(type)}[])`;
    await sql`
      WITH finished AS (
        SELECT * FROM unnest(
          ${array(finished.map(({ id }) => id), 'TEXT')}, ${array(finished.map(({ next }) => next.status), 'TEXT')},
          ${array(finished.map(({ next }) => (next.status === 'pending' ? next.dueAt : null)), 'BIGINT')},
          ${array(finished.map(({ next, outcome }) => (next.status === 'pending' ? null : outcome.attemptedAt)), 'BIGINT')},
          ${array(logRows.map((row) => row.id), 'TEXT')}, ${array(logRows.map((row) => row.started_at), 'BIGINT')},
          ${array(logRows.map((row) => row.duration_ms), 'INTEGER')}, ${array(logRows.map((row) => row.request_headers), 'TEXT')},
          ${array(logRows.map((row) => row.status), 'INTEGER')}, ${array(logRows.map((row) => row.response_headers), 'TEXT')},
          ${array(logRows.map((row) => row.response_body), 'TEXT')}, ${array(logRows.map((row) => row.error), 'TEXT')}
        ) AS f (id, next_status, next_due_at, finished_at, attempt_id, started_at, duration_ms, request_headers, status, response_headers, response_body, error)),
      updated AS (
        UPDATE deliveries SET
          status = f.next_status, due_at = COALESCE(f.next_due_at, deliveries.due_at), finished_at = f.finished_at,
          attempts = deliveries.attempts + 1, last_attempt_at = f.started_at, last_status = f.status, last_error = f.error,
          locked_by = NULL, locked_until = NULL
        FROM finished AS f
        WHERE deliveries.id = f.id AND deliveries.locked_by = ${workerId}
        RETURNING deliveries.id, deliveries.attempts)
      INSERT INTO delivery_attempts (id, delivery_id, attempt, started_at, duration_ms, request_headers, status, response_headers, response_body, error)
      SELECT f.attempt_id, f.id, updated.attempts, f.started_at, f.duration_ms, f.request_headers, f.status, f.response_headers, f.response_body, f.error
      FROM finished AS f JOIN updated ON updated.id = f.id`.execute(trx);
  }
}

/**
 * An attempt's row in the attempt log; its number is known once its delivery is updated. Built whole:
 * with the number added afterwards, by spreading this into a new object, SQLite's claims in the
 * queue's own loop took 1.24 and 1.86 ms against 1.12 and 1.64 ms, alternating.
 */
const attemptLogRow = <Attempt extends number | null>(deliveryId: string, outcome: AttemptOutcome, attempt: Attempt) => ({
  id: newId(outcome.attemptedAt),
  delivery_id: deliveryId,
  attempt,
  started_at: outcome.attemptedAt,
  duration_ms: outcome.durationMs,
  request_headers: JSON.stringify(outcome.requestHeaders),
  status: outcome.status,
  response_headers: outcome.responseHeaders === null ? null : JSON.stringify(outcome.responseHeaders),
  response_body: outcome.responseBody,
  error: outcome.error,
});
