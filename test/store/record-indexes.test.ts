// Looking up a record's children (to-many relations, when records are rendered) goes through the
// foreign key's index on both databases, never along every record of the entity, and a write's
// webhooks through their subscriptions' event index; and those indexes hold only the records that
// have the field.
import { sql, type CompiledQuery } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StoredRecord } from '../../src/domain/projection.js';
import { openDatabase, type Database } from '../../src/store/database.js';
import { migrateToLatest } from '../../src/store/migrate.js';
import { RecordStore } from '../../src/store/record-store.js';
import { SpaceStore } from '../../src/store/space-store.js';
import { createTestDatabase, databaseKinds, type TestDatabase } from '../support/databases.js';

const SPACE = 'index_space';
const id = (n: number) => `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`;

describe.each(databaseKinds)('record field indexes (%s)', (kind) => {
  let testDatabase: TestDatabase;
  let database: Database;
  let store: RecordStore;

  beforeAll(async () => {
    testDatabase = await createTestDatabase(kind);
    database = openDatabase(testDatabase.url);
    await migrateToLatest(database);
    await new SpaceStore().insertIfAbsent(database.db, { id: SPACE, api_token: 't', password_salt: 's', password_hash: 'h', revision: 0, created: 'now' });
    store = new RecordStore(database);
    // 2,000 contacts, of which account 1 has four (one deleted) and account 2 one; the rest have none.
    const contacts: StoredRecord[] = [];
    for (let n = 2_000; n >= 1; n -= 1) {
      const accountId = n % 500 === 0 ? id(1) : n === 7 ? id(2) : null;
      contacts.push({ id: id(10_000 + n), account_id: accountId, is_deleted: n === 1_000 } as StoredRecord);
    }
    await store.insertMany(database.db, SPACE, 'Contact', contacts);
  });
  afterAll(async () => {
    await database.close();
    await testDatabase.drop();
  });

  /** An executor that keeps the statements the store runs, as they reach the database. */
  const capturingStatements = () => {
    const statements: CompiledQuery[] = [];
    const capturing = new Proxy(database.db, {
      get: (target, property) =>
        property === 'executeQuery'
          ? (query: CompiledQuery) => (statements.push(query), target.executeQuery(query))
          : Reflect.get(target, property),
    });
    return { capturing, statements };
  };
  /** The database's plan for `query`, as text. */
  const planOf = async (query: CompiledQuery) => {
    const explain = kind === 'postgres' ? 'EXPLAIN ' : 'EXPLAIN QUERY PLAN ';
    const { rows: plan } = await database.db.executeQuery<Record<string, string>>({ ...query, sql: explain + query.sql });
    return plan.map((row) => row.detail ?? row['QUERY PLAN']).join('\n');
  };

  it("finds a record's live children by the foreign key's index, in id order", async () => {
    const { capturing, statements } = capturingStatements();
    const children = await store.findChildren(capturing, SPACE, 'Contact', 'account_id', [id(1), id(2)]);
    expect(children.map((child) => child.id)).toEqual([id(10_007), id(10_500), id(11_500), id(12_000)]);

    expect(await planOf(statements[0]!)).toContain('records_by_account_id');
  });

  it('finds the webhooks subscribed to some events in one statement, by the event index and then by id', async () => {
    // 300 webhooks, each subscribed to an event of its own; three more to Account.Create (the third
    // also to Account.*, the second's subscription deleted), one to Account.* alone.
    const webhook = (n: number) => ({ id: id(20_000 + n), url: `http://127.0.0.1/${n}`, is_deleted: false }) as StoredRecord;
    const subscription = (n: number, webhookNumber: number, event: string, deleted = false) =>
      ({ id: id(30_000 + n), webhook_id: id(20_000 + webhookNumber), event, is_deleted: deleted }) as StoredRecord;
    await store.insertMany(database.db, SPACE, 'Webhook', Array.from({ length: 304 }, (_, n) => webhook(n)));
    await store.insertMany(database.db, SPACE, 'WebhookEvent', [
      ...Array.from({ length: 300 }, (_, n) => subscription(n, n, `Contact.Event${n}`)),
      subscription(300, 300, 'Account.Create'), subscription(301, 301, 'Account.Create', true),
      subscription(302, 302, 'Account.Create'), subscription(303, 302, 'Account.*'), subscription(304, 303, 'Account.*'),
    ]);
    if (kind === 'postgres') await sql`ANALYZE records`.execute(database.db);
    const { capturing, statements } = capturingStatements();
    const found = await store.findReferencedBy(capturing, SPACE, { entityName: 'WebhookEvent', field: 'event', values: ['Account.Create', 'Account.*'] }, 'webhook_id');
    expect(found.map((row) => [row.entity, row.data.id]).sort()).toEqual([['Webhook', id(20_300)], ['Webhook', id(20_302)], ['Webhook', id(20_303)]]);
    expect(found.find((row) => row.data.id === id(20_300))!.data.url).toBe('http://127.0.0.1/300');
    expect(statements).toHaveLength(1);

    const text = await planOf(statements[0]!);
    expect(text).toContain('records_by_event');
    expect(text).toMatch(kind === 'postgres' ? /Index Scan using records_pkey/ : /SEARCH records USING INDEX sqlite_autoindex_records_1 \(space_id=\? AND id=\?\)/);
  });

  it('keeps records without the field out of its index', async () => {
    const definition = kind === 'postgres'
      ? (await sql<{ definition: string }>`SELECT indexdef AS definition FROM pg_indexes WHERE indexname = 'records_by_account_id'`.execute(database.db)).rows[0]
      : (await sql<{ definition: string }>`SELECT sql AS definition FROM sqlite_master WHERE name = 'records_by_account_id'`.execute(database.db)).rows[0];
    expect(definition.definition).toMatch(/WHERE .*account_id.* IS NOT NULL/i);
  });
});
