// The DeliveryQueue port's implementation: the `deliveries` table as outbox and job queue. Claims are
// leases (locked_by / locked_until): a claimed row stays pending, and a worker that dies leaves a lease
// that simply runs out. One operation per method.
import { sql, type ExpressionBuilder, type RawBuilder } from 'kysely';
import type { Database, DeliveriesTable, Executor, Schema } from './database.js';
import { bindValue, fieldExpression } from './json-fields.js';
import { slots, StatementTemplate } from './statement-template.js';
import { notifyDeliveriesEnqueued, workersNotified } from './wakeups.js';
import { trippedBreakers } from './webhook-status.js';
import { SEPARATOR } from '../domain/body-template.js';
import { isHalfOpen, type Health } from '../domain/circuit-breaker.js';
import { newId } from '../domain/ids.js';
import { CHUNKS_PER_OPERATION } from '../domain/notification.js';

export type NewDelivery = Omit<DeliveriesTable, 'attempts' | 'last_attempt_at' | 'last_status' | 'last_error' | 'locked_by' | 'locked_until' | 'finished_at' | 'status'> & {
  /** The records the delivery's items are about. */
  readonly recordIds: readonly string[];
  /** Orders the deliveries of one record for one webhook: increases with each commit in a space (see deliverySequence). */
  readonly sequence: number;
};

/**
 * A delivery rendered before its write's revisions were taken (PostgreSQL, see
 * RecordStore.takeRevisionsAndCommit): `body` is a template (see domain/body-template.ts) and `sequence`
 * is the chunk's, `deliverySequence(0, chunk)`, both completed by the statement that takes them.
 */
export type DeliveryAwaitingRevisions = NewDelivery;

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

/** A new delivery's columns, in the order of the insert's values, with their PostgreSQL types. */
const ENQUEUED_COLUMNS = [
  ['id', 'TEXT'], ['space_id', 'TEXT'], ['webhook_id', 'TEXT'], ['operation_id', 'TEXT'], ['chunk_index', 'INTEGER'],
  ['events', 'TEXT'], ['item_count', 'INTEGER'], ['body', 'TEXT'], ['due_at', 'BIGINT'], ['created_at', 'BIGINT'],
] as const satisfies readonly (readonly [keyof NewDelivery, string])[];
const WEBHOOK_ID_COLUMN = ENQUEUED_COLUMNS.findIndex(([name]) => name === 'webhook_id');
/** A delivery's link to one of its records: delivery_records' columns, likewise. */
const LINK_COLUMNS = [['delivery_id', 'TEXT'], ['webhook_id', 'TEXT'], ['record_id', 'TEXT'], ['sequence', 'BIGINT']] as const;

/** Each delivery's link to each of its records. */
const linksOf = (deliveries: readonly NewDelivery[]) =>
  deliveries.flatMap((delivery) => [...new Set(delivery.recordIds)].map((recordId) => ({ delivery, recordId })));

/** The values of enqueuedAndAnnounced, for `deliveries`: an array for each of ENQUEUED_COLUMNS and LINK_COLUMNS. */
export function enqueuedValues(deliveries: readonly NewDelivery[]): unknown[] {
  const links = linksOf(deliveries);
  return [
    ...ENQUEUED_COLUMNS.map(([column]) => deliveries.map((delivery) => delivery[column])),
    links.map(({ delivery }) => delivery.id), links.map(({ delivery }) => delivery.webhook_id),
    links.map(({ recordId }) => recordId), links.map(({ delivery }) => delivery.sequence),
  ];
}

/**
 * PostgreSQL: common table expressions that store a write's deliveries and their records' links and,
 * once it commits, wake the other processes' workers, naming the webhooks, the last named
 * `announced`. Where they took three round trips (two of them in the write's turn), they take part
 * of one; the columns go as arrays, so the text is the same for any number of rows. Values from
 * the `first`th: see enqueuedValues. With `revision` (an expression: the write's last revision,
 * taken in the same statement), the deliveries were rendered before it was taken: their bodies are
 * templates (see domain/body-template.ts) and their sequences count from it (see deliverySequence).
 */
export function enqueuedAndAnnounced(slot: (index: number) => never, first: number, revision?: RawBuilder<number>) {
  const arrays = (columns: readonly (readonly [string, string])[], from: number) =>
    sql.join(columns.map(([, type], index) => sql`CAST(${slot(first + from + index)} AS ${sql.raw(type)}[])`));
  const names = (columns: readonly (readonly [string, string])[]) => sql.raw(columns.map(([name]) => name).join(', '));
  // Every second part of the template split at the separator is an offset from the revision.
  const body = revision ? sql`(
    SELECT string_agg(CASE WHEN part.n % 2 = 0 THEN CAST(${revision} + CAST(part.text AS BIGINT) AS TEXT) ELSE part.text END, '' ORDER BY part.n)
    FROM unnest(string_to_array(enqueued.body, ${sql.lit(SEPARATOR)})) WITH ORDINALITY AS part (text, n))` : sql.ref('body');
  const sequence = revision ? sql`sequence + ${revision} * ${sql.lit(CHUNKS_PER_OPERATION)}` : sql.ref('sequence');
  const enqueuedColumns = sql.join(ENQUEUED_COLUMNS.map(([name]) => (name === 'body' ? body : sql.ref(name))));
  const linkColumns = sql.join(LINK_COLUMNS.map(([name]) => (name === 'sequence' ? sequence : sql.ref(name))));
  return sql`
    enqueued AS (
      INSERT INTO deliveries (${names(ENQUEUED_COLUMNS)}, status, attempts)
      SELECT ${enqueuedColumns}, 'pending', 0 FROM unnest(${arrays(ENQUEUED_COLUMNS, 0)}) AS enqueued (${names(ENQUEUED_COLUMNS)})),
    linked AS (
      INSERT INTO delivery_records (${names(LINK_COLUMNS)})
      SELECT ${linkColumns} FROM unnest(${arrays(LINK_COLUMNS, ENQUEUED_COLUMNS.length)}) AS linked (${names(LINK_COLUMNS)})),
    announced AS (SELECT ${workersNotified(sql`CAST(${slot(first + WEBHOOK_ID_COLUMN)} AS TEXT[])`)})`;
}

