// A webhook's run of failures is counted once per failure even when several worker processes record
// them at the same moment: each change reads the count the previous one wrote.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase, type Database } from '../../src/store/database.js';
import { migrateToLatest } from '../../src/store/migrate.js';
import { RecordStore } from '../../src/store/record-store.js';
import { SpaceStore } from '../../src/store/space-store.js';
import { healthOf, WebhookStatusStore } from '../../src/store/webhook-status.js';
import { createTestDatabase, databaseKinds, type TestDatabase } from '../support/databases.js';

const SPACE = 'health_space';
const breaker = { threshold: 5, cooldownMs: 60_000, maxCooldownMs: 3_600_000, warnAfterMs: 86_400_000, disableAfterMs: 5 * 86_400_000 };

describe.each(databaseKinds)('webhook health across worker processes (%s)', (kind) => {
  let testDatabase: TestDatabase;
  // PostgreSQL: two handles on one database, as two worker processes have. SQLite serves one process
  // (two handles in one thread would wait on each other's write lock): one handle, shared.
  let first: Database;
  let second: Database;

  beforeAll(async () => {
    testDatabase = await createTestDatabase(kind);
    first = openDatabase(testDatabase.url);
    await migrateToLatest(first);
    second = kind === 'postgres' ? openDatabase(testDatabase.url) : first;
    await new SpaceStore().insertIfAbsent(first.db, { id: SPACE, api_token: 't', password_salt: 's', password_hash: 'h', revision: 0, created: 'now' });
  });
  afterAll(async () => {
    await first.close();
    if (second !== first) await second.close();
    await testDatabase.drop();
  });

  it('counts every failure when two processes record them at once, and shows the open breaker on the webhook', async () => {
    const webhookId = '0a1b2c3d-0000-4000-8000-000000000001';
    await new RecordStore(first).insertMany(first.db, SPACE, 'Webhook', [{ id: webhookId, url: 'https://example.com/hook', is_disabled: false, revision: 0 }]);
    const stores = [first, second].map((database) => new WebhookStatusStore(database, new RecordStore(database)));
    const now = 1_700_000_000_000;
    await Promise.all(stores.flatMap((store) => Array.from({ length: 10 }, (_, index) => store.recordFailure(SPACE, webhookId, now + index, breaker))));

    const health = (await healthOf(first.db, [webhookId])).get(webhookId);
    expect(health?.consecutiveFailures).toBe(20);
    const [webhook] = await new RecordStore(first).findManyByIds(first.db, SPACE, [webhookId]);
    expect(webhook.data.health_state).toBe('open');

    await stores[1].recordSuccess(SPACE, webhookId, now + 100);
    expect((await healthOf(first.db, [webhookId])).has(webhookId)).toBe(false);
    const [healed] = await new RecordStore(first).findManyByIds(first.db, SPACE, [webhookId]);
    expect(healed.data.health_state).toBe('healthy');
  });
});
