// The delivery queue on both databases: due rows are leased to one worker at a time, a lease that
// runs out frees its rows, and only the lease holder records an attempt.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase, type Database } from '../../src/store/database.js';
import { DeliveryLog } from '../../src/store/delivery-log.js';
import { sql, type Kysely } from 'kysely';
import { DeliveryQueue, HELD_UNTIL_ENABLED, holdDeliveries, releaseDeliveries, type NewDelivery } from '../../src/store/delivery-queue.js';
import * as holdDisabledWebhooks from '../../src/store/migrations/0006_hold_disabled_webhooks.js';
import { RecordStore } from '../../src/store/record-store.js';
import { migrateToLatest } from '../../src/store/migrate.js';
import { SpaceStore } from '../../src/store/space-store.js';
import { createTestDatabase, databaseKinds, type TestDatabase } from '../support/databases.js';

let sequence = 0;
const attempt = (attemptedAt: number, status: number, error: string | null) => ({
  attemptedAt, status, error, durationMs: 5, requestHeaders: { 'webhook-id': 'x' }, responseHeaders: {}, responseBody: '',
});
const delivery = (dueAt: number): NewDelivery => {
  sequence += 1;
  return {
    id: `d-${String(sequence).padStart(6, '0')}`, space_id: 'queue_space', webhook_id: 'w', operation_id: 'op',
    chunk_index: 0, events: '[]', item_count: 1, body: '[]', due_at: dueAt, created_at: dueAt, recordIds: [`record-${sequence}`], sequence,
  };
};

