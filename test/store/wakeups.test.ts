// PostgreSQL's wake-ups across processes: a write that enqueues deliveries notifies the listening
// workers at its commit, naming the webhooks (so that a worker with all of them at their cap need
// not claim), and a rollback notifies nobody. SQLite runs API and workers in one process.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase, type Database } from '../../src/store/database.js';
import { DeliveryQueue, type NewDelivery } from '../../src/store/delivery-queue.js';
import { migrateToLatest } from '../../src/store/migrate.js';
import { SpaceStore } from '../../src/store/space-store.js';
import { listenForDeliveries, type WakeupListener } from '../../src/store/wakeups.js';
import { createTestDatabase, type TestDatabase } from '../support/databases.js';

let sequence = 0;
const deliveryFor = (webhookId: string): NewDelivery => {
  sequence += 1;
  return {
    id: `wake-${sequence}`, space_id: 'wake_space', webhook_id: webhookId, operation_id: 'op', chunk_index: 0, events: '[]',
    item_count: 1, body: '[]', due_at: 1_000, created_at: 1_000, recordIds: [`record-${sequence}`], sequence,
  };
};

describe('wake-ups across processes (postgres)', () => {
  let testDatabase: TestDatabase;
  let database: Database;
  let listener: WakeupListener;
  const woken: (readonly string[] | undefined)[] = [];

  /** The wake-ups after the first `seen`, once there are `count` of them (at most 5 s). */
  const wakeUpsAfter = async (seen: number, count: number) => {
    const deadline = Date.now() + 5_000;
    while (woken.length < seen + count && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
    return woken.slice(seen);
  };

  beforeAll(async () => {
    testDatabase = await createTestDatabase('postgres');
    database = openDatabase(testDatabase.url);
    await migrateToLatest(database);
    await new SpaceStore().insertIfAbsent(database.db, { id: 'wake_space', api_token: 't', password_salt: 's', password_hash: 'h', revision: 0, created: 'now' });
    listener = listenForDeliveries(database, (webhookIds) => woken.push(webhookIds), (error) => {
      throw error;
    });
    // Once listening, it wakes the worker for whatever was enqueued while it was not.
    expect(await wakeUpsAfter(0, 1)).toEqual([undefined]);
  });
  afterAll(async () => {
    await listener.close();
    await database.close();
    await testDatabase.drop();
  });

  it("names a write's webhooks, each once, at its commit; a rollback wakes nobody", async () => {
    const queue = new DeliveryQueue(database);
    const seen = woken.length;
    await database.db.transaction().execute((trx) => queue.enqueue(trx, [deliveryFor('w-1'), deliveryFor('w-2'), deliveryFor('w-1')]));
    await database.db.transaction().execute(async (trx) => {
      await queue.enqueue(trx, [deliveryFor('w-3')]);
      throw new Error('rolled back');
    }).catch(() => undefined);
    await database.db.transaction().execute((trx) => queue.enqueue(trx, [deliveryFor('w-4')]));
    const [first, ...rest] = await wakeUpsAfter(seen, 2);
    expect([...first!].sort()).toEqual(['w-1', 'w-2']);
    expect(rest).toEqual([['w-4']]);
  });

  it('names none when a write enqueues for more webhooks than a notification can hold: every worker claims', async () => {
    const queue = new DeliveryQueue(database);
    const seen = woken.length;
    await database.db.transaction().execute((trx) => queue.enqueue(trx, Array.from({ length: 250 }, (_, n) => deliveryFor(`many-${n}`))));
    expect(await wakeUpsAfter(seen, 1)).toEqual([undefined]);
  });
});
