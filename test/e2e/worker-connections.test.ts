// On PostgreSQL a process that serves the API and delivers gives its worker connections of its own:
// API requests holding every pooled connection (writes waiting for their space's turn, under load)
// do not hold up deliveries.
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase, type Database } from '../../src/store/database.js';
import { DeliveryQueue } from '../../src/store/delivery-queue.js';
import { SPACE, TestApi } from '../support/api.js';
import { Receiver } from '../support/receiver.js';

describe('the delivery worker beside a busy API (postgres)', () => {
  let api: TestApi;
  let receiver: Receiver;
  let other: Database;

  beforeAll(async () => {
    receiver = await Receiver.start();
    api = await TestApi.start('postgres', { workers: true });
    other = openDatabase(api.tidings.database.url);
  });
  afterAll(async () => {
    await other.close();
    await api.close();
    await receiver.close();
  });

  it('delivers while every connection of the API is busy', async () => {
    const webhook = await api.create('Webhooks', { url: `${receiver.url}/busy`, events: ['Account.Create'] });
    // The API's 20 connections, each held for 4 s.
    const busy = Array.from({ length: 20 }, () => sql`SELECT pg_sleep(4)`.execute(api.tidings.database.db));
    await new Promise((resolve) => setTimeout(resolve, 200));
    const enqueuedAt = Date.now();
    const body = JSON.stringify([{ id: 'x', event: 'Account.Create' }]);
    await new DeliveryQueue(other).enqueue(other.db, [{
      id: '00000000-0000-4000-8000-00000000b05e', space_id: SPACE, webhook_id: webhook.id, operation_id: 'busy', chunk_index: 0,
      events: '["Account.Create"]', item_count: 1, body, due_at: enqueuedAt, created_at: enqueuedAt, recordIds: ['busy-record'], sequence: 1,
    }]);
    await receiver.waitForRequests(1, 3_000);
    expect(Date.now() - enqueuedAt).toBeLessThan(3_000);
    await Promise.all(busy);
  });
});
