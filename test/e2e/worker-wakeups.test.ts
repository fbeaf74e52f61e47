// How the delivery worker answers "new deliveries are waiting": an idle worker claims at once, a
// stream of such wake-ups (one per API write under load) is claimed a few at a time, every few
// milliseconds, instead of one claim per write, and work only for a webhook at its cap waits for one
// of its attempts to end; as they end, its lane is refilled beyond the pool's free slots.
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { DeliveryWorker } from '../../src/delivery/worker.js';
import { Lanes } from '../../src/delivery/lanes.js';
import { ThreadedSender } from '../../src/delivery/threaded-sender.js';
import { HttpSender } from '../../src/delivery/sender.js';
import { TargetPolicy } from '../../src/domain/target-policy.js';
import { openDatabase, type Database } from '../../src/store/database.js';
import { DeliveryQueue } from '../../src/store/delivery-queue.js';
import { migrateToLatest } from '../../src/store/migrate.js';
import { RecordStore } from '../../src/store/record-store.js';
import { WebhookStatusStore } from '../../src/store/webhook-status.js';
import { TestApi } from '../support/api.js';
import { createTestDatabase, type TestDatabase } from '../support/databases.js';
import { Receiver } from '../support/receiver.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const nextTurn = () => new Promise((resolve) => setImmediate(resolve));
const breaker = { threshold: 5, cooldownMs: 30_000, maxCooldownMs: 3_600_000, warnAfterMs: 86_400_000, disableAfterMs: 259_200_000 };

describe('the delivery worker woken by new work', () => {
  let testDatabase: TestDatabase;
  let database: Database;
  let queue: DeliveryQueue;
  let sender: Lanes;
  let worker: DeliveryWorker;

  beforeAll(async () => {
    testDatabase = await createTestDatabase('sqlite');
    database = openDatabase(testDatabase.url);
    await migrateToLatest(database);
    const records = new RecordStore(database);
    queue = new DeliveryQueue(database);
    sender = new Lanes(new HttpSender(1_000, new TargetPolicy()));
    worker = new DeliveryWorker(
      { queue, records, sender, webhookStatus: new WebhookStatusStore(database, records) },
      // Polling once a minute: every claim here is one a wake-up asked for.
      { retryScheduleSeconds: [1], deliveryTimeoutMs: 1_000, userAgent: 'test', pollIntervalMs: 60_000, breaker },
    );
  });
  afterAll(async () => {
    await worker.stop();
    await sender.close();
    await database.close();
    await testDatabase.drop();
  });

  it('claims at once when idle, and a wake-up every millisecond for 100 ms at most every 5 ms', async () => {
    const claims = vi.spyOn(queue, 'claimDue');
    worker.start();
    await sleep(100);
    const idleClaims = claims.mock.calls.length;
    worker.wake();
    await nextTurn();
    expect(claims.mock.calls.length).toBe(idleClaims + 1);

    await sleep(100);
    const beforeStream = claims.mock.calls.length;
    const streamStarted = performance.now();
    while (performance.now() - streamStarted < 100) {
      worker.wake();
      await sleep(1);
    }
    await sleep(20);
    const streamClaims = claims.mock.calls.length - beforeStream;
    // One every 5 ms at most, from the first wake-up to the one after the last (one claim per
    // wake-up would be about 80 here).
    const elapsedMs = performance.now() - streamStarted;
    expect(streamClaims).toBeGreaterThan(0);
    expect(streamClaims).toBeLessThanOrEqual(Math.ceil(elapsedMs / 5) + 1);
  });
});