describe.each(databaseKinds)('the delivery queue (%s)', (kind) => {
  let testDatabase: TestDatabase;
  let database: Database;
  let queue: DeliveryQueue;

  beforeAll(async () => {
    testDatabase = await createTestDatabase(kind);
    database = openDatabase(testDatabase.url);
    await migrateToLatest(database);
    await new SpaceStore().insertIfAbsent(database.db, { id: 'queue_space', api_token: 't', password_salt: 's', password_hash: 'h', revision: 0, created: 'now' });
    queue = new DeliveryQueue(database);
  });
  afterAll(async () => {
    await database.close();
    await testDatabase.drop();
  });

  it('leases each due delivery to one worker, leaving future ones', async () => {
    await database.db.deleteFrom('deliveries').execute();
    const now = 1_000_000;
    await queue.enqueue(database.db, [...Array.from({ length: 20 }, () => delivery(now - 10)), delivery(now + 60_000)]);
    const [first, second] = (await Promise.all([queue.claimDue('a', now, 15, 30_000, { perWebhook: 100 }), queue.claimDue('b', now, 15, 30_000, { perWebhook: 100 })])).map((claim) => claim.rows);
    const third = (await queue.claimDue('c', now, 15, 30_000, { perWebhook: 100 })).rows;
    const claimed = [...first, ...second, ...third].map((row) => row.id);
    expect(claimed).toHaveLength(20);
    expect(new Set(claimed).size).toBe(20);
    expect((await queue.claimDue('d', now, 100, 30_000, { perWebhook: 100 })).rows).toEqual([]);
    // What is leased is not waiting: the next one due is the future one.
    expect(await queue.nextDueAt()).toBe(now + 60_000);
  });

  it("lets one probe at a time through a half-open breaker, across workers, until the probe's attempt ends or its lease runs out", async () => {
    await database.db.deleteFrom('deliveries').execute();
    const now = 1_200_000;
    const breakers = { perWebhook: 32, breakerThreshold: 5 };
    await database.db.insertInto('webhook_health').values({ webhook_id: 'w', space_id: 'queue_space', consecutive_failures: 5, failing_since: now - 60_000, open_until: now - 1, warned: 0 }).execute();
    await queue.enqueue(database.db, Array.from({ length: 4 }, () => delivery(now - 10)));
    const claims = await Promise.all(['a', 'b'].map((worker) => queue.claimDue(worker, now, 16, 1_000, breakers)));
    const [probe, ...others] = claims.flatMap((claim) => claim.rows);
    expect(others).toEqual([]);
    expect((await queue.claimDue('c', now + 10, 16, 1_000, breakers)).rows).toEqual([]);

    // The probe failed and is to be retried: the next claim lets the next probe through.
    const holder = claims[0]!.rows.length > 0 ? 'a' : 'b';
    await queue.finishAttempts(holder, [{ id: probe!.id, outcome: attempt(now + 20, 500, 'HTTP 500'), next: { status: 'pending', dueAt: now + 60_000 } }]);
    const [secondProbe, ...more] = (await queue.claimDue('c', now + 30, 16, 1_000, breakers)).rows;
    expect(secondProbe!.id).not.toBe(probe!.id);
    expect(more).toEqual([]);

    // Its worker died: once its lease runs out, another probe goes.
    expect((await queue.claimDue('d', now + 1_000, 16, 1_000, breakers)).rows).toEqual([]);
    expect((await queue.claimDue('d', now + 1_031, 16, 1_000, breakers)).rows).toHaveLength(1);
    await database.db.deleteFrom('webhook_health').execute();
  });

  it("leases a record's deliveries one at a time, in commit order, and caps each webhook", async () => {
    await database.db.deleteFrom('deliveries').execute();
    const now = 1_500_000;
    const first = { ...delivery(now), recordIds: ['shared'] };
    const second = { ...delivery(now), recordIds: ['shared'] };
    const others = Array.from({ length: 5 }, () => delivery(now));
    await queue.enqueue(database.db, [second, ...others, first].map((row) => ({ ...row, webhook_id: 'capped' })));
    const claimed = (await queue.claimDue('a', now, 10, 30_000, { perWebhook: 3 })).rows;
    expect(claimed).toHaveLength(3);
    expect(claimed.map((row) => row.id)).not.toContain(second.id);
    // One of the three ended, two are still in flight: room for one more.
    await queue.finishAttempts('a', [{ id: first.id, outcome: attempt(now, 200, null), next: { status: 'delivered' } }]);
    const next = (await queue.claimDue('a', now, 10, 30_000, { perWebhook: 3, rooms: new Map([['capped', 1]]) })).rows;
    expect(next).toHaveLength(1);
    expect((await queue.claimDue('a', now, 10, 30_000, { perWebhook: 3, rooms: new Map([['capped', 0]]) })).rows).toEqual([]);
  });


  it("records the attempts a claim brings and, in the same claim, leases the record's next delivery and what was given back", async () => {
    await database.db.deleteFrom('deliveries').execute();
    const now = 1_550_000;
    const [first, second, third] = [delivery(now), delivery(now), delivery(now)].map((row) => ({ ...row, recordIds: ['chain'] }));
    const unsent = delivery(now);
    await queue.enqueue(database.db, [first, second, third, unsent]);
    const ids = (claim: { rows: readonly { id: string }[] }) => claim.rows.map((row) => row.id).sort();
    expect(ids(await queue.claimDue('a', now, 10, 30_000))).toEqual([first.id, unsent.id].sort());

    const delivered = { id: first.id, outcome: attempt(now + 5, 200, null), next: { status: 'delivered' as const } };
    expect(ids(await queue.claimDue('a', now + 10, 10, 30_000, {}, { finished: [delivered], givenBack: [unsent.id] }))).toEqual([second.id, unsent.id].sort());
    // To be retried, the record's delivery still holds back the next one.
    const retried = { id: second.id, outcome: attempt(now + 15, 503, 'HTTP 503'), next: { status: 'pending' as const, dueAt: now + 60_000 } };
    expect(ids(await queue.claimDue('a', now + 20, 10, 30_000, {}, { finished: [retried], givenBack: [] }))).toEqual([]);

    const stored = await database.db.selectFrom('deliveries').select(['id', 'status', 'attempts', 'due_at', 'locked_by']).where('id', 'in', [first.id, second.id]).orderBy('id').execute();
    expect(stored.map((row) => ({ ...row, due_at: Number(row.due_at) }))).toEqual([
      { id: first.id, status: 'delivered', attempts: 1, due_at: now, locked_by: null },
      { id: second.id, status: 'pending', attempts: 1, due_at: now + 60_000, locked_by: null },
    ]);
    const logged = await database.db.selectFrom('delivery_attempts').select(['delivery_id', 'attempt', 'status']).where('delivery_id', 'in', [first.id, second.id]).orderBy('delivery_id').execute();
    expect(logged).toEqual([{ delivery_id: first.id, attempt: 1, status: 200 }, { delivery_id: second.id, attempt: 1, status: 503 }]);
  });
  it('shares a claim equally among the webhooks that can go, giving what one cannot fill to the others', async () => {
    await database.db.deleteFrom('deliveries').execute();
    const now = 1_550_000;
    // In due order: the silent webhook's backlog, then all of many-a's, then the others'.
    const rows = [
      ...Array.from({ length: 20 }, (_, index) => ({ ...delivery(now - 200 + index), webhook_id: 'silent' })),
      ...Array.from({ length: 20 }, (_, index) => ({ ...delivery(now - 100 + index), webhook_id: 'many-a' })),
      ...Array.from({ length: 2 }, (_, index) => ({ ...delivery(now - 50 + index), webhook_id: 'few-b' })),
      ...Array.from({ length: 20 }, (_, index) => ({ ...delivery(now - 40 + index), webhook_id: 'many-c' })),
    ];
    await queue.enqueue(database.db, rows);
    const claimed = (await queue.claimDue('a', now, 12, 30_000, { perWebhook: 100, rooms: new Map([['silent', 0]]) })).rows;
    const countOf = (webhookId: string) => claimed.filter((row) => row.webhook_id === webhookId).length;
    expect([countOf('many-a'), countOf('few-b'), countOf('many-c'), countOf('silent')]).toEqual([5, 2, 5, 0]);
    expect(new Set(claimed.map((row) => row.id)).size).toBe(12);
    // Each webhook's earliest.
    const earliest = (webhookId: string, count: number) => rows.filter((row) => row.webhook_id === webhookId).slice(0, count).map((row) => row.id);
    expect(claimed.filter((row) => row.webhook_id === 'many-a').map((row) => row.id).sort()).toEqual(earliest('many-a', 5));
  });

  it('gives every webhook with due deliveries its turn, however many more there are than a claim takes', async () => {
    await database.db.deleteFrom('deliveries').execute();
    const now = 1_600_000;
    const webhooks = ['turn-1', 'turn-2', 'turn-3', 'turn-4', 'turn-5'];
    await queue.enqueue(database.db, webhooks.flatMap((webhookId) => Array.from({ length: 3 }, () => ({ ...delivery(now), webhook_id: webhookId }))));
    const served: string[] = [];
    for (let claim = 0; claim < 3; claim += 1) {
      served.push(...(await queue.claimDue('a', now, 2, 30_000, { perWebhook: 100 })).rows.map((row) => row.webhook_id));
    }
    expect(served).toHaveLength(6);
    expect(new Set(served)).toEqual(new Set(webhooks));
  });

  it("keeps a disabled webhook's due deliveries out of claims, as of its record", async () => {
    await database.db.deleteFrom('deliveries').execute();
    const now = 1_650_000;
    const disabledWebhook = '0a1b2c3d-0000-4000-8000-0000000d15ab';
    await new RecordStore(database).insertMany(database.db, 'queue_space', 'Webhook', [{ id: disabledWebhook, url: 'https://example.com/off', is_disabled: true }]);
    // Rescheduled after it was disabled (an attempt in flight then failed): due, not held.
    const retried = { ...delivery(now - 10), webhook_id: disabledWebhook };
    const other = delivery(now);
    await queue.enqueue(database.db, [retried, other]);
    expect((await queue.claimDue('a', now, 10, 30_000)).rows.map((row) => row.id)).toEqual([other.id]);
    await queue.finishAttempts('a', [{ id: other.id, outcome: attempt(now, 200, null), next: { status: 'delivered' } }]);
    expect(await queue.nextDueAt()).toBeNull();
  });

  it("holds a disabled webhook's waiting deliveries out of every claim until it is enabled, leaving those in flight", async () => {
    await database.db.deleteFrom('deliveries').execute();
    const now = 1_700_000;
    const [inFlight, waiting, alsoWaiting] = [delivery(now), delivery(now), delivery(now)].map((row) => ({ ...row, webhook_id: 'held' }));
    await queue.enqueue(database.db, [inFlight]);
    expect((await queue.claimDue('a', now, 10, 30_000)).rows.map((row) => row.id)).toEqual([inFlight.id]);
    await queue.enqueue(database.db, [waiting, alsoWaiting]);

    await holdDeliveries(database.db, 'held', now);
    expect((await queue.claimDue('b', now + 500, 10, 30_000)).rows).toEqual([]);
    const [stillInFlight] = await database.db.selectFrom('deliveries').selectAll().where('id', '=', inFlight.id).execute();
    expect(stillInFlight).toMatchObject({ due_at: now, locked_by: 'a' });

    await releaseDeliveries(database.db, 'held', now + 1_000);
    const released = (await queue.claimDue('b', now + 1_000, 10, 30_000)).rows;
    expect(released.map((row) => row.id).sort()).toEqual([waiting.id, alsoWaiting.id].sort());
    expect(released.every((row) => row.due_at === now + 1_000)).toBe(true);
  });

  it('holds, once migrated, the deliveries that were already waiting behind a disabled webhook', async () => {
    await database.db.deleteFrom('deliveries').execute();
    const now = 1_800_000;
    const disabledWebhook = '0a1b2c3d-0000-4000-8000-00000000d15a';
    await new RecordStore(database).insertMany(database.db, 'queue_space', 'Webhook', [{ id: disabledWebhook, url: 'https://example.com/off', is_disabled: true }]);
    const [waiting, inFlight, other] = [delivery(now), delivery(now), delivery(now)];
    await queue.enqueue(database.db, [{ ...inFlight, webhook_id: disabledWebhook }]);
    await database.db.updateTable('deliveries').set({ locked_by: 'a', locked_until: now + 30_000 }).execute();
    await queue.enqueue(database.db, [{ ...waiting, webhook_id: disabledWebhook }, other]);

    await holdDisabledWebhooks.up(database.db as unknown as Kysely<unknown>, database.dialect);
    const dueAt = new Map((await database.db.selectFrom('deliveries').select(['id', 'due_at']).execute()).map((row) => [row.id, Number(row.due_at)]));
    expect(dueAt.get(waiting.id)).toBe(HELD_UNTIL_ENABLED);
    expect(dueAt.get(inFlight.id)).toBe(now);
    expect(dueAt.get(other.id)).toBe(now);
  });

  it('frees the rows of a lease that ran out, and ignores the late worker', async () => {
    await database.db.deleteFrom('deliveries').execute();
    const now = 2_000_000;
    await queue.enqueue(database.db, [delivery(now)]);
    const [leased] = (await queue.claimDue('crashed', now, 10, 1_000)).rows;
    expect((await queue.claimDue('other', now + 500, 10, 1_000)).rows).toEqual([]);
    const [retaken] = (await queue.claimDue('other', now + 1_001, 10, 1_000)).rows;
    expect(retaken.id).toBe(leased.id);

    await queue.finishAttempts('crashed', [{ id: leased.id, outcome: attempt(now + 2_000, 200, null), next: { status: 'delivered' } }]);
    const [stillLeased] = await database.db.selectFrom('deliveries').selectAll().where('id', '=', leased.id).execute();
    expect(stillLeased).toMatchObject({ status: 'pending', attempts: 0, locked_by: 'other' });

    await queue.finishAttempts('other', [{ id: leased.id, outcome: attempt(now + 2_000, 500, 'HTTP 500'), next: { status: 'pending', dueAt: now + 9_000 } }]);
    const [rescheduled] = await database.db.selectFrom('deliveries').selectAll().where('id', '=', leased.id).execute();
    expect(rescheduled).toMatchObject({ status: 'pending', attempts: 1, due_at: now + 9_000, last_status: 500, locked_by: null });
    expect(await queue.nextDueAt()).toBe(now + 9_000);
    const attempts = await database.db.selectFrom('delivery_attempts').selectAll().where('delivery_id', '=', leased.id).execute();
    expect(attempts.map((row) => [row.attempt, row.status])).toEqual([[1, 500]]);
  });

  it('logs each attempt exactly as it went, whatever its bytes, numbered per delivery', async () => {
    await database.db.deleteFrom('deliveries').execute();
    const now = 2_500_000;
    const [answered, unanswered] = [delivery(now), delivery(now)];
    await queue.enqueue(database.db, [answered, unanswered]);
    await queue.claimDue('w', now, 10, 1_000);
    const body = '{"quote":"\\"","backslash":"\\\\","braces":"{}","comma":",","null":"NULL","unicode":"é✓","newline":"a\nb"}';
    const headers = { 'content-type': 'application/json', 'x-odd': ['a,"b"', '{c}'] };
    await queue.finishAttempts('w', [
      { id: answered.id, outcome: { ...attempt(now + 1, 500, 'HTTP 500'), responseHeaders: headers, responseBody: body }, next: { status: 'pending', dueAt: now + 5 } },
      { id: unanswered.id, outcome: { ...attempt(now + 2, 0, 'connect ECONNREFUSED "x"'), status: null, responseHeaders: null, responseBody: null }, next: { status: 'failed' } },
    ]);
    await queue.claimDue('w', now + 5, 10, 1_000);
    await queue.finishAttempts('w', [{ id: answered.id, outcome: attempt(now + 6, 200, null), next: { status: 'delivered' } }]);
    const logged = await database.db.selectFrom('delivery_attempts').selectAll().where('delivery_id', 'in', [answered.id, unanswered.id]).orderBy('started_at').execute();
    expect(logged.map((row) => [row.delivery_id, row.attempt, row.status, row.error])).toEqual([
      [answered.id, 1, 500, 'HTTP 500'],
      [unanswered.id, 1, null, 'connect ECONNREFUSED "x"'],
      [answered.id, 2, 200, null],
    ]);
    expect(logged[0]!.response_body).toBe(body);
    expect(JSON.parse(logged[0]!.response_headers!)).toEqual(headers);
    expect([logged[1]!.response_body, logged[1]!.response_headers]).toEqual([null, null]);
  });

  it('purges delivered history past retention, and nothing else', async () => {
    await database.db.deleteFrom('deliveries').execute();
    const now = 3_000_000;
    const [old, recent, failed] = [delivery(now), delivery(now), delivery(now)];
    await queue.enqueue(database.db, [old, recent, failed]);
    (await queue.claimDue('w', now, 10, 1_000)).rows;
    await queue.finishAttempts('w', [
      { id: old.id, outcome: attempt(now, 200, null), next: { status: 'delivered' } },
      { id: recent.id, outcome: attempt(now + 10_000, 200, null), next: { status: 'delivered' } },
      { id: failed.id, outcome: attempt(now, 500, 'HTTP 500'), next: { status: 'failed' } },
    ]);
    expect(await new DeliveryLog(database).purgeDelivered(now + 5_000)).toBe(1);
    const left = await database.db.selectFrom('deliveries').select('id').orderBy('id').execute();
    expect(left.map((row) => row.id)).toEqual([recent.id, failed.id]);
    expect(await database.db.selectFrom('delivery_attempts').select('id').where('delivery_id', '=', old.id).execute()).toEqual([]);
    expect(await database.db.selectFrom('delivery_records').select('record_id').where('delivery_id', '=', old.id).execute()).toEqual([]);
  });
});