/** PostgreSQL: attempts that end before the deliveries are vacuumed (see DeliveryQueue.vacuumIfDue). */
const VACUUM_AFTER_FINISHED = 10_000;
/**
 * Or this share of the table's rows, if more: with dead rows on fewer than 2 % of its pages,
 * PostgreSQL's VACUUM (14 and later) leaves the indexes as they are, and their entries are what it
 * is run for.
 */
const VACUUM_SHARE_OF_ROWS = 0.02;

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

/** What a worker's attempts came to since its last claim: attempts to record, and leases to give back unsent. */
export interface EndedAttempts {
  readonly finished: readonly FinishedAttempt[];
  readonly givenBack: readonly string[];
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
function webhooksWithPending(name: string, leasesEndedBy: unknown, after: unknown, upTo: unknown) {
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

/**
 * The values of PostgreSQL's first round of a claim, in their slots' order (ATTEMPTS_ENDED_VALUES and
 * the excluded webhooks follow): `threshold` is the breakers' (null: none trip), `done` the ended
 * attempts' deliveries that are finished for good.
 */
const FIRST_ROUND_VALUES = ['now', 'after', 'limit', 'perWebhook', 'roomWebhooks', 'rooms', 'workerId', 'until', 'threshold', 'done'] as const;

/** A row of PostgreSQL's first round: a delivery leased (with its webhook's turn), or a tripped breaker (no id). */
type FirstRoundRow =
  | (ClaimedDelivery & { turn: number; asked: number })
  | { id: null; webhook_id: string; consecutive_failures: number; open_until: number | null };

/** The breakers that have tripped (open, or half-open), by webhook. */
type Tripped = ReadonlyMap<string, Pick<Health, 'consecutiveFailures' | 'openUntil'>>;

/** What a claim adds probes for (see withProbes): the tripped breakers, and which of them are half-open. */
interface Breakers {
  readonly tripped: Tripped;
  readonly halfOpen: readonly string[];
}
const breakersOf = (tripped: Tripped, now: number, threshold: number): Breakers =>
  ({ tripped, halfOpen: [...tripped].filter(([, health]) => isHalfOpen(health, now, threshold)).map(([webhookId]) => webhookId) });

/** How many values attemptsEnded takes: the worker, then an array for each of its columns. */
const ATTEMPTS_ENDED_VALUES = 13;

/** The values of attemptsEnded, for `workerId`'s `finished` attempts. */
function attemptsEndedValues(workerId: string, finished: readonly FinishedAttempt[]): unknown[] {
  // The statement numbers the attempts itself, from the updated deliveries.
  const logRows = finished.map(({ id, outcome }) => attemptLogRow(id, outcome, null));
  return [
    workerId, finished.map(({ id }) => id), finished.map(({ next }) => next.status),
    finished.map(({ next }) => (next.status === 'pending' ? next.dueAt : null)),
    finished.map(({ next, outcome }) => (next.status === 'pending' ? null : outcome.attemptedAt)),
    ...ATTEMPT_LOG_COLUMNS.map((column) => logRows.map((row) => row[column])),
  ];
}

/**
 * PostgreSQL: common table expressions that record ended attempts, the last named `logged`: their
 * deliveries updated (only the lease holder's: a late worker whose lease ran out changes nothing)
 * and their attempt log inserted. The columns go as arrays, so the text is the same however many
 * attempts ended. Values from the `first`th: see attemptsEndedValues.
 */
function attemptsEnded(slot: (index: number) => never, first: number) {
  const array = (index: number, type: 'TEXT' | 'BIGINT' | 'INTEGER') => sql`CAST(${slot(first + index)} AS ${sql.raw(type)}[])`;
  return sql`
    finished AS (
      SELECT * FROM unnest(
        ${array(1, 'TEXT')}, ${array(2, 'TEXT')}, ${array(3, 'BIGINT')}, ${array(4, 'BIGINT')},
        ${array(5, 'TEXT')}, ${array(6, 'BIGINT')}, ${array(7, 'INTEGER')}, ${array(8, 'TEXT')},
        ${array(9, 'INTEGER')}, ${array(10, 'TEXT')}, ${array(11, 'TEXT')}, ${array(12, 'TEXT')}
      ) AS f (id, next_status, next_due_at, finished_at, attempt_id, started_at, duration_ms, request_headers, status, response_headers, response_body, error)),
    updated AS (
      UPDATE deliveries SET
        status = f.next_status, due_at = COALESCE(f.next_due_at, deliveries.due_at), finished_at = f.finished_at,
        attempts = deliveries.attempts + 1, last_attempt_at = f.started_at, last_status = f.status, last_error = f.error,
        locked_by = NULL, locked_until = NULL
      FROM finished AS f
      WHERE deliveries.id = f.id AND deliveries.locked_by = ${slot(first)}
      RETURNING deliveries.id, deliveries.attempts),
    logged AS (
      INSERT INTO delivery_attempts (id, delivery_id, attempt, started_at, duration_ms, request_headers, status, response_headers, response_body, error)
      SELECT f.attempt_id, f.id, updated.attempts, f.started_at, f.duration_ms, f.request_headers, f.status, f.response_headers, f.response_body, f.error
      FROM finished AS f JOIN updated ON updated.id = f.id
      RETURNING 1)`;
}

/** How many more of a webhook's deliveries a claim may put in flight: `perWebhook`, or less as `rooms` says. */
interface Rooms {
  readonly rooms: ReadonlyMap<string, number>;
  readonly perWebhook: number;
}
const roomOf = ({ rooms, perWebhook }: Rooms, webhookId: string) => rooms.get(webhookId) ?? perWebhook;
/** The webhooks a claim has no room for. */
const withoutRoom = ({ rooms }: Rooms) => [...rooms].filter(([, room]) => room <= 0).map(([webhookId]) => webhookId);

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
  /** PostgreSQL: attempts recorded since this process last vacuumed the deliveries (see vacuumIfDue). */
  private finishedSinceVacuum = 0;
  /** How many call for the next vacuum: `vacuumAfterFinished`, or a fiftieth of the table's rows if more. */
  private vacuumAfter: number;

  // A write's inserts as templates (see statement-template.ts); their shapes are the numbers of rows.
  private readonly deliveriesInserted = new StatementTemplate<number>((slot, count) =>
    this.database.db.insertInto('deliveries').values(Array.from({ length: count }, (_, row) => ({
      ...(Object.fromEntries(ENQUEUED_COLUMNS.map(([column], index) => [column, slot(ENQUEUED_COLUMNS.length * row + index)])) as Record<(typeof ENQUEUED_COLUMNS)[number][0], never>),
      status: 'pending' as const, attempts: 0,
    }))));
  private readonly linksInserted = new StatementTemplate<number>((slot, count) =>
    this.database.db.insertInto('delivery_records').values(Array.from({ length: count }, (_, row) => ({
      delivery_id: slot(4 * row), webhook_id: slot(4 * row + 1), record_id: slot(4 * row + 2), sequence: slot(4 * row + 3),
    }))));
  /** PostgreSQL: a write's deliveries, their records' links and the other processes' wake-up (see enqueuedAndAnnounced). */
  private readonly enqueuedAndAnnounced = new StatementTemplate<'one'>((slot) => sql`WITH ${enqueuedAndAnnounced(slot, 0)} SELECT count(*) FROM announced`);

  // A claim's statements, likewise: a claim of 16 spent 18.5 µs a delivery compiling them
  // on SQLite and 15.9 on PostgreSQL, in the queue's own loop, before the building itself.
  /** SQLite: the webhooks that can go; values: now, the last claim's last webhook, the excluded ones. */
  private readonly webhooksFound = new StatementTemplate<{ count: number; excluded: number }, { webhook_id: string }>(
    (slot, { count, excluded }) => sql`WITH RECURSIVE ${this.webhooksThatCanGo(slot(0), slot(1), count, slots(slot, 2, excluded))} SELECT webhook_id FROM can_go`,
    ({ count, excluded }) => `${count} ${excluded}`,
  );
  /** SQLite: each webhook's earliest rows up to its share (one arm each); values: now, the webhooks. */
  private readonly earliestFound = new StatementTemplate<readonly number[], ClaimedDelivery>((slot, shares) => {
    const arms = shares.map((share, index) => this.database.db.selectFrom(this.earliestDue(slot(index + 1), slot(0), share).as('earliest')).select(CLAIMED_COLUMNS));
    return arms.slice(1).reduce((all, arm) => all.unionAll(arm), arms[0]!);
  }, (shares) => shares.join(','));
  /** SQLite: the lease; values: worker, until, the ids. */
  private readonly leasesTaken = new StatementTemplate<number>((slot, count) =>
    this.database.db.updateTable('deliveries').set({ locked_by: slot(0), locked_until: slot(1) }).where('id', 'in', slots(slot, 2, count)));
  /**
   * PostgreSQL: a whole claim's first round in one statement, run on its own (see claimOnPostgres):
   * the ended attempts recorded, the tripped breakers read (and returned, as rows without an id), and
   * the webhooks that can go, each asked for its share and what they gave leased. Values in the order
   * of FIRST_ROUND_VALUES, then ATTEMPTS_ENDED_VALUES, then the excluded webhooks.
   */
  private readonly firstRoundLeased = new StatementTemplate<number, FirstRoundRow>((slot, excluded) => {
    const value = (name: (typeof FIRST_ROUND_VALUES)[number]) => slot(FIRST_ROUND_VALUES.indexOf(name));
    const limit = value('limit');
    const excludedFrom = FIRST_ROUND_VALUES.length + ATTEMPTS_ENDED_VALUES;
    return sql`
      WITH RECURSIVE ${attemptsEnded(slot, FIRST_ROUND_VALUES.length)},
      tripped AS (SELECT webhook_id, consecutive_failures, open_until FROM webhook_health WHERE consecutive_failures >= CAST(${value('threshold')} AS INTEGER)),
      ${this.webhooksThatCanGo(value('now'), value('after'), value('limit'), slots(slot, excludedFrom, excluded), sql`SELECT webhook_id FROM tripped`)},
      numbered AS (SELECT webhook_id, row_number() OVER () AS turn, count(*) OVER () AS asked FROM can_go),
      ask AS (
        SELECT numbered.webhook_id, turn, asked, LEAST(
          COALESCE(room.room, CAST(${value('perWebhook')} AS INTEGER)),
          CAST(${limit} AS INTEGER) / asked + CASE WHEN turn <= CAST(${limit} AS INTEGER) % asked THEN 1 ELSE 0 END) AS wanted
        FROM numbered
        LEFT JOIN unnest(CAST(${value('roomWebhooks')} AS TEXT[]), CAST(${value('rooms')} AS INTEGER[])) AS room (webhook_id, room)
          ON room.webhook_id = numbered.webhook_id),
      ${this.pickedAndLeased(sql`ask`, value('now'), { workerId: value('workerId'), until: value('until') }, ['turn', 'asked'], value('done'))}
      SELECT ${sql.join([...CLAIMED_COLUMNS, 'turn', 'asked'].map((column) => sql.ref(column)))}, CAST(NULL AS INTEGER) AS consecutive_failures, CAST(NULL AS BIGINT) AS open_until FROM leased
      UNION ALL
      SELECT ${sql.join([...CLAIMED_COLUMNS, 'turn', 'asked'].map((column) => (column === 'webhook_id' ? sql.ref(column) : sql`NULL`)))}, consecutive_failures, open_until FROM tripped`;
  });
  /** PostgreSQL: more of some webhooks' rows, leased (see shareOut); values: webhooks, shares, now, worker, until. */
  private readonly moreLeased = new StatementTemplate<'one', ClaimedDelivery>((slot) =>
    sql`WITH ${this.pickedAndLeased(sql`unnest(CAST(${slot(0)} AS TEXT[]), CAST(${slot(1)} AS INTEGER[])) AS ask (webhook_id, wanted)`, slot(2), { workerId: slot(3), until: slot(4) })} SELECT * FROM leased`);

  /** SQLite: ended attempts' deliveries updated; values: the worker, then 7 per attempt (see finishChunk). */
  private readonly attemptsRecorded = new StatementTemplate<number, { id: string; attempts: number }>((slot, count) => {
    // VALUES columns are named column1…
    const values = Array.from({ length: count }, (_, row) => {
      const value = (column: number) => slot(1 + 7 * row + column);
      return sql`(
        CAST(${value(0)} AS TEXT), CAST(${value(1)} AS TEXT), CAST(${value(2)} AS BIGINT), CAST(${value(3)} AS BIGINT),
        CAST(${value(4)} AS BIGINT), CAST(${value(5)} AS INTEGER), CAST(${value(6)} AS TEXT))`;
    });
    return sql`
      UPDATE deliveries SET
        status = v.column2, due_at = COALESCE(v.column3, deliveries.due_at), finished_at = v.column4,
        attempts = deliveries.attempts + 1, last_attempt_at = v.column5, last_status = v.column6, last_error = v.column7,
        locked_by = NULL, locked_until = NULL
      FROM (VALUES ${sql.join(values)}) AS v
      WHERE deliveries.id = v.column1 AND deliveries.locked_by = ${slot(0)}
      RETURNING deliveries.id, deliveries.attempts`;
  });
  /** SQLite: their attempt log; values: 10 per attempt, the delivery, its number, then ATTEMPT_LOG_COLUMNS. */
  private readonly attemptsLogged = new StatementTemplate<number>((slot, count) =>
    this.database.db.insertInto('delivery_attempts').values(Array.from({ length: count }, (_, row) => {
      const value = (column: number) => slot(10 * row + column);
      return {
        delivery_id: value(0), attempt: value(1), id: value(2), started_at: value(3), duration_ms: value(4),
        request_headers: value(5), status: value(6), response_headers: value(7), response_body: value(8), error: value(9),
      };
    })));
  /**
   * PostgreSQL: the deliveries' update and the attempt log's insert in one statement (a WITH that
   * updates), one round trip where there were two. Values: ATTEMPTS_ENDED_VALUES (see attemptsEnded).
   */
  private readonly attemptsFinished = new StatementTemplate<'one'>((slot) => sql`WITH ${attemptsEnded(slot, 0)} SELECT count(*) FROM logged`);

  /**
   * Whether one worker may have several claims under way at once: on PostgreSQL each runs on a
   * connection of its own, and their row locks (taken with SKIP LOCKED) keep the rows they lease
   * apart; on SQLite a claim holds the one write lock from start to end.
   */
  readonly claimsRunSideBySide: boolean;

  constructor(
    private readonly database: Database,
    private readonly settings: { readonly vacuumAfterFinished: number } = { vacuumAfterFinished: VACUUM_AFTER_FINISHED },
  ) {
    this.claimsRunSideBySide = database.capabilities.rowLocks;
    this.vacuumAfter = settings.vacuumAfterFinished;
  }

  /**
   * PostgreSQL: vacuums the deliveries once `vacuumAfterFinished` attempts (VACUUM_AFTER_FINISHED
   * unless set; or a fiftieth of the table's rows, if more) have ended since this process last did; elsewhere, and before then, nothing.
   * Why: an attempt's end writes its delivery anew (its status is indexed), and the row's old entry
   * in the claims' index, still among the pending rows and in due order, stays until a vacuum. Every
   * claim steps over all of them, from the front: in a drain of 100,000 a claim read 2,720 pages and
   * took 6.0 ms on average, rising from 3 ms to 10-17 ms (pg_stat_statements, auto_explain), while
   * autovacuum looks at a database once a minute and waits for a fifth of the table to be dead. Runs
   * beside the claims (it takes no lock they need) and skips when another process is vacuuming.
   */
  async vacuumIfDue(): Promise<void> {
    if (this.database.dialect !== 'postgres' || this.finishedSinceVacuum < this.vacuumAfter) return;
    this.finishedSinceVacuum = 0;
    const { queueDb: db } = this.database;
    await sql`VACUUM (SKIP_LOCKED) deliveries`.execute(db);
    const table = await sql<{ rows: number }>`SELECT reltuples AS rows FROM pg_class WHERE oid = CAST('deliveries' AS regclass)`.execute(db);
    this.vacuumAfter = Math.max(this.settings.vacuumAfterFinished, Math.ceil(VACUUM_SHARE_OF_ROWS * Number(table.rows[0]?.rows ?? 0)));
  }

  /**
   * Stores `deliveries` in the executor's transaction and, on PostgreSQL, wakes the worker processes
   * once it commits (see store/wakeups.ts; on SQLite the caller wakes this process's worker).
   */
  async enqueue(executor: Executor, deliveries: readonly NewDelivery[]): Promise<void> {
    if (deliveries.length === 0) return;
    if (this.database.dialect === 'postgres') {
      await this.enqueuedAndAnnounced.run(executor, 'one', enqueuedValues(deliveries));
      return;
    }
    const links = linksOf(deliveries);
    await this.deliveriesInserted.run(executor, deliveries.length, deliveries.flatMap((delivery) => ENQUEUED_COLUMNS.map(([column]) => delivery[column])));
    // Several hundred rows a statement keeps under SQLite's bound-parameter limit.
    for (let start = 0; start < links.length; start += 500) {
      const chunk = links.slice(start, start + 500);
      await this.linksInserted.run(executor, chunk.length, chunk.flatMap(({ delivery, recordId }) => [delivery.id, delivery.webhook_id, recordId, delivery.sequence]));
    }
  }

  /** Wakes worker processes once the transaction that made deliveries due commits (see store/wakeups.ts). */
  async announceEnqueued(executor: Executor): Promise<void> {
    await notifyDeliveriesEnqueued(this.database, executor);
  }

  /**
   * Records the `ended` attempts of `workerId` (see finishAttempts), then leases it up to `limit`
   * due deliveries until `now + leaseMs`, with one commit (a worker's one commit per batch; on
   * PostgreSQL, see claimOnPostgres), fairly:
   * - per record: a delivery waits while an earlier one of the same webhook about one of its records
   *   is still pending (commit order; a failing record holds back only its own later deliveries);
   * - per webhook: the claim leases at most `perWebhook` of a webhook's deliveries, or its room in
   *   `rooms` where the worker has some of them already (its cap less what it holds), so a slow
   *   receiver cannot take all its slots;
   * - across webhooks: each webhook that can go gets an equal share of the claim, and takes turns
   *   when more of them have work than the claim has rows;
   * - a disabled webhook's deliveries wait, and so do those of a webhook whose breaker is open;
   *   a half-open breaker lets one through at a time, across all workers.
   * Steps: read the tripped breakers; find the webhooks that can go (webhooksThatCanGo), none of them
   * tripped; read and lease each one's earliest due rows up to its share; share out again what some
   * could not fill (shareOut); add a probe for each half-open breaker with none in flight
   * (withProbes). A webhook that cannot go is
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
    fairness: { perWebhook?: number; rooms?: ReadonlyMap<string, number>; breakerThreshold?: number } = {},
    ended: EndedAttempts = { finished: [], givenBack: [] },
  ): Promise<ClaimResult> {
    const rooms: Rooms = { rooms: fairness.rooms ?? new Map(), perWebhook: fairness.perWebhook ?? limit };
    const lease = { workerId, until: now + leaseMs };
    if (this.database.capabilities.rowLocks) return this.claimOnPostgres(now, limit, rooms, fairness.breakerThreshold, lease, ended);
    return this.database.queueDb.transaction().execute(async (trx) => {
      await this.finishIn(trx, workerId, ended.finished, ended.givenBack);
      if (limit <= 0) return { rows: [], waiting: false };
      const tripped: Tripped = fairness.breakerThreshold === undefined ? new Map() : await trippedBreakers(trx, fairness.breakerThreshold);
      const excluded = [...new Set([...withoutRoom(rooms), ...tripped.keys()])];
      const found = await this.webhooksFound.run(trx, { count: limit, excluded: excluded.length }, [now, this.lastWebhookClaimed, ...excluded]);
      const webhookIds = found.map((row) => row.webhook_id);
      if (webhookIds.length > 0) this.lastWebhookClaimed = webhookIds[webhookIds.length - 1]!;
      const asks = shares(webhookIds.map((webhookId) => ({ webhookId, room: roomOf(rooms, webhookId) })), limit);
      const claimed = await this.shareOut(trx, { asks, leased: webhookIds.length === 0 ? [] : await this.leaseEarliest(trx, asks, now, lease) }, now, limit, lease);
      return this.withProbes(trx, claimed, breakersOf(tripped, now, fairness.breakerThreshold ?? 0), { now, limit, rooms, lease });
    });
  }

  /**
   * PostgreSQL's claim, in as few round trips as it can: most take one statement, on its own (a
   * transaction's BEGIN and COMMIT are round trips too), which records the ended attempts, reads the
   * tripped breakers and makes the first round (see firstRoundLeased). Each further round is a
   * statement of its own, and so are leases given back (the first round would still see them
   * leased); probes of half-open breakers take a transaction of their own.
   */
  private async claimOnPostgres(now: number, limit: number, rooms: Rooms, threshold: number | undefined, lease: Lease, ended: EndedAttempts): Promise<ClaimResult> {
    const { queueDb: db } = this.database;
    const { workerId } = lease;
    if (ended.givenBack.length > 0) await this.finishIn(db, workerId, [], ended.givenBack);
    if (limit <= 0) {
      await this.finishAttempts(workerId, ended.finished);
      return { rows: [], waiting: false };
    }
    const excluded = withoutRoom(rooms);
    const done = ended.finished.filter(({ next }) => next.status !== 'pending').map(({ id }) => id);
    const values: Record<(typeof FIRST_ROUND_VALUES)[number], unknown> = {
      now, after: this.lastWebhookClaimed, limit, perWebhook: rooms.perWebhook, roomWebhooks: [...rooms.rooms.keys()], rooms: [...rooms.rooms.values()],
      workerId, until: lease.until, threshold: threshold ?? null, done,
    };
    const rows = await this.firstRoundLeased.run(db, excluded.length, [...FIRST_ROUND_VALUES.map((name) => values[name]), ...attemptsEndedValues(workerId, ended.finished), ...excluded]);
    this.finishedSinceVacuum += ended.finished.length;
    const tripped = new Map<string, Pick<Health, 'consecutiveFailures' | 'openUntil'>>();
    const leased: (ClaimedDelivery & { turn: number; asked: number })[] = [];
    for (const row of rows) {
      if (row.id === null) tripped.set(row.webhook_id, { consecutiveFailures: row.consecutive_failures, openUntil: row.open_until === null ? null : Number(row.open_until) });
      else leased.push(row);
    }
    const claimed = await this.shareOut(db, this.firstRoundOf(leased, limit, rooms), now, limit, lease);
    const breakers = breakersOf(tripped, now, threshold ?? 0);
    const claim = { now, limit, rooms, lease };
    const probesDue = claimed.length < limit && breakers.halfOpen.length > 0;
    return probesDue ? db.transaction().execute((trx) => this.withProbes(trx, claimed, breakers, claim)) : this.withProbes(db, claimed, breakers, claim);
  }

  /**
   * PostgreSQL's first round as asked and given: its rows say which webhooks gave and each one's
   * turn, from which the shares are worked out again as the statement did.
   */
  private firstRoundOf(leased: readonly (ClaimedDelivery & { turn: number; asked: number })[], limit: number, rooms: Rooms): Round {
    if (leased.length === 0) return { asks: [], leased: [] };
    const asked = Number(leased[0]!.asked);
    const turns = [...new Map(leased.map((row) => [row.webhook_id, Number(row.turn)]))].sort(([, one], [, other]) => one - other);
    this.lastWebhookClaimed = turns[turns.length - 1]![0];
    const asks = turns.map(([webhookId, turn]) => {
      const room = roomOf(rooms, webhookId);
      return { webhookId, room, share: Math.min(room, equalShare(limit, asked, turn - 1)) };
    });
    return { asks, leased: leased.map(({ turn: _turn, asked: _asked, ...row }) => row) };
  }

  /**
   * The claim's result: the `claimed` rows, and a probe for each half-open breaker that has none in
   * flight (across all workers), while the claim has room. Due work is left waiting when a webhook
   * has no room, or its breaker is open, or its probe is already in flight.
   */
  private async withProbes(
    executor: Executor,
    claimed: readonly ClaimedDelivery[],
    { tripped, halfOpen }: Breakers,
    { now, limit, rooms, lease }: { now: number; limit: number; rooms: Rooms; lease: Lease },
  ): Promise<ClaimResult> {
    const lastProbes = claimed.length < limit ? await this.lastProbes(executor, halfOpen, now) : new Map<string, string | null>();
    const asks = [...lastProbes.keys()].slice(0, limit - claimed.length).map((webhookId) => ({ webhookId, room: 1, share: 1 }));
    const probes = asks.length === 0 ? [] : await this.recordProbes(executor, lease.workerId, await this.leaseEarliest(executor, asks, now, lease), lastProbes);
    const waiting = withoutRoom(rooms).length > 0 || tripped.size > halfOpen.length || asks.length < halfOpen.length;
    return { rows: [...claimed, ...probes], waiting };
  }

  /**
   * Up to `limit` due deliveries, leased: the first round's, then again and again among the webhooks
   * that filled their share, for what the others left. Most claims need only the first round.
   */
  private async shareOut(trx: Executor, firstRound: Round, now: number, limit: number, lease: Lease) {
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
  private async leaseEarliest(trx: Executor, asks: readonly Ask[], now: number, lease: Lease): Promise<ClaimedDelivery[]> {
    const asked = asks.filter((ask) => ask.share > 0);
    if (this.database.capabilities.rowLocks) {
      // One statement however many webhooks are asked, parsed and planned once per connection.
      return this.moreLeased.run(trx, 'one', [asked.map((ask) => ask.webhookId), asked.map((ask) => ask.share), now, lease.workerId, lease.until]);
    }
    // SQLite has no LATERAL: one arm per webhook.
    const found = await this.earliestFound.run(trx, asked.map((ask) => ask.share), [now, ...asked.map((ask) => ask.webhookId)]);
    // Not RETURNING the leased rows: the claim already read what the worker needs, and SQLite's
    // RETURNING cost more than the rest of the update (737 µs of 890 for 32 rows).
    if (found.length > 0) await this.leasesTaken.run(trx, found.length, [lease.workerId, lease.until, ...found.map((row) => row.id)]);
    return found;
  }

  /**
   * PostgreSQL: common table expressions, `picked`: each webhook of `ask` (columns webhook_id, wanted,
   * and any of `alsoReturned`) with its earliest rows up to `wanted`, locked with SKIP LOCKED so that
   * concurrent workers read disjoint rows; then `leased`: the update that leases them, returning the
   * claimed columns and `alsoReturned`. `done`: see earlierPending.
   */
  private pickedAndLeased(ask: RawBuilder<unknown>, now: unknown, lease: { readonly workerId: unknown; readonly until: unknown }, alsoReturned: readonly string[] = [], done?: unknown) {
    const earliest = this.earliestDue(sql.ref<string>('ask.webhook_id'), now, sql.ref<number>('ask.wanted'), done).forUpdate().skipLocked();
    const returned = [...CLAIMED_COLUMNS, ...alsoReturned].map((column) => sql.ref(`picked.${column}`));
    return sql`picked AS (SELECT earliest.*${sql.join(alsoReturned.map((column) => sql`, ${sql.ref(`ask.${column}`)}`), sql``)} FROM ${ask} CROSS JOIN LATERAL (${earliest}) AS earliest),
      leased AS (
        UPDATE deliveries SET locked_by = ${lease.workerId}, locked_until = ${lease.until}
        FROM picked WHERE deliveries.id = picked.id
        RETURNING ${sql.join(returned)})`;
  }

  /** Up to `count` of the webhook's earliest deliveries that can go now, in due order. */
  private earliestDue(webhookId: unknown, now: unknown, count: number | RawBuilder<number>, done?: unknown) {
    return this.database.db
      .selectFrom('deliveries')
      .select(CLAIMED_COLUMNS)
      .where('status', '=', 'pending')
      .where(sql.ref('webhook_id'), '=', webhookId as string)
      .where('due_at', '<=', now as number)
      .where((eb) => eb.or([eb('locked_until', 'is', null), eb('locked_until', '<', now as number)]))
      .where((eb) => eb(this.earlierPending(done)(eb), 'is', null))
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
  private webhooksThatCanGo(now: unknown, after: unknown, count: unknown, excluded: readonly unknown[], excludedBy?: RawBuilder<unknown>) {
    return sql`${webhooksWithPending('later', now, after, null)}, ${webhooksWithPending('earlier', now, '', after)},
      can_go AS (
        SELECT webhook_id FROM (SELECT * FROM later UNION ALL SELECT * FROM earlier) AS head
        WHERE due_at <= ${now}
          ${excluded.length > 0 ? sql`AND webhook_id NOT IN (${sql.join(excluded)})` : sql``}
          ${excludedBy === undefined ? sql`` : sql`AND webhook_id NOT IN (${excludedBy})`}
          AND ${this.webhookEnabled(sql.ref('head.space_id'), sql.ref('head.webhook_id'))}
        LIMIT ${typeof count === 'number' ? this.limitOf(count) : count})`;
  }

  /**
   * For the delivery in the outer query: an earlier pending delivery of its webhook about one of its
   * records, which it must wait for (null when there is none). Read from the delivery outwards: its
   * records, then earlier rows by index, then each one's status by primary key. Written as a scalar
   * subquery with a scalar status lookup, never a join: as NOT EXISTS, PostgreSQL turned it into an
   * anti-join over every pending delivery whenever its statistics lagged a queue that had just grown
   * (680 ms a claim at 100,000 queued); as it is, both databases look it up per candidate row.
   * `done` (PostgreSQL, an array): deliveries the same statement finishes, which it still sees pending.
   */
  private earlierPending(done?: unknown) {
    return ({ selectFrom }: ExpressionBuilder<Schema, 'deliveries'>) => {
      const earlier = selectFrom('delivery_records as mine')
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
        );
      return (done === undefined ? earlier : earlier.where(sql<boolean>`earlier.delivery_id <> ALL(CAST(${done} AS TEXT[]))`)).limit(1);
    };
  }

  /**
   * Of the half-open `webhookIds`, those that may let a probe through now, each with its last probe
   * (null when none): it has no probe in flight, as its last one is no longer leased. Its health row
   * names the probe, so this is a look-up by key per webhook, however long its backlog.
   */
  private async lastProbes(executor: Executor, webhookIds: readonly string[], now: number): Promise<Map<string, string | null>> {
    if (webhookIds.length === 0) return new Map();
    const rows = await executor
      .selectFrom('webhook_health')
      .leftJoin('deliveries', 'deliveries.id', 'webhook_health.probe_delivery_id')
      .select(['webhook_health.webhook_id', 'webhook_health.probe_delivery_id', 'deliveries.status', 'deliveries.locked_until'])
      .where('webhook_health.webhook_id', 'in', [...webhookIds])
      .execute();
    const inFlight = (row: (typeof rows)[number]) => row.status === 'pending' && row.locked_until !== null && Number(row.locked_until) > now;
    return new Map(rows.filter((row) => !inFlight(row)).map((row) => [row.webhook_id, row.probe_delivery_id]));
  }

  /**
   * Of the claimed `rows`, each probe of a half-open breaker is named on its webhook's health row,
   * unless another worker named one since `lastProbes` was read: then its lease is given back, and
   * the other's probe is the one in flight. (On PostgreSQL the update waits for the other worker's
   * commit, then finds the row changed.)
   */
  private async recordProbes(trx: Executor, workerId: string, rows: readonly ClaimedDelivery[], lastProbes: ReadonlyMap<string, string | null>): Promise<ClaimedDelivery[]> {
    const givenBack = new Set<string>();
    for (const probe of rows.filter((row) => lastProbes.has(row.webhook_id))) {
      const last = lastProbes.get(probe.webhook_id)!;
      const named = await trx
        .updateTable('webhook_health')
        .set({ probe_delivery_id: probe.id })
        .where('webhook_id', '=', probe.webhook_id)
        .where((eb) => (last === null ? eb('probe_delivery_id', 'is', null) : eb('probe_delivery_id', '=', last)))
        .executeTakeFirst();
      if (Number(named.numUpdatedRows) > 0) continue;
      await this.giveBack(trx, workerId, [probe.id]);
      givenBack.add(probe.id);
    }
    return rows.filter((row) => !givenBack.has(row.id));
  }

  /**
   * When the next pending delivery not leased falls due (epoch ms); null when none is waiting. Read
   * webhook by webhook and in index order, one row each: a worker asks whenever it goes idle. A lease
   * that runs out (its worker died) is not in it: no index finds leases (see migration 0009), and an
   * idle worker polls at least once a second anyway.
   */
  async nextDueAt(): Promise<number | null> {
    const due = await sql<{ at: number | null }>`
      WITH RECURSIVE ${webhooksWithPending('head', null, '', null)}
      SELECT min(due_at) AS at FROM head
      WHERE due_at < ${HELD_UNTIL_ENABLED} AND ${this.webhookEnabled(sql.ref('head.space_id'), sql.ref('head.webhook_id'))}`.execute(this.database.queueDb);
    const at = due.rows[0]?.at;
    return at === null || at === undefined ? null : Number(at);
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
    await this.database.queueDb
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
    await this.database.queueDb
      .updateTable('deliveries')
      .set({ status: 'failed', last_error: reason, finished_at: at, locked_by: null, locked_until: null })
      .where('id', '=', id)
      .where('locked_by', '=', workerId)
      .execute();
  }

  /**
   * Records finished attempts and releases their leases, in one transaction (one statement for the
   * deliveries and one for the attempt log per batch), and gives back the leases of `givenBack`,
   * never attempted. Only the lease holder may:
   * a late worker whose lease ran out changes nothing, and its attempt is not logged twice.
   */
  async finishAttempts(workerId: string, finished: readonly FinishedAttempt[], givenBack: readonly string[] = []): Promise<void> {
    if (finished.length === 0 && givenBack.length === 0) return;
    await this.database.queueDb.transaction().execute((trx) => this.finishIn(trx, workerId, finished, givenBack));
  }

  private async finishIn(trx: Executor, workerId: string, finished: readonly FinishedAttempt[], givenBack: readonly string[]): Promise<void> {
    for (let start = 0; start < finished.length; start += FINISHED_PER_STATEMENT) {
      await this.finishChunk(trx, workerId, finished.slice(start, start + FINISHED_PER_STATEMENT));
    }
    for (let start = 0; start < givenBack.length; start += FINISHED_PER_STATEMENT) {
      await this.giveBack(trx, workerId, givenBack.slice(start, start + FINISHED_PER_STATEMENT));
    }
  }

  /** Leases of `workerId` given back unused: the deliveries can be claimed again at once, as they were. */
  private async giveBack(trx: Executor, workerId: string, ids: readonly string[]): Promise<void> {
    await trx.updateTable('deliveries').set({ locked_by: null, locked_until: null }).where('id', 'in', [...ids]).where('locked_by', '=', workerId).execute();
  }

  private async finishChunk(trx: Executor, workerId: string, finished: readonly FinishedAttempt[]): Promise<void> {
    if (this.database.dialect === 'postgres') {
      await this.attemptsFinished.run(trx, 'one', attemptsEndedValues(workerId, finished));
      this.finishedSinceVacuum += finished.length;
      return;
    }
    const updated = await this.attemptsRecorded.run(trx, finished.length, [workerId, ...finished.flatMap(({ id, outcome, next }) => [
      id, next.status, next.status === 'pending' ? next.dueAt : null, next.status === 'pending' ? null : outcome.attemptedAt,
      outcome.attemptedAt, outcome.status, outcome.error,
    ])]);
    const attemptNumbers = new Map(updated.map((row) => [row.id, Number(row.attempts)]));
    const logged = finished.filter(({ id }) => attemptNumbers.has(id));
    if (logged.length === 0) return;
    const logRows = logged.map(({ id, outcome }) => attemptLogRow(id, outcome, attemptNumbers.get(id)!));
    await this.attemptsLogged.run(trx, logRows.length, logRows.flatMap((row) => [row.delivery_id, row.attempt, ...ATTEMPT_LOG_COLUMNS.map((column) => row[column])]));
  }
}

/** The attempt log's columns a worker fills in, beside the delivery and the attempt's number. */
const ATTEMPT_LOG_COLUMNS = ['id', 'started_at', 'duration_ms', 'request_headers', 'status', 'response_headers', 'response_body', 'error'] as const;

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