describe('the delivery worker with many deliveries for one webhook', () => {
  let api: TestApi;
  let receiver: Receiver;

  beforeAll(async () => {
    receiver = await Receiver.start();
    // No polling claim within a test: every claim here is one the worker was woken for.
    api = await TestApi.start('sqlite', { workers: true, workerPollIntervalMs: 30_000 });
  });
  afterAll(async () => {
    vi.restoreAllMocks();
    await api.close();
    await receiver.close();
  });

  it('claims nothing for it until one of its attempts ends, then sends the rest', async () => {
    const owner = (await api.first('Clients')).id;
    await api.create('Webhooks', { url: `${receiver.url}/capped`, events: ['Account.Create'] });
    // The first 32 (the worker's cap for one webhook in flight) take 3 s to answer, time enough for
    // the rest of the test; later ones answer at once. The next 96 (four times the cap in all) are
    // handed to the webhook's lane meanwhile, where they wait their turn.
    receiver.respond = (_request, index) => (index < 32 ? { status: 204, delayMs: 3_000 } : 204);
    // Handed to the sender: the worker counts each delivery as its webhook's before it sends it.
    const handedOver = vi.spyOn(ThreadedSender.prototype, 'send');
    const claimsBefore = vi.spyOn(DeliveryQueue.prototype, 'claimDue');
    for (let n = 0; n < 128; n++) await api.create('Accounts', { name: `capped ${n}`, owner_id: owner });
    await receiver.waitForRequests(32);
    await vi.waitFor(() => expect(handedOver).toHaveBeenCalledTimes(128), { timeout: 5_000 });
    // A wake-up those writes asked for may still be on its way to a claim: wait for a quiet 200 ms.
    for (let seen = -1, rounds = 0; claimsBefore.mock.calls.length !== seen && rounds < 20; rounds++) {
      seen = claimsBefore.mock.calls.length;
      await sleep(200);
    }
    handedOver.mockRestore();
    claimsBefore.mockRestore();

    const claims = vi.spyOn(DeliveryQueue.prototype, 'claimDue');
    for (let n = 128; n < 136; n++) await api.create('Accounts', { name: `capped ${n}`, owner_id: owner });
    await sleep(100);
    expect(claims).not.toHaveBeenCalled();
    expect(receiver.requests).toHaveLength(32);

    // The held attempts end: the waiting ones go out, their webhook has room again, and the eight
    // left go out too, each account once.
    await receiver.waitForRequests(136);
    expect(claims).toHaveBeenCalled();
    claims.mockRestore();
    expect(new Set(receiver.requests.map((request) => request.rawBody))).toHaveProperty('size', 136);
  });

  it('is woken when a webhook is enabled again, and refills its lane as its attempts end, beyond the slots the pool has free', async () => {
    receiver.reset();
    // Disabled while the products are created, so that their 300 deliveries fall due together.
    const webhook = await api.create('Webhooks', { url: `${receiver.url}/backlog`, events: ['Product.Create'], is_disabled: true });
    for (let n = 0; n < 300; n++) await api.create('Products', { name: `backlog ${n}` });
    // The worker has claimed what these writes woke it for (nothing: held) and sleeps: enabling the
    // webhook must wake it.
    await sleep(100);
    // The first 32 (one webhook's attempts in flight at most) answer after 300 ms, the 32 that waited
    // behind them in its lane after 2 s, the rest at once.
    receiver.respond = (_request, index) => (index < 32 ? { status: 204, delayMs: 300 } : index < 64 ? { status: 204, delayMs: 2_000 } : 204);
    const claims = vi.spyOn(DeliveryQueue.prototype, 'claimDue');
    await api.patch(`entities/Webhooks/${webhook.id}`, { is_disabled: false });
    await receiver.waitForRequests(64);
    // The first claim took the pool's 64 (32 in flight, 32 in the lane). Once the first 32 ended, the
    // lane was refilled to four times the cap (32 in flight, 96 waiting), not only by the 32 slots
    // the pool had free: 160 handed over in all while the second 32 are in flight.
    const handedOver = async () => (await Promise.all(claims.mock.results.map((result) => result.value))).flatMap((claim) => claim.rows).filter((row) => row.webhook_id === webhook.id);
    await vi.waitFor(async () => expect(await handedOver()).toHaveLength(160), { timeout: 1_500 });
    claims.mockRestore();
    expect(receiver.requests).toHaveLength(64);
    await receiver.waitForRequests(300);
    await api.deliveriesSettled(5_000);
    expect(new Set(receiver.requests.map((request) => request.rawBody))).toHaveProperty('size', 300);
  });
});