// PostgreSQL only: SQLite rewrites a row in place, so its index keeps no entries of rows finished,
// and it plans a statement once, when it is prepared.
describe('the delivery queue on PostgreSQL', () => {
  let testDatabase: TestDatabase;
  let database: Database;

  beforeAll(async () => {
    testDatabase = await createTestDatabase('postgres');
    database = openDatabase(testDatabase.url);
    await migrateToLatest(database);
    await new SpaceStore().insertIfAbsent(database.db, { id: 'queue_space', api_token: 't', password_salt: 's', password_hash: 'h', revision: 0, created: 'now' });
  });
  afterAll(async () => {
    await database.close();
    await testDatabase.drop();
  });

  /** The pages PostgreSQL reads to find the webhook's earliest pending delivery, as a claim does. */
  const pagesToFindTheEarliest = async () => {
    const plan = await sql<{ 'QUERY PLAN': [{ Plan: { 'Shared Hit Blocks': number; 'Shared Read Blocks': number } }] }>`
      EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON)
      SELECT id FROM deliveries WHERE status = 'pending' AND webhook_id = 'w' ORDER BY webhook_id, due_at LIMIT 1`.execute(database.db);
    const { Plan } = plan.rows[0]!['QUERY PLAN'][0];
    return Plan['Shared Hit Blocks'] + Plan['Shared Read Blocks'];
  };
  const vacuums = async () =>
    Number((await sql<{ count: string }>`SELECT vacuum_count AS count FROM pg_stat_user_tables WHERE relname = 'deliveries'`.execute(database.db)).rows[0]!.count);

  it("vacuums the deliveries once enough attempts have ended, so that claims no longer step over the finished rows' old index entries", async () => {
    const queue = new DeliveryQueue(database, { vacuumAfterFinished: 4_000 });
    const now = 2_000_000;
    await queue.enqueue(database.db, Array.from({ length: 6_000 }, () => delivery(now)));
    await sql`ANALYZE deliveries`.execute(database.db);
    const deliverAll = async (count: number) => {
      let ended: { id: string }[] = [];
      for (let claimed = 0; claimed < count; claimed += 500) {
        const finished = ended.map(({ id }) => ({ id, outcome: attempt(now, 200, null), next: { status: 'delivered' as const } }));
        ended = (await queue.claimDue('a', now, 500, 30_000, {}, { finished, givenBack: [] })).rows;
      }
      await queue.finishAttempts('a', ended.map(({ id }) => ({ id, outcome: attempt(now, 200, null), next: { status: 'delivered' as const } })));
    };
    const before = await vacuums();

    await deliverAll(3_500);
    await queue.vacuumIfDue();
    expect(await vacuums()).toBe(before);
    const pagesBefore = await pagesToFindTheEarliest();

    await deliverAll(500);
    await queue.vacuumIfDue();
    expect(await vacuums()).toBe(before + 1);
    // 3,500 rows' old entries fill some 40 of the pages the look-up reads; the vacuum removed them.
    expect(pagesBefore).toBeGreaterThan(20);
    expect(await pagesToFindTheEarliest()).toBeLessThan(6);
    const delivered = await database.db.selectFrom('deliveries').select((eb) => eb.fn.countAll().as('count')).where('status', '=', 'delivered').executeTakeFirstOrThrow();
    expect(Number(delivered.count)).toBe(4_000);
  });

  it("plans a claim's statement once, generically, however small its claims: not anew at every run", async () => {
    // Connections of its own, on which nothing is prepared yet.
    const fresh = openDatabase(testDatabase.url);
    try {
      const queue = new DeliveryQueue(fresh);
      const now = 3_000_000;
      await queue.enqueue(fresh.db, Array.from({ length: 12 }, () => delivery(now)));
      // One delivery a claim, each recording the one before: the claims of a light, steady load.
      let ended: { id: string }[] = [];
      for (let claim = 0; claim < 12; claim += 1) {
        const finished = ended.map(({ id }) => ({ id, outcome: attempt(now, 200, null), next: { status: 'delivered' as const } }));
        ended = (await queue.claimDue('b', now, 1, 30_000, {}, { finished, givenBack: [] })).rows;
        expect(ended).toHaveLength(1);
      }
      // Run one after another, the claims took the queue's one idle connection each time (the pool
      // hands out the connection last given back), and so does this look-up of its prepared statements.
      const plans = await sql<{ generic: number; custom: number }>`
        SELECT CAST(sum(generic_plans) AS INTEGER) AS generic, CAST(sum(custom_plans) AS INTEGER) AS custom
        FROM pg_prepared_statements WHERE statement LIKE '%finished AS%' AND statement LIKE '%can_go AS%'`.execute(fresh.queueDb);
      expect(plans.rows[0]).toEqual({ generic: 12, custom: 0 });
    } finally {
      await fresh.close();
    }
  });
});
